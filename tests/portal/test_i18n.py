"""Every text in both languages: the catalogues have the same keys, every key a template
or the code names exists, and no template carries text of its own (it all goes through
``t()``)."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from portal.web.i18n import LANGUAGES, Translator, catalogue

PACKAGE = Path(str(resources.files("portal")))
TEMPLATES = sorted((PACKAGE / "templates").rglob("*.html"))
SOURCES = sorted(PACKAGE.rglob("*.py"))
# Literal keys: t("a.b"), t('a.b'), and "a.b" strings in Python that name catalogue keys.
TEMPLATE_KEY = re.compile(r"""\bt\(\s*["']([a-z0-9_.-]+)["']""")
PYTHON_KEY = re.compile(r"""["']((?:nav|error|flash|problem|form)\.[a-z0-9_.-]+)["']""")
# What may stand in a template outside tags and expressions: punctuation and symbols.
ALLOWED_TEXT = re.compile(r"^[\s|:,.;()\[\]/+#&\u00b7\u203a\u00d7\u2013-]*$")
TEXT_ATTRIBUTES = re.compile(r"""\b(aria-label|title|alt|placeholder)=["']([^"']*)["']""")


def test_both_languages_have_the_same_keys() -> None:
    nl, en = catalogue("nl"), catalogue("en")
    assert set(nl) - set(en) == set(), "keys only in Dutch"
    assert set(en) - set(nl) == set(), "keys only in English"
    assert LANGUAGES == ("nl", "en")
    for key in nl:
        assert nl[key].strip(), key
        assert en[key].strip(), key
        # The same placeholders in both.
        assert set(re.findall(r"\{(\w+)\}", nl[key])) == set(re.findall(r"\{(\w+)\}", en[key])), key


def test_every_key_named_in_templates_and_code_exists() -> None:
    keys = set(catalogue("nl"))
    named: set[str] = set()
    for path in TEMPLATES:
        named |= set(TEMPLATE_KEY.findall(path.read_text("utf-8")))
    for path in SOURCES:
        named |= {k for k in PYTHON_KEY.findall(path.read_text("utf-8")) if not k.endswith(".")}
    # Names made from a prefix and a value (t("stage." ~ stage)) are checked by the pages'
    # tests; the literal ones here.
    missing = sorted(k for k in named if k not in keys and not k.endswith((".", ".html", ".py")))
    assert missing == []


def strip_template(source: str) -> str:
    source = re.sub(r"\{#.*?#\}", " ", source, flags=re.S)
    source = re.sub(r"\{%.*?%\}", " ", source, flags=re.S)
    source = re.sub(r"\{\{.*?\}\}", " ", source, flags=re.S)
    source = re.sub(r"<(script|style)\b.*?</\1>", " ", source, flags=re.S)
    source = re.sub(r"<!DOCTYPE[^>]*>", " ", source)
    return source


def test_templates_have_no_text_of_their_own() -> None:
    offenders = []
    for path in TEMPLATES:
        source = strip_template(path.read_text("utf-8"))
        for name, value in TEXT_ATTRIBUTES.findall(source):
            if value.strip():
                offenders.append(f"{path.name}: {name}={value!r}")
        text = re.sub(r"<[^>]*>", " ", source)
        for chunk in re.split(r"\s{2,}|\n", text):
            if chunk.strip() and not ALLOWED_TEXT.match(chunk):
                offenders.append(f"{path.name}: {chunk.strip()!r}")
    assert offenders == []


def test_the_scan_catches_untranslated_text() -> None:
    source = strip_template('<p>{{ t("a.b") }}</p><p>Hallo</p><a title="Open">{{ x }}</a>')
    text = re.sub(r"<[^>]*>", " ", source)
    assert "Hallo" in text
    assert TEXT_ATTRIBUTES.findall(source) == [("title", "Open")]


def test_translator_fills_placeholders_and_shows_unknown_keys() -> None:
    nl, en = Translator("nl"), Translator("en")
    assert nl("pager.position", page=2, last=5) == "Pagina 2 van 5"
    assert en("pager.position", page=2, last=5) == "Page 2 of 5"
    assert nl("no.such.key") == "no.such.key"
    assert en.value("stage", "pilot") == "Pilot"
    assert en.value("value", "connectivity") == "connectivity"
