"""The portal's catch-all: every path the platform does not reserve goes to the portal,
unchanged and without a token; the reserved prefixes never do."""

from __future__ import annotations

from gateway_testkit import GatewayFactory, RunningGateway

from gateway.routes import RESERVED, Router, default_routes


async def test_pages_reach_the_portal_with_their_cookies_and_forms(gw: RunningGateway) -> None:
    async with gw.client() as client:
        home = await client.get("/", headers={"Cookie": "samen_portal=abc"})
        page = await client.get("/facilities/ggi-netwerk?x=1")
        form = await client.post(
            "/supplier/offerings",
            content=b"csrf=t&name=x",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert home.status_code == 200
    assert home.json()["service"] == "portal"
    assert home.json()["rawPath"] == "/"
    assert "samen_portal=abc" in str(home.json()["headers"])
    assert page.json()["rawPath"] == "/facilities/ggi-netwerk?x=1"
    assert form.json()["method"] == "POST"
    assert form.json()["body"] == "csrf=t&name=x"


async def test_reserved_prefixes_never_reach_the_portal(gw: RunningGateway) -> None:
    async with gw.client() as client:
        for path in ("/api/nowhere", "/api", "/redoc", "/docs-assets/nope.js", "/health/x"):
            response = await client.get(path)
            assert response.status_code == 404, path
            assert response.headers["content-type"].startswith("application/problem+json")
        # A longer word that merely starts like a reserved one is the portal's.
        assert (await client.get("/apis")).json()["service"] == "portal"
        assert (await client.get("/authors")).json()["service"] == "portal"


def test_route_table_reserves_exactly_the_platform_prefixes() -> None:
    assert set(RESERVED) == {
        "/api",
        "/auth",
        "/.well-known",
        "/docs",
        "/redoc",
        "/docs-assets",
        "/health",
        "/metrics",
    }
    router = Router(default_routes())
    assert router.route_for("/auth/token")[0].name == "identity-auth"  # type: ignore[index]
    assert router.route_for("/tenders")[0].name == "portal"  # type: ignore[index]
    assert router.route_for("/api/unknown/v1") is None


async def test_portal_static_files_spend_no_anonymous_budget(
    gateway_factory: GatewayFactory,
) -> None:
    """Every page loads the portal's static files; only the pages are charged, so a
    visitor (or many behind one address) is not refused for the styles of one page."""
    limits = {"rate_limit_anonymous_per_second": 0.1, "rate_limit_anonymous_burst": 2}
    async with gateway_factory(**limits) as gw, gw.client() as client:
        assets = [
            (await client.get(path)).status_code
            for path in ("/static/portal.css", "/static/js/app.js", "/favicon.ico") * 3
        ]
        pages = [(await client.get("/facilities")).status_code for _ in range(3)]
    assert assets == [200] * 9
    assert pages == [200, 200, 429]


async def test_only_plain_static_names_are_uncharged(gateway_factory: GatewayFactory) -> None:
    limits = {"rate_limit_anonymous_per_second": 0.1, "rate_limit_anonymous_burst": 1}
    async with gateway_factory(**limits) as gw, gw.client() as client:
        codes = [
            (await client.post("/static/portal.css")).status_code,  # not a read
            (await client.get("/static/a%20b.css")).status_code,  # not a plain name
        ]
    assert codes == [200, 429]
