"""Log-in, log-out and the language switch."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..web.i18n import COOKIE, LANGUAGES, language_of
from ..web.security import read_form
from ..web.templating import render, session_of
from . import service
from .oidc import IdentityUnavailable, LoginFailed, OidcClient

router = APIRouter()
logger = logging.getLogger("portal.auth")


def oidc_of(request: Request) -> OidcClient:
    client: OidcClient = request.app.state.oidc
    return client


@router.get("/login")
async def login(
    request: Request,
    next: str = "/",
    acr: str | None = None,
    send_again: Annotated[bool, Query(alias="sendAgain")] = False,
) -> Response:
    session = session_of(request)
    url = service.start_login(
        oidc_of(request), session, next, acr, language_of(request), send_again
    )
    return RedirectResponse(url, status_code=303)


@router.get("/login/callback")
async def callback(
    request: Request,
    state: str = "",
    code: str = "",
    error: str = "",
) -> Response:
    session = session_of(request)
    if error or not code:
        session.data.logins.pop(state, None)
        session.changed()
        # access_denied: the person cancelled, or their means did not reach the level.
        return render(request, "login_failed.html", {"reason": error or "no_code"}, 400)
    try:
        target = await service.finish_login(oidc_of(request), session, state, code)
    except LoginFailed as exc:
        logger.warning("log-in failed: %s", exc)
        return render(request, "login_failed.html", {"reason": "invalid"}, 400)
    except IdentityUnavailable:
        return render(request, "error.html", {"status": 503, "detail": ""}, 503)
    return RedirectResponse(target, status_code=303)


@router.post("/logout")
async def logout(request: Request) -> Response:
    await read_form(request)
    url = service.logout(oidc_of(request), session_of(request))
    return RedirectResponse(url, status_code=303)


@router.get("/logged-out")
async def logged_out(request: Request) -> Response:
    return render(request, "logged_out.html")


@router.get("/language")
async def language(request: Request, lang: str = "nl", next: str = "/") -> Response:
    """The language switch (a link, so it works without JavaScript); kept in a cookie."""
    response = RedirectResponse(service.safe_next(next), status_code=303)
    if lang in LANGUAGES:
        settings = request.app.state.settings
        response.set_cookie(
            COOKIE,
            lang,
            max_age=365 * 24 * 3600,
            httponly=True,
            samesite="lax",
            secure=settings.secure_cookies(),
        )
    return response
