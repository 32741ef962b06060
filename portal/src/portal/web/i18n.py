"""Texts in Dutch (default) and English: one catalogue per language (``i18n/<lang>.json``,
flat keys), the same keys in both (tested). Templates call ``t("key", name=...)``."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from starlette.requests import Request

LANGUAGES = ("nl", "en")
DEFAULT = "nl"
COOKIE = "samen_lang"


@cache
def catalogue(lang: str) -> dict[str, str]:
    text = resources.files("portal").joinpath("i18n", f"{lang}.json").read_text("utf-8")
    data: dict[str, str] = json.loads(text)
    return data


def language_of(request: Request) -> str:
    lang = request.cookies.get(COOKIE, DEFAULT)
    return lang if lang in LANGUAGES else DEFAULT


class Translator:
    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.texts = catalogue(lang)

    def __call__(self, key: str, **values: object) -> str:
        text = self.texts.get(key)
        if text is None:
            # A missing key is a bug the completeness test catches; show the key, not a 500.
            return key
        return text.format(**values) if values else text

    def value(self, prefix: str, value: str) -> str:
        """The text for a value from an API (``prefix.value``), or the value itself."""
        return self.texts.get(f"{prefix}.{value}", value)

    def has(self, key: str) -> bool:
        return key in self.texts
