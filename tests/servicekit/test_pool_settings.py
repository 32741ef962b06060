"""Pool sizes come from settings (`<PREFIX>DB_POOL_SIZE`, `<PREFIX>DB_MAX_OVERFLOW`), over
each service's own default, so the deployment can fit every pod's connections into the
connection pooler (deploy/README.md, "Connections")."""

from __future__ import annotations

import pytest

from identity.config import Settings as IdentitySettings
from identity.main import create_app as identity_app
from procurement.config import Settings as ProcurementSettings
from procurement.main import create_app as procurement_app
from registry.config import Settings as RegistrySettings
from registry.main import create_app as registry_app
from servicekit import db
from servicekit.settings import ServiceSettings

# Never connected to: engines connect lazily.
PG = "postgresql+asyncpg://nobody@127.0.0.1:1/none"


def test_pool_options_keep_the_defaults_unless_set() -> None:
    assert ServiceSettings().pool_options(pool_size=32, max_overflow=16) == {
        "pool_size": 32,
        "max_overflow": 16,
    }
    assert ServiceSettings(db_pool_size=5, db_max_overflow=2).pool_options(pool_timeout=10) == {
        "pool_size": 5,
        "max_overflow": 2,
        "pool_timeout": 10,
    }


@pytest.mark.parametrize(
    ("prefix", "settings_class", "factory"),
    [
        ("REGISTRY_", RegistrySettings, registry_app),
        ("IDENTITY_", IdentitySettings, identity_app),
        ("PROCUREMENT_", ProcurementSettings, procurement_app),
    ],
)
def test_each_service_sizes_its_pool_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, prefix: str, settings_class: type, factory: object
) -> None:
    seen: list[dict[str, object]] = []
    real = db.create_engine

    def recording(url: str, **kwargs: object) -> object:
        seen.append(kwargs)
        return real(url, **kwargs)

    monkeypatch.setattr(db, "create_engine", recording)
    monkeypatch.setenv(f"{prefix}DB_POOL_SIZE", "7")
    monkeypatch.setenv(f"{prefix}DB_MAX_OVERFLOW", "3")
    settings = settings_class(environment="test", database_url=PG)
    app = factory(settings)  # type: ignore[operator]
    assert app.state.database.engine.pool.size() == 7
    assert [(kw["pool_size"], kw["max_overflow"]) for kw in seen] == [(7, 3)]
