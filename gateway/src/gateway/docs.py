"""The developer portal at ``/docs``: every service's OpenAPI document, Swagger UI and
ReDoc, from one origin.

Documents are fetched from the upstreams (``/v1/openapi.json``), cached briefly (the last
good copy is kept when an upstream is down) and served with ``servers`` pointing at the
gateway's public path, so try-it-out calls go through the gateway with a token. All
assets come from this process (no CDN); the pages run under a strict CSP with no inline
script.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from servicekit.errors import NotFound, ServiceUnavailable
from servicekit.openapi import DOCS_ASSETS, DOCS_CSP, redoc_html, swagger_html

from .exchange import Exchange, Headers, Send
from .respond import NO_RESOURCE, Responder
from .rewrite import openapi_for_gateway
from .upstream import Upstream

logger = logging.getLogger("gateway.docs")

STATIC = Path(__file__).parent / "static"
ASSETS: dict[str, tuple[Path, str]] = {
    **DOCS_ASSETS,
    "portal.css": (STATIC / "portal.css", "text/css"),
    "portal-swagger.js": (STATIC / "portal-swagger.js", "text/javascript"),
    "oauth2-redirect.js": (STATIC / "oauth2-redirect.js", "text/javascript"),
}
ASSET_PATH = "/docs/assets"
# ReDoc's side menu shows a logo from Redocly's CDN; the portal loads nothing from
# elsewhere (no third party learns who reads the docs), so it points at a local image.
REDOC_CDN_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
LOCAL_LOGO = ASSET_PATH.encode() + b"/favicon.png"
METHODS = ("get", "post", "put", "patch", "delete", "head", "options")
PAGE_HEADERS: Headers = [
    (b"content-security-policy", DOCS_CSP.encode()),
    (b"x-frame-options", b"DENY"),
]
HTML = (b"content-type", b"text/html; charset=utf-8")


@dataclass
class Service:
    name: str
    upstream: Upstream
    public_prefix: str


class DocsPortal:
    def __init__(
        self,
        services: list[Service],
        cache_seconds: float = 30.0,
        client_id: str = "samen-gateway-docs",
    ) -> None:
        self.services = {s.name: s for s in services}
        self.cache_seconds = cache_seconds
        self.client_id = client_id
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}
        self._asset_cache: dict[str, bytes] = {}

    async def handle(self, ex: Exchange, send: Send, respond: Responder) -> None:
        """Answer a request under ``/docs``."""
        ex.route_name = "docs"
        if ex.method not in ("GET", "HEAD"):
            await respond.not_allowed(ex, send, ["GET", "HEAD"])
            return
        parts = ex.path.strip("/").split("/")[1:]
        if len(parts) == 2 and parts[0] == "assets":
            asset = self.asset(parts[1])
            if asset is not None:
                data, media_type = asset
                headers = [
                    (b"content-type", media_type.encode()),
                    (b"cache-control", b"public, max-age=86400"),
                    *PAGE_HEADERS,
                ]
                await respond.send(ex, send, 200, headers, data)
                return
        elif parts[-1:] == ["openapi.json"] and len(parts) == 2 and parts[0] in self.services:
            await self._document(ex, send, respond, parts[0])
            return
        page = await self.page(parts)
        if page is None:
            await respond.problem(ex, send, NotFound(NO_RESOURCE))
            return
        await respond.send(ex, send, 200, [HTML, *PAGE_HEADERS], page.encode())

    async def page(self, parts: list[str]) -> str | None:
        """The HTML page at ``/docs/<parts>``, if there is one."""
        if not parts:
            return await self.index_html()
        if parts in (["oauth2-redirect"], ["oauth2-redirect.html"]):
            return self.oauth2_redirect_html()
        if parts[0] not in self.services:
            return None
        if len(parts) == 1:
            return self.swagger_html(parts[0])
        if parts[1:] == ["redoc"]:
            return self.redoc_html(parts[0])
        return None

    async def _document(self, ex: Exchange, send: Send, respond: Responder, name: str) -> None:
        doc = await self.document(name)
        if doc is None:
            error = ServiceUnavailable(
                f"The {name} service's OpenAPI document is unavailable.", retry_after=5
            )
            await respond.problem(ex, send, error)
            return
        headers = [(b"content-type", b"application/json"), (b"access-control-allow-origin", b"*")]
        await respond.send(ex, send, 200, headers, json.dumps(doc).encode())

    async def document(self, name: str) -> dict[str, Any] | None:
        """The service's document as the gateway serves it, or None when unavailable."""
        service = self.services[name]
        cached = self._cache.get(name)
        if cached and time.monotonic() - cached[0] < self.cache_seconds:
            return cached[1]
        try:
            async with service.upstream.session.get(
                f"{service.upstream.url}/v1/openapi.json",
                timeout=aiohttp.ClientTimeout(total=5.0),
                headers={"Accept": "application/json"},
            ) as response:
                if response.status != 200:
                    raise ValueError(f"status {response.status}")
                raw = await response.read()
            doc = openapi_for_gateway(json.loads(raw), service.public_prefix)
        except (aiohttp.ClientError, TimeoutError, ValueError, RuntimeError) as exc:
            logger.warning("OpenAPI of %s unavailable: %s", name, type(exc).__name__)
            return cached[1] if cached else None
        self._cache[name] = (time.monotonic(), doc)
        return doc

    async def index_html(self) -> str:
        names = list(self.services)
        docs = await asyncio.gather(*(self.document(n) for n in names))
        sections = [self._section(n, d) for n, d in zip(names, docs, strict=True)]
        return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Samen API portal</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="{ASSET_PATH}/portal.css">
<link rel="icon" href="{ASSET_PATH}/favicon.png"></head>
<body><header><h1>Samen API portal</h1>
<p>Every service of the platform, through the gateway. Calls need a bearer token from
<code>/auth/token</code> with the scopes each operation lists.</p></header>
<main>{"".join(sections)}</main></body></html>"""

    def _section(self, name: str, doc: dict[str, Any] | None) -> str:
        esc = html.escape
        prefix = self.services[name].public_prefix
        links = (
            f'<p class="links"><a href="/docs/{name}">Swagger UI</a>'
            f'<a href="/docs/{name}/redoc">ReDoc</a>'
            f'<a href="/docs/{name}/openapi.json">OpenAPI document</a></p>'
        )
        if doc is None:
            return (
                f'<section class="service" id="{name}"><h2>{esc(name)}</h2>'
                f'<p class="down">The {esc(name)} service is unavailable right now.</p>'
                f"{links}</section>"
            )
        info = doc.get("info", {})
        rows = []
        for path, item in (doc.get("paths") or {}).items():
            if not isinstance(item, dict):
                continue
            for method in METHODS:
                op = item.get(method)
                if isinstance(op, dict):
                    rows.append(
                        f'<tr class="operation"><td class="method">{method}</td>'
                        f"<td><code>{esc(prefix + path)}</code></td>"
                        f"<td>{esc(str(op.get('summary', '')))}</td></tr>"
                    )
        return (
            f'<section class="service" id="{name}">'
            f"<h2>{esc(str(info.get('title', name)))} "
            f"<small>{esc(str(info.get('version', '')))}</small></h2>"
            f"<p>{esc(str(info.get('description', '')))}</p>"
            f"<p>Base path: <code>{esc(prefix)}</code></p>{links}"
            f"<table><tbody>{''.join(rows)}</tbody></table></section>"
        )

    def swagger_html(self, name: str) -> str:
        """Swagger UI with the portal's log-in (authorization code + PKCE + nonce)."""
        esc = html.escape
        return swagger_html(
            f"Samen {esc(name)}",
            f"/docs/{esc(name)}/openapi.json",
            ASSET_PATH,
            start="portal-swagger.js",
            attributes=f' data-client-id="{esc(self.client_id)}"',
        )

    @staticmethod
    def oauth2_redirect_html() -> str:
        """Where the identity service sends the browser back after a portal log-in."""
        return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Samen API portal - signing in</title>
<link rel="icon" href="{ASSET_PATH}/favicon.png"></head>
<body><p id="status">Signing in; this window closes by itself.</p>
<script src="{ASSET_PATH}/oauth2-redirect.js"></script></body></html>"""

    def redoc_html(self, name: str) -> str:
        return redoc_html(f"Samen {name}", f"/docs/{name}/openapi.json", ASSET_PATH)

    def asset(self, filename: str) -> tuple[bytes, str] | None:
        entry = ASSETS.get(filename)
        if entry is None:
            return None
        path, media_type = entry
        data = self._asset_cache.get(filename)
        if data is None:
            data = path.read_bytes()
            if filename == "redoc.standalone.js":
                data = data.replace(REDOC_CDN_LOGO, LOCAL_LOGO)
            self._asset_cache[filename] = data
        return data, media_type
