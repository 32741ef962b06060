"""Reading protocol parameters: urlencoded bodies and query strings, repeated
parameters refused (RFC 6749 §3.1), and the protocol's cache headers."""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import Request

from ..clients.models import Client
from ..context import identity_of
from ..keys.service import JWKS_MAX_AGE_SECONDS
from .errors import OAuthError, PageError

FORM = "application/x-www-form-urlencoded"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
CACHEABLE = {"Cache-Control": f"public, max-age={JWKS_MAX_AGE_SECONDS}"}


async def read_form(request: Request) -> dict[str, str]:
    """The urlencoded body, parsed with the standard library (cheaper than the multipart
    machinery on the token endpoint's hot path)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != FORM:
        raise OAuthError("invalid_request", f"The body must be {FORM}.")
    try:
        text = (await request.body()).decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=100)
    except (UnicodeDecodeError, ValueError):
        raise OAuthError("invalid_request", "The body is not valid form data.") from None
    out: dict[str, str] = {}
    for key, value in pairs:
        if key in out:
            raise OAuthError("invalid_request", f"Parameter {key} is repeated.")
        out[key] = value
    return out


async def client_form(request: Request, path: str) -> tuple[Client, dict[str, str]]:
    """The form a client posted to the protocol endpoint at ``path``, and that client,
    authenticated (``invalid_client`` otherwise) with the endpoint's public URL as a client
    assertion's audience."""
    p = identity_of(request)
    form = await read_form(request)
    authorization = request.headers.get("authorization")
    return await p.client_auth.authenticate(form, authorization, p.url(path)), form


def query_dict(request: Request) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        if key in out:
            raise OAuthError("invalid_request", f"Parameter {key} is repeated.")
        out[key] = value
    return out


async def parameters(request: Request) -> dict[str, str]:
    """A GET's query or a POST's form (authorize, end-session): endpoints answering with a
    page, so an unreadable request is a :class:`PageError`."""
    try:
        return await read_form(request) if request.method == "POST" else query_dict(request)
    except OAuthError as exc:
        raise PageError("Ongeldige aanvraag.", exc.description) from None


def bearer(request: Request, form: dict[str, str] | None) -> str:
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    if form and form.get("access_token"):
        return form["access_token"]
    raise OAuthError("invalid_token", "A bearer access token is required.")
