"""The route table on its own: longest prefix first, rules per method and path, and a
catch-all route (prefix "") that never takes the gateway's own or the APIs' paths."""

from __future__ import annotations

from gateway.routes import PROXY_METHODS, Auth, Route, Router, default_routes, passthrough


def _route(router: Router, path: str) -> tuple[str | None, str]:
    found = router.route_for(path)
    return (found[0].name, found[1]) if found else (None, "")


def _scope(router: Router, route: Route, method: str, rest: str) -> str | None:
    rule = router.rule_for(route, method, rest)
    assert rule is not None
    return rule.scope


def test_longest_prefix_and_rules() -> None:
    router = Router(default_routes())
    procurement = next(r for r in router.routes if r.name == "procurement")
    path = "/api/procurement/v1/tenders/t1/enrollments"
    assert _route(router, path) == ("procurement", "/tenders/t1/enrollments")
    assert _scope(router, procurement, "POST", "/tenders/t1/enrollments") == "procurement:enroll"
    assert _scope(router, procurement, "POST", "/tenders/t1") == "procurement:manage"
    assert _scope(router, procurement, "GET", "/tenders/t1/history") == "procurement:read"
    public = router.rule_for(procurement, "GET", "/tenders/t1")  # published tenders
    assert public is not None
    assert public.auth is Auth.OPTIONAL
    assert public.scope is None
    assert _scope(router, procurement, "GET", "/openapi.json") is None  # public
    assert _route(router, "/api/registry/v1x") == (None, "")  # a prefix ends at a segment
    assert _route(router, "/") == ("portal", "/")  # the portal's catch-all
    assert _route(router, "/api/nowhere") == (None, "")  # reserved: never the portal's
    assert router.allowed_methods(procurement, "/openapi.json") == sorted(PROXY_METHODS)


def test_exposure_needs_its_own_scope() -> None:
    router = Router(default_routes())
    registry = next(r for r in router.routes if r.name == "registry")
    for rest in ("/vulnerabilities/v1/exposures", "/organisations/o1/exposures"):
        assert _scope(router, registry, "GET", rest) == "registry:exposure"
    assert _scope(router, registry, "GET", "/vulnerabilities/v1") == "registry:read"
    assert _scope(router, registry, "POST", "/vulnerabilities/v1/withdrawal") == "registry:write"
    for rest in ("/integrations", "/integrations/i1"):  # the public catalogue
        rule = router.rule_for(registry, "GET", rest)
        assert rule is not None
        assert rule.auth == Auth.OPTIONAL
    assert _scope(router, registry, "GET", "/organisations/o1/landscape") == "registry:read"


def test_a_catch_all_route_leaves_reserved_paths_alone() -> None:
    portal = passthrough("portal", "", "portal", PROXY_METHODS)
    router = Router([*(r for r in default_routes() if r.name != "portal"), portal])
    for path in ("/", "/tenders", "/my/data", "/apix", "/healthy"):
        assert _route(router, path) == ("portal", path)
        rule = router.rule_for(portal, "POST", path)
        assert rule is not None
        assert rule.auth is Auth.NONE
    for path in ("/api", "/api/unknown/v1/x", "/auth", "/.well-known/x", "/docs", "/redoc",
                 "/docs-assets/a.js", "/health/ready", "/metrics"):  # fmt: skip
        assert _route(router, path)[0] != "portal", path
    assert _route(router, "/auth/token") == ("identity-auth", "/token")


def test_contract_details_pass_with_read_and_the_registry_narrows_them() -> None:
    """Radar, costs and usages reach the registry with registry:read (a municipality reads
    its own); the registry decides who sees other municipalities' (registry:contracts)."""
    router = Router(default_routes())
    registry = next(r for r in router.routes if r.name == "registry")
    for rest in ("/usages", "/usages/u1", "/organisations/o1/radar", "/organisations/o1/costs",
                 "/facilities/f1/radar", "/facilities/f1/costs", "/exports/usages.csv"):  # fmt: skip
        assert _scope(router, registry, "GET", rest) == "registry:read", rest
