"""Every failure becomes a page a person understands: 403, 404, a problem from an API,
"temporarily unavailable" when something behind the portal is down, and never a stack
trace. A missing log-in sends the person to log in; a missing level to log in again at
that level, with what they typed kept."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Match

from ..api import ApiProblem, ApiUnavailable, NotLoggedIn, StepUpRequired
from .access import Forbidden
from .forms import keep_pending
from .security import CsrfFailed, add_security_headers
from .templating import render

logger = logging.getLogger("portal")


def form_page(request: Request) -> str:
    """The page a POST was sent from: its own path when that is a page, else the page the
    action belongs to (``/enrollment/{id}/withdrawal`` is a button on ``/enrollment/{id}``)."""
    path = request.url.path
    as_get = {**request.scope, "method": "GET"}
    if any(route.matches(as_get)[0] == Match.FULL for route in request.app.routes):
        return path
    return path.rsplit("/", 1)[0] or "/"


def login_redirect(
    request: Request, acr: str | None = None, send_again: bool = False
) -> RedirectResponse:
    """To the log-in, coming back here afterwards (GET: the same page; POST: the page of
    its form). ``send_again``: say on return that nothing was sent yet."""
    if request.method == "GET":
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    else:
        target = form_page(request)
    query = {"next": target}
    if acr:
        query["acr"] = acr
    if send_again:
        query["sendAgain"] = "1"
    return RedirectResponse(f"/login?{urlencode(query)}", status_code=303)


def error_page(request: Request, status: int, detail: str = "") -> Response:
    known = status if status in (400, 403, 404, 405, 409, 503) else 500
    return render(
        request, "error.html", {"status": known, "detail": detail}, status=status if status else 500
    )


async def _not_logged_in(request: Request, _exc: Exception) -> Response:
    return login_redirect(request)


async def _step_up(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StepUpRequired)
    if request.method != "POST":
        return login_redirect(request, exc.acr)
    fields = getattr(request.state, "form_fields", None)
    if fields is not None and form_page(request) == request.url.path:
        keep_pending(request, fields)  # a form: shown again with what was typed
    return login_redirect(request, exc.acr, send_again=True)


async def _unavailable(request: Request, exc: Exception) -> Response:
    logger.warning("upstream unavailable on %s: %s", request.url.path, exc)
    response = error_page(request, 503)
    response.headers["Retry-After"] = "5"
    return response


async def _problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiProblem)
    if exc.status >= 500:
        logger.error("API answered %s on %s", exc.status, request.url.path)
        return error_page(request, 500)
    return error_page(request, exc.status, exc.detail if exc.status not in (403, 404) else "")


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error_page(request, exc.status_code)


async def _forbidden(request: Request, _exc: Exception) -> Response:
    return error_page(request, 403)


async def _csrf(request: Request, _exc: Exception) -> Response:
    return render(request, "error.html", {"status": 400, "detail": "", "csrf": True}, 400)


async def _unexpected(request: Request, exc: Exception) -> Response:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    response = error_page(request, 500)
    # Starlette answers an unhandled exception outside every middleware, so this page
    # gets the security headers here.
    https = request.app.state.settings.public_url.startswith("https://")
    add_security_headers(response.headers, https=https, static=False)
    return response


def install_error_pages(app: FastAPI) -> None:
    app.add_exception_handler(NotLoggedIn, _not_logged_in)
    app.add_exception_handler(StepUpRequired, _step_up)
    app.add_exception_handler(ApiUnavailable, _unavailable)
    app.add_exception_handler(ApiProblem, _problem)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(CsrfFailed, _csrf)
    app.add_exception_handler(Forbidden, _forbidden)
    app.add_exception_handler(Exception, _unexpected)
