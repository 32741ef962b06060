"""Every problem type the portal's APIs name on purpose (a ``slug=`` given where a problem is
raised) has a sentence in the portal's languages, and the portal keeps no sentence for a type
no service raises. Without one, a Dutch reader gets the API's English detail."""

from __future__ import annotations

import ast
from importlib import resources
from pathlib import Path

from portal.web.i18n import LANGUAGES, catalogue

# The services the portal calls, and servicekit, which raises on their behalf (Idempotency-Key).
PACKAGES = ("registry", "procurement", "servicekit")
# Met by the portal otherwise than by a sentence: the step-up to a higher level of assurance.
NOT_SAID = {"insufficient-assurance"}
SLUG_ARGUMENTS = ("slug", "closed_slug")


def raised_slugs(package: str) -> dict[str, str]:
    """Each string given as ``slug=`` or ``closed_slug=`` in the package's code, with where."""
    root = Path(str(resources.files(package)))
    found: dict[str, str] = {}
    for path in sorted(root.rglob("*.py")):
        if "migrations" in path.parts or "seed" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.keyword) or node.arg not in SLUG_ARGUMENTS:
                continue
            if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                found[node.value.value] = f"{path.relative_to(root.parent)}:{node.lineno}"
    return found


def all_raised() -> dict[str, str]:
    found: dict[str, str] = {}
    for package in PACKAGES:
        found.update(raised_slugs(package))
    return found


def test_the_scan_finds_the_problem_types_it_should() -> None:
    # A few it must find, from each package: the scan itself works.
    found = all_raised()
    assert {"overlapping-usage", "already-enrolled", "idempotency-in-flight"} <= set(found)


def test_every_raised_problem_type_has_a_sentence_in_every_language() -> None:
    raised = all_raised()
    for lang in LANGUAGES:
        texts = catalogue(lang)
        missing = {
            slug: where
            for slug, where in raised.items()
            if slug not in NOT_SAID and f"problem_type.{slug}" not in texts
        }
        assert missing == {}, f"no {lang} sentence for these problem types"


def test_no_sentence_for_a_problem_type_no_service_raises() -> None:
    raised = set(all_raised())
    for lang in LANGUAGES:
        said = {key.split(".", 1)[1] for key in catalogue(lang) if key.startswith("problem_type.")}
        assert said - raised == set(), f"{lang} sentences for problem types nobody raises"
