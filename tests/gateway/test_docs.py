"""The developer portal: documents fetched from the upstreams with servers rewritten,
local assets, a strict CSP, and the pages working in a real browser (headless Chromium)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from a11y import barriers
from gateway_testkit import GatewayFactory, RunningGateway, free_port

from servicekit.testing import TestIssuer

SERVICES = ("registry", "procurement", "identity")


async def test_documents_have_gateway_servers(gw: RunningGateway) -> None:
    async with gw.client() as client:
        for name in SERVICES:
            response = await client.get(f"/docs/{name}/openapi.json")
            assert response.status_code == 200
            doc = response.json()
            assert doc["servers"] == [
                {"url": f"/api/{name}/v1", "description": "Through the Samen gateway"}
            ]
            assert doc["info"]["title"] == f"Samen {name}"
            # Token requests from Swagger UI go to the gateway's /auth, same origin.
            flows = doc["components"]["securitySchemes"]["oauth2"]["flows"]
            assert flows["clientCredentials"]["tokenUrl"] == "/auth/token"
            # The portal's log-in for people, at identity behind the gateway.
            code = flows["authorizationCode"]
            assert code["authorizationUrl"] == "/auth/authorize"
            assert code["tokenUrl"] == "/auth/token"
            assert "openid" in code["scopes"]
            assert set(flows["clientCredentials"]["scopes"]) <= set(code["scopes"])
            assert response.headers["access-control-allow-origin"] == "*"


async def test_index_lists_every_service_and_its_operations(gw: RunningGateway) -> None:
    async with gw.client() as client:
        response = await client.get("/docs")
    page = response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    for name in SERVICES:
        assert f'href="/docs/{name}"' in page
        assert f'href="/docs/{name}/redoc"' in page
        assert f"/api/{name}/v1/things" in page
        assert f"List {name} things" in page
    assert "<script" not in page  # the portal page needs no script at all
    assert "cdn" not in page.lower()


async def test_swagger_page_logs_in_with_the_portal_client(gw: RunningGateway) -> None:
    async with gw.client() as client:
        page = await client.get("/docs/registry")
        redirects = [
            await client.get("/docs/oauth2-redirect?code=c&state=s"),
            await client.get("/docs/oauth2-redirect.html"),
        ]
    assert 'src="/docs/assets/portal-swagger.js"' in page.text
    assert 'data-client-id="samen-gateway-docs"' in page.text
    for response in (page, *redirects):
        assert response.status_code == 200
        assert "script-src 'self';" in response.headers["content-security-policy"]
        # Scripts only as files: no inline script under the CSP.
        assert re.findall(r"<script[^>]*>([^<]*)</script>", response.text) == [
            "" for _ in re.findall(r"<script", response.text)
        ]
    assert 'src="/docs/assets/oauth2-redirect.js"' in redirects[0].text


async def test_assets_are_local_and_unknown_ones_404(gw: RunningGateway) -> None:
    async with gw.client() as client:
        for asset, media in (
            ("swagger-ui-bundle.js", "text/javascript"),
            ("swagger-ui.css", "text/css"),
            ("redoc.standalone.js", "text/javascript"),
            ("swagger-init.js", "text/javascript"),
            ("portal-swagger.js", "text/javascript"),
            ("oauth2-redirect.js", "text/javascript"),
        ):
            response = await client.get(f"/docs/assets/{asset}")
            assert response.status_code == 200
            assert response.headers["content-type"] == media
            assert b"cdn.redoc.ly" not in response.content  # nothing loads from elsewhere
        assert (await client.get("/docs/assets/..%2Fapp.py")).status_code == 404
        assert (await client.get("/docs/assets/nope.js")).status_code == 404
        assert (await client.get("/docs/nosuchservice")).status_code == 404
        assert (await client.post("/docs")).status_code == 405


async def test_unavailable_service_is_shown_not_fatal(gateway_factory: GatewayFactory) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    async with gateway_factory(procurement_url=down) as gw, gw.client() as client:
        index = await client.get("/docs")
        doc = await client.get("/docs/procurement/openapi.json")
    assert index.status_code == 200
    assert "The procurement service is unavailable right now." in index.text
    assert "List registry things" in index.text
    assert doc.status_code == 503
    assert doc.headers["content-type"] == "application/problem+json"


class PageWatch:
    """Collects what would show a broken page: failed requests, HTTP errors, console
    errors (CSP violations are console errors)."""

    def __init__(self, page: Any) -> None:
        self.problems: list[str] = []
        # blob:/data: URLs are in-page objects (ReDoc's worker, Swagger's downloads), not
        # requests to the server; the page aborts them when it moves on.
        page.on(
            "requestfailed",
            lambda r: (
                None
                if r.url.startswith(("blob:", "data:"))
                else self.problems.append(f"failed {r.url} {r.failure}")
            ),
        )
        page.on(
            "response",
            lambda r: self.problems.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None,
        )
        page.on(
            "console",
            lambda m: self.problems.append(f"console {m.text}") if m.type == "error" else None,
        )
        page.on("pageerror", lambda e: self.problems.append(f"pageerror {e}"))


@pytest.mark.browser
async def test_portal_in_the_browser(gw: RunningGateway, browser: Any, issuer: TestIssuer) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    watch = PageWatch(page)

    await page.goto(f"{gw.url}/docs")
    for name in SERVICES:
        rows = page.locator(f"#{name} tr.operation")
        assert await rows.count() == 2
    found = await barriers(page)

    for name in SERVICES:
        await page.goto(f"{gw.url}/docs/{name}")
        await page.wait_for_selector(".opblock", timeout=15_000)
        assert await page.locator(".opblock").count() == 2
        assert await page.get_by_text(f"List {name} things").count() == 1
        found += await barriers(page)

        await page.goto(f"{gw.url}/docs/{name}/redoc")
        await page.wait_for_selector(f"h2:has-text('Create a {name} thing')", timeout=20_000)
        found += await barriers(page)
    assert watch.problems == [], "\n".join(watch.problems)
    assert found == [], "\n".join(found)

    # Try it out through the gateway with a token.
    await page.goto(f"{gw.url}/docs/registry")
    await page.wait_for_selector(".opblock-get")
    token = issuer.token(scopes=["registry:read"])
    await page.evaluate("t => window.ui.preauthorizeApiKey('bearer', t)", token)
    await page.locator(".opblock-get .opblock-summary").click()
    await page.get_by_role("button", name="Try it out").click()
    async with page.expect_response(lambda r: "/api/registry/v1/things" in r.url) as info:
        await page.get_by_role("button", name="Execute").click()
    response = await info.value
    assert response.status == 200
    # An open operation, tried out, with its response shown: checked once Swagger UI has
    # rendered it and its buttons have faded back from their busy state (axe measures the
    # colours as they are at that instant; a machine under load is slower to get there).
    await page.wait_for_selector(".live-responses-table", timeout=15_000)
    await page.wait_for_function(
        "() => [...document.querySelectorAll('.swagger-ui .btn')]"
        ".every(b => getComputedStyle(b).opacity === '1')",
        timeout=15_000,
    )
    found = await barriers(page)
    assert found == [], "\n".join(found)
    assert (await response.json())["_links"]["self"]["href"] == "/api/registry/v1/things?page=1"
    await asyncio.sleep(0)  # let late console events arrive
    assert watch.problems == []
    await context.close()


@pytest.mark.browser
async def test_an_operation_has_a_deep_link_and_one_control(
    gw: RunningGateway, browser: Any
) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    watch = PageWatch(page)
    await page.goto(f"{gw.url}/docs/registry")
    await page.wait_for_selector(".opblock-get")
    # Opening an operation puts its deep link in the address ...
    await page.locator(".opblock-get .opblock-summary-control").click()
    await page.wait_for_function("location.hash.length > 2")
    link = page.url
    assert re.search(r"#/[^/]+/\w+$", link), link
    # ... the link Swagger UI draws inside the operation's button is no second control
    # within it (only its text remains) ...
    assert await page.locator(".opblock-summary-control a").count() == 2
    assert await page.locator(".opblock-summary-control a[href]").count() == 0
    assert await page.locator(".opblock-summary-control a", has_text="things").count() == 2
    assert await barriers(page) == []
    # ... and the link, opened anew, shows that operation open.
    other = await context.new_page()
    await other.goto(link)
    await other.wait_for_selector(".opblock-get.is-open", timeout=15_000)
    assert await other.locator(".opblock.is-open").count() == 1
    assert watch.problems == [], "\n".join(watch.problems)
    await context.close()
