"""Turn upstream paths into public paths in what upstreams answer.

A service serves ``/v1/...`` and writes links as absolute paths (``/v1/facilities?page=2``)
or, rarely, absolute URLs of itself. Behind the gateway the same resource lives at
``/api/registry/v1/...``: ``Location``, ``Content-Location``, ``Link`` headers and the
``_links`` hrefs (and a problem's ``instance``) of JSON bodies are rewritten so clients
can follow them.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit


class PathRewriter:
    def __init__(self, upstream_url: str, upstream_prefix: str, public_prefix: str) -> None:
        self.upstream_origin = upstream_url.rstrip("/")
        self.upstream_prefix = upstream_prefix
        self.public_prefix = public_prefix

    def path(self, value: str) -> str:
        """Rewrite one path or URL; anything that is not the upstream's stays as it is."""
        if value.startswith(self.upstream_origin + "/"):
            value = value[len(self.upstream_origin) :]
        up = self.upstream_prefix
        if value.startswith(up):
            rest = value[len(up) :]
            if not rest or rest[0] in "/?#":
                return self.public_prefix + rest
        return value

    def link_header(self, value: str) -> str:
        """RFC 8288 ``Link: <uri>; rel=...`` values."""
        parts = value.split("<")
        for i in range(1, len(parts)):
            uri, sep, tail = parts[i].partition(">")
            if sep:
                parts[i] = self.path(uri) + sep + tail
        return "<".join(parts)

    def links(self, node: Any) -> bool:
        """Rewrite every ``_links`` href in a decoded JSON document, in place."""
        changed = False
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "_links":
                    changed |= self._rewrite_link_set(value)
                elif isinstance(value, dict | list):
                    changed |= self.links(value)
        elif isinstance(node, list):
            for item in node:
                if isinstance(item, dict | list):
                    changed |= self.links(item)
        return changed

    def _rewrite_link_set(self, links: Any) -> bool:
        changed = False
        if not isinstance(links, dict):
            return False
        for name, link in links.items():
            if isinstance(link, str):
                new = self.path(link)
                if new != link:
                    links[name] = new
                    changed = True
            elif isinstance(link, dict):
                changed |= self._rewrite_href(link)
            elif isinstance(link, list):
                for item in link:
                    if isinstance(item, dict):
                        changed |= self._rewrite_href(item)
        return changed

    def _rewrite_href(self, link: dict[str, Any]) -> bool:
        href = link.get("href")
        if isinstance(href, str):
            new = self.path(href)
            if new != href:
                link["href"] = new
                return True
        return False

    def json_body(self, body: bytes) -> bytes | None:
        """The rewritten body, or None when nothing needed to change."""
        if b'"_links"' not in body and b'"instance"' not in body:
            return None
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return None
        changed = self.links(doc)
        if isinstance(doc, dict) and isinstance(doc.get("instance"), str):
            new = self.path(doc["instance"])
            if new != doc["instance"]:
                doc["instance"] = new
                changed = True
        if not changed:
            return None
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def is_json(content_type: bytes) -> bool:
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (
        media.startswith(b"application/") and media.endswith(b"+json")
    )


def openapi_for_gateway(doc: dict[str, Any], public_prefix: str) -> dict[str, Any]:
    """The service's document with ``servers`` pointing at the gateway's public path,
    OAuth2 endpoints at the gateway's ``/auth/*`` (same origin as the portal, so Swagger
    UI's token requests pass its CSP, whatever address the service was configured with),
    and an authorization code flow next to the service's own flows, for the portal's
    log-in."""
    out = dict(doc)
    out["servers"] = [{"url": public_prefix, "description": "Through the Samen gateway"}]
    schemes = (out.get("components") or {}).get("securitySchemes") or {}
    for scheme in schemes.values():
        if not isinstance(scheme, dict) or scheme.get("type") != "oauth2":
            continue
        flows = scheme.get("flows")
        if not isinstance(flows, dict):
            continue
        scopes: dict[str, Any] = {}
        for flow in flows.values():
            if not isinstance(flow, dict):
                continue
            if isinstance(flow.get("scopes"), dict):
                scopes.update(flow["scopes"])
            for key in ("tokenUrl", "authorizationUrl", "refreshUrl"):
                value = flow.get(key)
                if isinstance(value, str):
                    path = urlsplit(value).path
                    if path.startswith("/auth/"):
                        flow[key] = path
        # The portal's log-in for people: the authorization code flow (with PKCE, as the
        # portal's public client) at the identity service behind this gateway.
        flows.setdefault(
            "authorizationCode",
            {
                "authorizationUrl": "/auth/authorize",
                "tokenUrl": "/auth/token",
                "scopes": {"openid": "Sign in (OpenID Connect)", **scopes},
            },
        )
    return out
