"""Redirect URIs: which may be registered, which match at authorization time, and the
browser origins they stand for (CORS at the OP's endpoints).

- https, or http only to a loopback IP literal (``127.0.0.1``, ``[::1]``; RFC 8252 §7.3
  and §8.3) — never ``localhost``, whose name resolution the OP cannot vouch for. In
  production only public (native) clients may register loopback redirects; every other
  redirect is https.
- Absolute, no fragment, no user information; at most 2,000 characters of printable
  ASCII (no spaces or control characters) and no wildcard: redirects match exactly, so a
  ``*`` could only ever mislead.
- URIs the OP fetches itself (a client's ``jwksUri`` and ``requestUris``) are https to a
  named public host only: an IP literal, ``localhost`` or an internal name would let a
  client make the OP request its own network (SSRF).
- At authorization the redirect must equal a registered one exactly, except that a
  loopback redirect may name any port (RFC 8252 §7.3: native apps get an ephemeral one).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import SplitResult, urlsplit

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1"})
# Top-level labels of names that never lead to a public host (RFC 6761, RFC 6762, RFC 8375
# and the usual private ones).
PRIVATE_TLDS = frozenset(
    {"localhost", "local", "localdomain", "internal", "intranet", "lan", "home", "arpa", "invalid"}
)
PUBLIC_TLD = re.compile(r"^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")
MAX_URI_LENGTH = 2000
PRINTABLE_ASCII = re.compile(r"^[\x21-\x7e]*$")


def uri_text_problem(uri: str) -> str | None:
    """What is wrong with the characters of a registered URI, or None."""
    if len(uri) > MAX_URI_LENGTH:
        return f"must be at most {MAX_URI_LENGTH} characters"
    if not PRINTABLE_ASCII.match(uri):
        return "must be printable ASCII without spaces (percent-encode other characters)"
    if "*" in uri:
        return "must not contain a wildcard (*): URIs are matched exactly"
    return None


def _parsed(uri: str, schemes: tuple[str, ...]) -> tuple[SplitResult, str] | str:
    """The URI's parts and host when it is absolute, of one of ``schemes``, without user
    information or a fragment; else why not."""
    text = uri_text_problem(uri)
    if text:
        return text
    kind = "an absolute http(s) URI" if "http" in schemes else "an absolute https URI"
    try:
        parts = urlsplit(uri)
        host = parts.hostname
        parts.port  # noqa: B018 (raises ValueError for a bad port)
    except ValueError:
        return f"must be {kind}"
    if parts.scheme not in schemes or not parts.netloc or not host:
        return f"must be {kind}"
    if parts.fragment or "#" in uri:
        return "must not contain a fragment"
    if "@" in parts.netloc:
        return "must not contain user information"
    return parts, host


def redirect_uri_problem(uri: str, production: bool, native: bool) -> str | None:
    """Why ``uri`` cannot be registered as a (post-logout) redirect URI, or None."""
    parsed = _parsed(uri, ("https", "http"))
    if isinstance(parsed, str):
        return parsed
    parts, host = parsed
    if host == "localhost" or host.endswith(".localhost"):
        return "use the loopback IP literal 127.0.0.1 or [::1], not localhost (RFC 8252 §8.3)"
    if parts.scheme == "http":
        if host not in LOOPBACK_HOSTS:
            return "must use https (http only for the loopback IP literals 127.0.0.1 and [::1])"
        if production and not native:
            return "must use https in production (loopback redirects are for native apps)"
    return None


def fetched_uri_problem(uri: str) -> str | None:
    """Why the OP must not fetch ``uri`` (a client's jwks_uri, or a request_uri without its
    fragment), or None: https to a named public host, no user information, no fragment.
    Checked at registration and again before every fetch (rows registered earlier)."""
    parsed = _parsed(uri, ("https",))
    if isinstance(parsed, str):
        return parsed
    _parts, host = parsed
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return "must name a public host, not an IP address"
    labels = host.rstrip(".").split(".")
    if len(labels) < 2 or not PUBLIC_TLD.match(labels[-1]) or labels[-1] in PRIVATE_TLDS:
        return "must name a public host (a fully qualified domain name)"
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
