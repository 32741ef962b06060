"""Every reason the services give in ``invalidParams`` is said in the page's language:
a walk over the services' source finds each literal reason (dicts with a "reason" key,
``reason=`` arguments, the helpers that take one, and module constants they name) and
checks that none falls back to the generic "not valid (<English reason>)" message. A new
reason without a translation fails here. Reasons built with f-strings are tried with a
sample value in their placeholders, so their fixed part must be covered by a pattern."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from portal.web.forms import human_reason
from portal.web.i18n import Translator

ROOT = Path(__file__).resolve().parents[2]
# Helpers that put their argument at this position into invalidParams' reason.
HELPERS = {"invalid": 1, "duplicate": 2, "file_problem": 0, "_bad": 1}
SAMPLE = "12"  # what an f-string's placeholders are tried with


def _strings(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            part.value if isinstance(part, ast.Constant) else SAMPLE for part in node.values
        )
    return None


def _reason_nodes(tree: ast.Module) -> list[ast.expr]:
    found: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            found += [
                value
                for key, value in zip(node.keys, node.values, strict=True)
                if isinstance(key, ast.Constant) and key.value == "reason"
            ]
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            index = HELPERS.get(name)
            if index is not None and len(node.args) > index:
                found.append(node.args[index])
            found += [kw.value for kw in node.keywords if kw.arg == "reason"]
    return found


def service_reasons() -> dict[str, str]:
    """Each literal reason in services/*/src, with where it is."""
    reasons: dict[str, str] = {}
    for path in sorted(ROOT.glob("services/*/src/**/*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assigned: dict[str, list[ast.expr]] = {}
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
            ):
                assigned.setdefault(node.targets[0].id, []).append(node.value)
        for node in _reason_nodes(tree):
            values = assigned.get(node.id, []) if isinstance(node, ast.Name) else [node]
            for value in values:
                if (text := _strings(value)) is not None:
                    reasons[text] = f"{path.relative_to(ROOT)}:{value.lineno}"
    return reasons


REASONS = service_reasons()


def test_the_walk_finds_the_services_reasons() -> None:
    assert len(REASONS) > 60
    for known in ("offering of another facility", "unknown column", "not a municipality"):
        assert known in REASONS
    assert f"not the vector's score ({SAMPLE})" in REASONS  # an f-string


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_no_service_reason_falls_back_to_the_generic_message(lang: str) -> None:
    t = Translator(lang)
    untranslated = [
        f"{reason!r} ({where})"
        for reason, where in sorted(REASONS.items())
        if human_reason(t, reason) == t("error.invalid_with", reason=reason)
    ]
    assert not untranslated, "\n".join(untranslated)


def test_reasons_keep_their_figures() -> None:
    nl, en = Translator("nl"), Translator("en")
    assert human_reason(nl, "not the vector's score (9.8)") == (
        "Deze score past niet bij de CVSS-vector; die geeft 9,8."
    )
    assert human_reason(nl, "longer than 20 years") == "Kies een periode van ten hoogste 20 jaar."
    decimals = "Decimal input should have no more than 2 decimal places"
    assert human_reason(nl, decimals) == "Gebruik ten hoogste 2 cijfers achter de komma."
    assert human_reason(en, decimals) == "Use at most 2 decimal places."
    assert human_reason(nl, "offering of another facility") == (
        "Dit aanbod hoort bij een andere voorziening."
    )
