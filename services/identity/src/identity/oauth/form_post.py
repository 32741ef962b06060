"""Authorization responses to the client (OAuth 2.0 Multiple Response Types §2.1 and the
Form Post Response Mode): in the redirect's query, or posted by the browser from an
auto-submitting form (``response_mode=form_post``)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from html import escape
from typing import Any
from urllib.parse import parse_qsl

from fastapi.responses import HTMLResponse, RedirectResponse, Response

RESPONSE_MODES = ("query", "form_post")
_SCRIPT = "document.forms[0].submit();"
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()


def to_client(location: str, params: Mapping[str, Any]) -> Response:
    """The answer that takes the browser to the client with ``location``'s parameters:
    a redirect, or for ``response_mode=form_post`` a page that posts them.

    ``location`` is ``params["redirect_uri"]`` with the response parameters added after
    it (``common.add_query``), so they are exactly what follows the redirect URI."""
    redirect_uri = str(params.get("redirect_uri") or "")
    if params.get("response_mode") != "form_post" or not location.startswith(redirect_uri):
        return RedirectResponse(location, status_code=303)
    fields = parse_qsl(location[len(redirect_uri) + 1 :], keep_blank_values=True)
    inputs = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in fields
    )
    html = (
        '<!DOCTYPE html><html lang="nl"><head><meta charset="utf-8">'
        "<title>Doorsturen / Continue</title></head><body>"
        f'<form method="post" action="{escape(redirect_uri)}">{inputs}'
        '<noscript><button type="submit">Verder / Continue</button></noscript></form>'
        f"<script>{_SCRIPT}</script></body></html>"
    )
    headers = {
        "Cache-Control": "no-store",
        "Content-Security-Policy": (
            f"default-src 'none'; script-src 'sha256-{_SCRIPT_HASH}'; form-action http: https:;"
            " frame-ancestors 'none'; base-uri 'none'"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
    return HTMLResponse(html, headers=headers)
