"""The developer portal's log-in in a real browser (headless Chromium): Swagger UI at
/docs/registry signs a person in with the authorization code flow (PKCE, a nonce per
page load) as the portal's public client, through the gateway and identity's DigiD
simulator, then calls the registry through the gateway with the token it received."""

from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from e2ekit import Platform

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


async def _nonce(page: Any) -> str:
    nonce: str = await page.evaluate(
        "() => window.ui.authSelectors.getConfigs().additionalQueryStringParams.nonce"
    )
    return nonce


async def test_portal_login_then_try_it_out(platform: Platform, browser: Any) -> None:
    context = await browser.new_context()
    problems: list[str] = []
    authorize: list[str] = []
    tokens: list[Any] = []

    def watch(page: Any) -> None:
        page.on(
            "requestfailed",
            lambda r: (
                None
                if r.url.startswith(("blob:", "data:"))
                else problems.append(f"failed {r.url} {r.failure}")
            ),
        )
        page.on(
            "response",
            lambda r: problems.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None,
        )
        page.on(
            "console",
            lambda m: problems.append(f"console {m.text}") if m.type == "error" else None,
        )
        page.on("pageerror", lambda e: problems.append(f"pageerror {e}"))

    def record(request: Any) -> None:
        if urlsplit(request.url).path == "/auth/authorize":
            authorize.append(request.url)

    context.on("request", record)
    context.on(
        "response",
        lambda r: tokens.append(r) if urlsplit(r.url).path == "/auth/token" else None,
    )
    page = await context.new_page()
    watch(page)

    await page.goto(f"{platform.url}/docs/registry")
    await page.wait_for_selector(".opblock", timeout=20_000)
    first = await _nonce(page)
    await page.reload()
    await page.wait_for_selector(".opblock", timeout=20_000)
    second = await _nonce(page)
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first != second  # a fresh nonce for every page load

    # Authorize: the authorization code section of the dialog, with registry:read.
    await page.locator("button.authorize").first.click()
    section = page.locator(".auth-container").filter(has_text="authorizationCode")
    await section.locator("label", has_text="registry:read").click()
    async with page.expect_popup() as popup_info:
        await section.locator("button.modal-btn.authorize").click()
    popup = await popup_info.value
    watch(popup)

    # identity's login page (through the gateway), then the DigiD simulator.
    await popup.wait_for_selector("form[action='/auth/login']", timeout=20_000)
    await popup.locator("#means-digid").check()
    await popup.locator("form[action='/auth/login'] button[type=submit]").click()
    await popup.wait_for_selector("#identity-digid-jan", timeout=20_000)
    await popup.locator("#identity-digid-jan").check()
    async with popup.expect_event("close", timeout=30_000):
        await popup.locator("button[value=login]").click()

    # The code went back to Swagger UI, which redeemed it with its PKCE verifier.
    await section.locator("button", has_text="Logout").wait_for(timeout=20_000)
    assert len(authorize) == 1
    query = parse_qs(urlsplit(authorize[0]).query)
    assert query["client_id"] == ["samen-gateway-docs"]
    assert query["response_type"] == ["code"]
    assert query["redirect_uri"] == [f"{platform.url}/docs/oauth2-redirect"]
    assert query["code_challenge_method"] == ["S256"]
    assert query["nonce"] == [second]
    assert "registry:read" in query["scope"][0].split()
    assert len(tokens) == 1
    assert tokens[0].status == 200
    await page.locator(".modal-ux .btn-done, .modal-ux button.close-modal").first.click()

    # Try it out through the gateway with the person's token.
    operation = page.locator(".opblock-get").filter(
        has=page.locator('.opblock-summary-path[data-path="/organisations"]')
    )
    await operation.locator(".opblock-summary").click()
    await operation.get_by_role("button", name="Try it out").click()
    async with page.expect_response(
        lambda r: urlsplit(r.url).path == "/api/registry/v1/organisations"
    ) as info:
        await operation.get_by_role("button", name="Execute").click()
    response = await info.value
    assert response.status == 200
    assert response.request.headers["authorization"].startswith("Bearer ey")
    assert (await response.json())["items"]
    await asyncio.sleep(0)  # let late console events arrive
    assert problems == [], "\n".join(problems)
    await context.close()
