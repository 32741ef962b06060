"""Server-rendered pages (Dutch and English), CSRF tokens and the browser cookies."""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from .common import keyed_hash, random_token
from .config import Settings

CSRF_COOKIE = "samen_csrf"

TEXT: dict[str, dict[str, str]] = {
    "nl": {
        "skip": "Naar de inhoud",
        "brand": "inloggen bij gemeentelijke diensten",
        "switch": "English",
        "footer": "Samen gebruikt alleen open standaarden. Inloggen is gratis.",
        "login_title": "Kies hoe u wilt inloggen",
        "login_intro": "U logt in bij {client}.",
        "required_level": "Deze dienst vraagt minimaal betrouwbaarheidsniveau",
        "step_up": "U bent al ingelogd op niveau {level}; dat is niet genoeg. Log opnieuw in.",
        "choose_means": "Inlogmiddel",
        "continue": "Verder",
        "none_offered": "Geen enkel inlogmiddel haalt het gevraagde niveau.",
        "not_offered_title": "Waarom sommige inlogmiddelen ontbreken",
        "not_offered_reason": "haalt hoogstens niveau {max}, deze dienst vraagt {required}.",
        "sim_title": "{means}-simulator (testomgeving)",
        "sim_intro": "Dit is geen echte inlogdienst. Kies een testpersoon en een niveau.",
        "sim_identity": "Testpersoon",
        "sim_level": "Betrouwbaarheidsniveau",
        "sim_login": "Inloggen",
        "cancel": "Annuleren",
        "error_title": "Er ging iets mis",
        "logged_out_title": "U bent uitgelogd",
        "logged_out": "U bent uitgelogd bij Samen. U kunt dit venster sluiten.",
        "logout_title": "Uitloggen bij Samen?",
        "logout_question": "Een website vraagt om u uit te loggen bij Samen. Wilt u uitloggen?",
        "logout_confirm": "Ja, uitloggen",
    },
    "en": {
        "skip": "Skip to content",
        "brand": "log in to municipal services",
        "switch": "Nederlands",
        "footer": "Samen uses open standards only. Logging in is free of charge.",
        "login_title": "Choose how to log in",
        "login_intro": "You are logging in to {client}.",
        "required_level": "This service requires at least the level of assurance",
        "step_up": "You are logged in at level {level}, which is not enough. Please log in again.",
        "choose_means": "Login means",
        "continue": "Continue",
        "none_offered": "No login means reaches the required level.",
        "not_offered_title": "Why some login means are missing",
        "not_offered_reason": "reaches at most level {max}; this service requires {required}.",
        "sim_title": "{means} simulator (test environment)",
        "sim_intro": "This is not a real login service. Choose a test person and a level.",
        "sim_identity": "Test person",
        "sim_level": "Level of assurance",
        "sim_login": "Log in",
        "cancel": "Cancel",
        "error_title": "Something went wrong",
        "logged_out_title": "You are logged out",
        "logged_out": "You are logged out of Samen. You may close this window.",
        "logout_title": "Log out of Samen?",
        "logout_question": "A website asks to log you out of Samen. Do you want to log out?",
        "logout_confirm": "Yes, log out",
    },
}

# Templates are compiled once and cached; they ship with the package, so no stat of the
# template files on every render (auto_reload off). Autoescaping stays on for HTML.
_env = Environment(
    loader=PackageLoader("identity", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "form-action 'self' http: https:; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def pick_lang(value: str | None, request: Request | None = None) -> str:
    if value in TEXT:
        return str(value)
    if request is not None:
        accept = request.headers.get("accept-language", "")
        if accept.lower().startswith("en"):
            return "en"
    return "nl"


def render(
    request: Request,
    template: str,
    lang: str,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    other = "en" if lang == "nl" else "nl"
    query = dict(request.query_params)
    other_url = None
    if request.method == "GET":
        query["lang"] = other
        other_url = f"{request.url.path}?{urlencode(query)}"
    html = _env.get_template(template).render(
        lang=lang, t=TEXT[lang], other_lang=other, other_lang_url=other_url, **context
    )
    return HTMLResponse(html, status_code=status_code, headers=dict(SECURITY_HEADERS))


def error_page(
    request: Request, message_nl: str, message_en: str, status_code: int = 400
) -> Response:
    lang = pick_lang(request.query_params.get("lang"), request)
    return render(
        request,
        "message.html",
        lang,
        status_code=status_code,
        title=TEXT[lang]["error_title"],
        heading=TEXT[lang]["error_title"],
        message=message_nl if lang == "nl" else message_en,
        is_error=True,
    )


def set_cookie(response: Response, settings: Settings, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/auth",
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
    )


def csrf_browser_token(request: Request) -> tuple[str, bool]:
    """The browser's CSRF cookie value (and whether it has to be set now)."""
    existing = request.cookies.get(CSRF_COOKIE)
    if existing and 16 <= len(existing) <= 128:
        return existing, False
    return random_token(24), True


def csrf_token(settings: Settings, browser: str, purpose: str) -> str:
    """Form token bound to the browser cookie and to the page (double submit + HMAC)."""
    return keyed_hash(settings.secret, "csrf", browser, purpose)


def render_form(
    request: Request, settings: Settings, purpose: str, template: str, lang: str, **context: Any
) -> HTMLResponse:
    """A page with a form, its ``csrf`` token bound to this browser's CSRF cookie (set now
    when the browser has none) and to ``purpose``."""
    browser, fresh = csrf_browser_token(request)
    response = render(
        request, template, lang, csrf=csrf_token(settings, browser, purpose), **context
    )
    if fresh:
        set_cookie(response, settings, CSRF_COOKIE, browser, 3600)
    return response


def csrf_valid(settings: Settings, request: Request, submitted: str | None, purpose: str) -> bool:
    browser = request.cookies.get(CSRF_COOKIE)
    if not browser or not submitted:
        return False
    return hmac.compare_digest(csrf_token(settings, browser, purpose), submitted)
