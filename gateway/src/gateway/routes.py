"""The gateway's route table: which upstream serves a public path, and what it needs.

Every public path is matched against an explicit table; nothing is proxied by accident.
Per route, rules (first match wins) name the scope a request needs:

| public prefix            | upstream    | methods                     | needs                       |
|--------------------------|-------------|-----------------------------|-----------------------------|
| /api/*/v1/openapi.json, /docs, /redoc, /docs-assets/* | each | GET HEAD | public       |
| /api/registry/v1         | registry    |                             |                             |
|   the public catalogue (PUBLIC_REGISTRY) | | GET HEAD OPTIONS      | nothing; a sent token is verified |
|   everything else        |             | GET HEAD OPTIONS            | registry:read               |
|   /vulnerabilities/{id}/exposures, /organisations/{id}/exposures | | GET HEAD OPTIONS | registry:exposure |
|                          |             | POST PUT PATCH DELETE       | registry:write              |
| /api/procurement/v1      | procurement |                             |                             |
|   /tenders[/{id}[/lots[/{id}]]] | | GET HEAD OPTIONS             | nothing; a sent token is verified |
|   everything else        |             | GET HEAD OPTIONS            | procurement:read            |
|   /tenders/{id}/enrollments[/...] | | POST PUT PATCH DELETE       | procurement:enroll          |
|   everything else        |             | POST PUT PATCH DELETE       | procurement:manage          |
| /api/identity/v1         | identity    | any                         | a valid token if one is sent; identity checks scopes (identity:admin) |
| /auth, /.well-known      | identity    | any                         | public (OIDC endpoints authenticate clients themselves) |
| everything else (not under RESERVED) | portal | any                    | public (the portal has its own log-in) |
|   /static/*, /favicon.ico (PORTAL_ASSETS) | | GET HEAD               | public, not rate limited    |

Services verify the token and scopes again (defence in depth), and decide what an
anonymous caller of a public read sees (procurement: published tenders only). Contract
details (usages' contract members, radar, costs, notice alerts) pass here with
registry:read, because a municipality's own staff read their own with it; the registry
shows other municipalities' only to the operator and holders of registry:contracts. Anonymous
calls are rate limited per client address (:mod:`gateway.auth`), except the portal's
static files. A route with the prefix
"" catches every path outside :data:`RESERVED` (a web front, say:
``passthrough("portal", "", "portal", PROXY_METHODS)`` with a ``portal`` upstream in the
settings).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import Enum

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PROXY_METHODS = READ_METHODS | WRITE_METHODS
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
ANY = r".*"


class Auth(Enum):
    NONE = "none"  # not looked at; forwarded untouched
    OPTIONAL = "optional"  # verified when present
    REQUIRED = "required"


@dataclass(frozen=True)
class Rule:
    methods: frozenset[str]
    pattern: re.Pattern[str]
    auth: Auth
    scope: str | None = None
    # False: never charged to a rate limit (only for public, cheap, fixed files).
    limited: bool = True


@dataclass(frozen=True)
class Route:
    name: str  # bounded label for metrics and spans
    prefix: str  # public prefix
    upstream: str  # upstream name (settings.upstreams())
    upstream_prefix: str  # what the prefix becomes upstream
    rules: tuple[Rule, ...]
    # JSON bodies and Location headers speak upstream paths that need the public prefix.
    rewrite: bool


def _rule(methods: frozenset[str], pattern: str, auth: Auth, scope: str | None = None) -> Rule:
    return Rule(methods, re.compile(pattern), auth, scope)


_DOCS = r"/(openapi\.json|docs|redoc|docs-assets/[^/]+)"


def api_route(name: str, *rules: Rule) -> Route:
    """A service's API at ``/api/<name>/v1`` (its ``/v1``), documents public."""
    docs = _rule(frozenset({"GET", "HEAD"}), _DOCS, Auth.NONE)
    return Route(name, f"/api/{name}/v1", name, "/v1", (docs, *rules), rewrite=True)


def reads(scope: str, pattern: str = ANY) -> Rule:
    return _rule(READ_METHODS, pattern, Auth.REQUIRED, scope)


def public_reads(pattern: str) -> Rule:
    """Reads that need no token (the public catalogue). A token that is sent is verified
    (a bad one is a 401) and then charges its client's rate limit; no scope is needed."""
    return _rule(READ_METHODS, pattern, Auth.OPTIONAL)


# The public catalogue: these reads carry no contract details, costs or vulnerability
# exposure (those sub-resources stay behind registry:read and the services' own rules).
PUBLIC_REGISTRY = (
    r"/(facilities|offerings|organisations|initiatives|integrations)(/[^/]+)?"
    r"|/offerings/[^/]+/versions(/[^/]+)?"
    r"|/search"
)
PUBLIC_PROCUREMENT = r"/tenders(/[^/]+(/lots(/[^/]+)?)?)?"
# The portal's static files. Every page loads several, so charging them would spend an
# anonymous visitor's budget several times per page, and behind a load balancer that
# hides client addresses all visitors share one budget. Plain names only (no "..", no
# escapes), so no page of the portal is reached through this rule.
PORTAL_ASSETS = r"/static/(?!.*\.\.)[A-Za-z0-9._/-]+|/favicon\.ico"


def writes(scope: str, pattern: str = ANY) -> Rule:
    return _rule(WRITE_METHODS, pattern, Auth.REQUIRED, scope)


def passthrough(name: str, prefix: str, upstream: str, methods: frozenset[str]) -> Route:
    """A prefix forwarded as it is, without a token check (the upstream authenticates)."""
    return Route(name, prefix, upstream, prefix, (_rule(methods, ANY, Auth.NONE),), False)


def default_routes() -> list[Route]:
    registry = api_route(
        "registry",
        public_reads(PUBLIC_REGISTRY),
        reads("registry:exposure", r"/(vulnerabilities|organisations)/[^/]+/exposures"),
        reads("registry:read"),
        writes("registry:write"),
    )
    procurement = api_route(
        "procurement",
        public_reads(PUBLIC_PROCUREMENT),
        reads("procurement:read"),
        writes("procurement:enroll", r"/tenders/[^/]+/enrollments(/.*)?"),
        writes("procurement:manage"),
    )
    identity_api = api_route("identity", _rule(PROXY_METHODS, ANY, Auth.OPTIONAL))
    oidc = passthrough("identity-auth", "/auth", "identity", PROXY_METHODS)
    well_known = passthrough("identity-well-known", "/.well-known", "identity", READ_METHODS)
    # The web front for people: every path outside RESERVED.
    portal = passthrough("portal", "", "portal", PROXY_METHODS)
    assets = Rule(frozenset({"GET", "HEAD"}), re.compile(PORTAL_ASSETS), Auth.NONE, limited=False)
    portal = replace(portal, rules=(assets, *portal.rules))
    return [registry, procurement, identity_api, oidc, well_known, portal]


# Paths that belong to the gateway and its APIs: a catch-all route (prefix "") never
# serves them, so an unknown API path is a 404 here, not a page of the catch-all.
RESERVED = (
    "/api",
    "/auth",
    "/.well-known",
    "/docs",
    "/redoc",
    "/docs-assets",
    "/health",
    "/metrics",
)


class Router:
    def __init__(self, routes: list[Route]) -> None:
        # Longest prefix first so nested prefixes cannot shadow each other.
        self.routes = sorted(routes, key=lambda r: len(r.prefix), reverse=True)

    def route_for(self, path: str) -> tuple[Route, str] | None:
        for route in self.routes:
            prefix = route.prefix
            if path.startswith(prefix):
                rest = path[len(prefix) :]
                if prefix == "" and reserved(path):
                    return None
                if not rest or rest[0] == "/":
                    return route, rest
        return None

    @staticmethod
    def rule_for(route: Route, method: str, rest: str) -> Rule | None:
        for rule in route.rules:
            if method in rule.methods and rule.pattern.fullmatch(rest):
                return rule
        return None

    @staticmethod
    def allowed_methods(route: Route, rest: str) -> list[str]:
        allowed: set[str] = set()
        for rule in route.rules:
            if rule.pattern.fullmatch(rest):
                allowed |= rule.methods
        return sorted(allowed)


def reserved(path: str) -> bool:
    for prefix in RESERVED:
        if path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/"):
            return True
    return False


class BodyLimits:
    """Body size limit per public path: the longest configured prefix wins."""

    def __init__(self, default: int, overrides: dict[str, int]) -> None:
        self.default = default
        self.overrides = sorted(overrides.items(), key=lambda kv: len(kv[0]), reverse=True)

    def for_path(self, path: str) -> int:
        for prefix, limit in self.overrides:
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return limit
        return self.default
