"""Security headers on every answer, and the form-token check on every POST."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from starlette.datastructures import FormData, MutableHeaders, UploadFile
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# No script at all, styles only from the portal itself (no inline style attributes),
# images from the portal or data: URIs (the vendored CSS's icons).
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


def add_security_headers(headers: MutableHeaders, *, https: bool, static: bool) -> None:
    """The headers every answer carries (kept where a page set its own)."""
    for key, value in HEADERS.items():
        headers.setdefault(key, value)
    if https:
        headers.setdefault("strict-transport-security", "max-age=31536000")
    if not static:
        # Pages can show a person's data: never kept by a shared cache.
        headers.setdefault("cache-control", "no-store")


class SecurityHeaders:
    def __init__(self, app: ASGIApp, https: bool) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                add_security_headers(MutableHeaders(scope=message), https=self.https, static=static)
            await send(message)

        await self.app(scope, receive, with_headers)


@dataclass(frozen=True)
class Upload:
    filename: str
    content: bytes


class CsrfFailed(Exception):
    """The form token is missing or wrong."""


async def _checked_form(request: Request) -> tuple[FormData, dict[str, str]]:
    form = await request.form()
    fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    session = request.state.session
    sent = fields.pop("csrf", "")
    if not session.exists or not sent or not secrets.compare_digest(sent, session.data.csrf):
        raise CsrfFailed
    request.state.form_fields = fields
    return form, fields


async def read_form(request: Request) -> dict[str, str]:
    """The submitted fields after the form-token check (synchroniser token kept in the
    server-side session). Kept on the request for the step-up handler."""
    _form, fields = await _checked_form(request)
    return fields


async def read_form_with_files(request: Request) -> tuple[dict[str, str], dict[str, Upload]]:
    """As :func:`read_form`, with the uploaded files of a multipart form by field name."""
    form, fields = await _checked_form(request)
    files = {
        k: Upload(v.filename or "", await v.read())
        for k, v in form.multi_items()
        if isinstance(v, UploadFile)
    }
    return fields, files
