"""Each service's own Swagger UI and ReDoc, reached through the gateway at
``/api/<service>/v1/docs`` and ``/redoc``, load everything they need from there, ask
nothing of another origin, show the service's operations and meet WCAG 2.1 AA as far as
axe-core can tell (headless Chromium)."""

from __future__ import annotations

from typing import Any

import pytest
from a11y import ALL_IMPACTS, barriers
from e2ekit import Platform

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

SERVICES = {
    "registry": "Samen Registry API",
    "procurement": "Samen Procurement API",
    "identity": "Samen Identity API",
}


async def test_service_docs_work_through_the_gateway(platform: Platform, browser: Any) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    problems: list[str] = []
    here = (platform.url, f"blob:{platform.url}", "data:")

    def failed(request: Any) -> None:
        # ReDoc asks a CDN for its logo; the pages' policy must stop that in the browser.
        if request.url.startswith("blob:"):
            return  # ReDoc's worker, ended when the page is left
        if request.url.startswith(here) or request.failure != "csp":
            problems.append(f"failed {request.url} {request.failure}")

    page.on("requestfailed", failed)
    page.on(
        "requestfinished",
        lambda r: None if r.url.startswith(here) else problems.append(f"left {r.url}"),
    )
    page.on(
        "response",
        lambda r: problems.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None,
    )
    page.on("pageerror", lambda e: problems.append(f"pageerror {e}"))
    found: list[str] = []
    for service, title in SERVICES.items():
        base = f"{platform.url}/api/{service}/v1"
        await page.goto(f"{base}/docs")
        await page.wait_for_selector(".opblock", timeout=20_000)
        assert title in await page.locator(".info .title").inner_text()
        # Operations open and tried out (parameter fields and choices, a request body,
        # their responses) beside the schemas: none of axe's findings, of any impact.
        gets = page.locator(".opblock-get .opblock-summary-control")
        for index in range(2):
            await gets.nth(index).click()
        await page.locator(".opblock-post .opblock-summary-control").first.click()
        await page.wait_for_selector(".opblock-post .opblock-body", timeout=10_000)
        try_out = page.get_by_role("button", name="Try it out")
        while await try_out.count():
            await try_out.first.click()
        await page.wait_for_selector(".opblock-post .body-param textarea", timeout=10_000)
        found += await barriers(page, impacts=ALL_IMPACTS)

        await page.goto(f"{base}/redoc")
        await page.locator("h1", has_text=title).wait_for(timeout=20_000)
        found += await barriers(page, impacts=ALL_IMPACTS)
    assert problems == [], "\n".join(problems)
    assert found == [], "\n".join(found)
    await context.close()


async def test_the_api_portal_fits_a_phone(platform: Platform, browser: Any) -> None:
    """The gateway's list of every service's operations, with the platform's real (long)
    paths, reflows at 320 px: nothing is cut off or needs sideways scrolling."""
    context = await browser.new_context(viewport={"width": 320, "height": 640})
    page = await context.new_page()
    await page.goto(f"{platform.url}/docs")
    assert await page.locator("tr.operation").count() > 50
    assert await overflowing(page) == []
    assert await page.evaluate("document.documentElement.scrollWidth") <= 320
    found = await barriers(page)
    assert found == [], "\n".join(found)
    await context.close()


async def test_a_service_s_swagger_ui_fits_a_phone(platform: Platform, browser: Any) -> None:
    """Each service's Swagger UI at 320 px, an operation open and tried out: tag
    descriptions, paths, parameter fields and response tables reflow (before, the
    responses table pushed the page 85 px past the screen's edge)."""
    context = await browser.new_context(viewport={"width": 320, "height": 640})
    page = await context.new_page()
    for service in SERVICES:
        await page.goto(f"{platform.url}/api/{service}/v1/docs")
        await page.wait_for_selector(".opblock-get", timeout=20_000)
        await page.locator(".opblock-get .opblock-summary-control").first.click()
        await page.get_by_role("button", name="Try it out").first.click()
        await page.wait_for_selector(".opblock-get .responses-table", timeout=10_000)
        assert await overflowing(page) == [], service
        assert await page.evaluate("document.documentElement.scrollWidth") <= 320, service
        found = await barriers(page)
        assert found == [], "\n".join(found)
    await context.close()


async def overflowing(page: Any) -> list[str]:
    """The elements that reach past the right edge of the window (the first five)."""
    return list(
        await page.evaluate(
            """() => [...document.querySelectorAll('body *')]
                .filter(el => el.getBoundingClientRect().right > window.innerWidth + 1)
                .map(el => el.tagName + ' ' + el.className + ' ' + el.textContent.slice(0, 40))
                .slice(0, 5)"""
        )
    )
