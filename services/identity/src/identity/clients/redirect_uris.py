"""Redirect URIs: which may be registered, which match at authorization time, and the
browser origins they stand for (CORS at the OP's endpoints).

- https, or http only to a loopback IP literal (``127.0.0.1``, ``[::1]``; RFC 8252 §7.3
  and §8.3) — never ``localhost``, whose name resolution the OP cannot vouch for. In
  production only public (native) clients may register loopback redirects; every other
  redirect is https.
- Absolute, no fragment, no user information.
- At authorization the redirect must equal a registered one exactly, except that a
  loopback redirect may name any port (RFC 8252 §7.3: native apps get an ephemeral one).
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1"})


def redirect_uri_problem(uri: str, production: bool, native: bool) -> str | None:
    """Why ``uri`` cannot be registered as a (post-logout) redirect URI, or None."""
    try:
        parts = urlsplit(uri)
        host = parts.hostname
        parts.port  # noqa: B018 (raises ValueError for a bad port)
    except ValueError:
        return "must be an absolute http(s) URI"
    if parts.scheme not in ("https", "http") or not parts.netloc or not host:
        return "must be an absolute http(s) URI"
    if parts.fragment or "#" in uri:
        return "must not contain a fragment"
    if "@" in parts.netloc:
        return "must not contain user information"
    if host == "localhost" or host.endswith(".localhost"):
        return "use the loopback IP literal 127.0.0.1 or [::1], not localhost (RFC 8252 §8.3)"
    if parts.scheme == "http":
        if host not in LOOPBACK_HOSTS:
            return "must use https (http only for the loopback IP literals 127.0.0.1 and [::1])"
        if production and not native:
            return "must use https in production (loopback redirects are for native apps)"
    return None


def is_loopback(uri: str) -> bool:
    try:
        parts = urlsplit(uri)
        return parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS
    except ValueError:
        return False


def _without_port(uri: str) -> tuple[str, str, str, str, str]:
    parts = urlsplit(uri)
    return (parts.scheme, parts.hostname or "", parts.path, parts.query, parts.fragment)


def redirect_uri_registered(requested: str, registered: Iterable[str]) -> bool:
    """Exact match, or a loopback redirect that differs from a registered one in its port
    only (RFC 8252 §7.3)."""
    uris = registered if isinstance(registered, list | tuple | set | frozenset) else [*registered]
    if requested in uris:
        return True
    if not is_loopback(requested) or "@" in requested:
        return False
    try:
        wanted = _without_port(requested)
    except ValueError:
        return False
    return any(is_loopback(uri) and _without_port(uri) == wanted for uri in uris)


def origin_of(uri: str) -> str | None:
    """The web origin (scheme://host[:port]) of an http(s) URI, as a browser sends it in
    ``Origin``; None for anything else."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    default = 443 if parts.scheme == "https" else 80
    suffix = f":{port}" if port is not None and port != default else ""
    return f"{parts.scheme}://{host}{suffix}"
