"""migration_head reads the head revision without importing Alembic when it can."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from servicekit.migrations import migration_head, migration_revisions, script_location


def _alembic_head(location: str) -> str | None:
    config = Config()
    config.set_main_option("script_location", location)
    return ScriptDirectory.from_config(config).get_current_head()


@pytest.mark.parametrize(
    "package", ["identity.migrations", "registry.migrations", "procurement.migrations"]
)
def test_same_head_as_alembic(package: str) -> None:
    assert migration_head(package) == _alembic_head(script_location(package))


@pytest.mark.parametrize(
    "package",
    ["identity.migrations", "registry.migrations", "procurement.migrations", "portal.migrations"],
)
def test_older_revisions_as_alembic_lists_them(package: str) -> None:
    config = Config()
    config.set_main_option("script_location", script_location(package))
    scripts = ScriptDirectory.from_config(config)
    head, older = migration_revisions(package)
    assert head == scripts.get_current_head()
    assert older == {s.revision for s in scripts.walk_revisions()} - {head}


def _revision(folder: Path, name: str, revision: str, down: str) -> None:
    (folder / f"{name}.py").write_text(
        f'"""{name}"""\nrevision = "{revision}"\ndown_revision = {down}\n'
        "branch_labels = None\ndepends_on = None\n\n"
        "def upgrade() -> None:\n    pass\n\n\ndef downgrade() -> None:\n    pass\n"
    )


def _scripts(tmp_path: Path) -> Path:
    versions = tmp_path / "versions"
    versions.mkdir()
    (tmp_path / "script.py.mako").write_text("")
    return versions


def test_merge_revision(tmp_path: Path) -> None:
    versions = _scripts(tmp_path)
    _revision(versions, "a", "a1", "None")
    _revision(versions, "b", "b1", '"a1"')
    _revision(versions, "c", "c1", '"a1"')
    _revision(versions, "m", "m1", '("b1", "c1")')
    assert migration_head(str(tmp_path)) == "m1" == _alembic_head(str(tmp_path))
    assert migration_revisions(str(tmp_path))[1] == {"a1", "b1", "c1"}


def test_several_heads_left_to_alembic(tmp_path: Path) -> None:
    versions = _scripts(tmp_path)
    _revision(versions, "a", "a1", "None")
    _revision(versions, "b", "b1", '"a1"')
    _revision(versions, "c", "c1", '"a1"')
    with pytest.raises(Exception, match="head"):
        migration_head(str(tmp_path))


def test_serving_app_does_not_import_alembic() -> None:
    code = (
        "import sys\n"
        "from servicekit.migrations import migration_head\n"
        "assert migration_head('identity.migrations')\n"
        "assert not any(m.startswith('alembic') for m in sys.modules), 'alembic imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
