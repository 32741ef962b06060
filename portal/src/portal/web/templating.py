"""Jinja2 rendering with the context every page has: texts, language, the person,
the form token, navigation and messages."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from ..sessions.service import Session
from .i18n import Translator, language_of
from .navigation import menus

ENV = Environment(
    loader=PackageLoader("portal", "templates"),
    autoescape=select_autoescape(["html", "svg"]),
    undefined=StrictUndefined,
    extensions=["jinja2.ext.do"],
    trim_blocks=True,
    lstrip_blocks=True,
)


def session_of(request: Request) -> Session:
    session: Session = request.state.session
    return session


# The APIs answer in UTC; people read the time on Dutch clocks.
LOCAL_TIME = ZoneInfo("Europe/Amsterdam")


def format_date(value: Any, lang: str) -> str:
    """ISO dates as people read them: 31-12-2027 (nl) or 31 Dec 2027 (en); a moment in
    Dutch local time."""
    if not value:
        return ""
    if isinstance(value, str):
        try:
            value = (
                datetime.fromisoformat(value.replace("Z", "+00:00"))
                if "T" in value
                else date.fromisoformat(value)
            )
        except ValueError:
            return value
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(LOCAL_TIME)
        return (
            value.strftime("%d-%m-%Y %H:%M") if lang == "nl" else value.strftime("%d %b %Y %H:%M")
        )
    if isinstance(value, date):
        return value.strftime("%d-%m-%Y") if lang == "nl" else value.strftime("%d %b %Y")
    return str(value)


# Digit grouping and decimal mark as each language writes them: 1.234.567,50 / 1,234,567.50.
NL_MARKS = str.maketrans(",.", ".,")


def format_number(value: Any, lang: str) -> str:
    """An amount or a count as people read it in their language: whole numbers without
    decimals, others with two (euro amounts)."""
    if value is None or value == "":
        return ""
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    decimals = 0 if number == number.to_integral_value() else 2
    text = f"{number:,.{decimals}f}"
    return text.translate(NL_MARKS) if lang == "nl" else text


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    lang = language_of(request)
    t = Translator(lang)
    session = session_of(request)
    flash = list(session.data.flash)
    if flash:
        session.data.flash.clear()
        session.changed()
    path = request.url.path
    full = path + (f"?{request.url.query}" if request.url.query else "")
    values = {
        "t": t,
        "lang": lang,
        "other_lang": "en" if lang == "nl" else "nl",
        "person": session.data.person,
        "csrf_token": session.csrf_token,
        "menus": menus(session, path),
        "path": path,
        "here": quote(full, safe=""),
        "flash": flash,
        "d": lambda value: format_date(value, lang),
        "n": lambda value: format_number(value, lang),
        **(context or {}),
    }
    page = ENV.get_template(template)
    html = page.render(values)
    # A form's error summary stands above its fields and names each one by the label the
    # fields record as they are rendered: a page showing errors is rendered once more.
    if any(
        getattr(value, "errors", None) and hasattr(value, "labels") for value in values.values()
    ):
        html = page.render(values)
    return HTMLResponse(html, status_code=status)
