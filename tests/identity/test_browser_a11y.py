"""Login pages in headless Chromium (Playwright): the full flow by mouse and keyboard,
an axe-core scan of each page (no serious or critical violations), language attribute,
and the session cookie's flags."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from a11y import barriers
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from idkit import LOA_SUBSTANTIAL

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM), reason="Chromium not installed at /usr/bin/chromium"
    ),
]


def authorize_url(base: str, lang: str) -> str:
    from urllib.parse import urlencode

    params = {
        "response_type": "code",
        "client_id": "demo-gemeente-pkjwt",
        "redirect_uri": "http://127.0.0.1:8080/callback",
        "scope": "openid profile",
        "state": "browser-state",
        "nonce": generate_token(16),
        "code_challenge": create_s256_code_challenge(generate_token(48)),
        "code_challenge_method": "S256",
        "acr_values": LOA_SUBSTANTIAL,
        "ui_locales": lang,
    }
    return f"{base}/auth/authorize?{urlencode(params)}"


async def test_login_pages_accessible_and_working(live: dict[str, Any]) -> None:
    """One browser: the full flow in Dutch; the English login page and an error page."""
    from playwright.async_api import async_playwright

    base = live["base"]
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            context = await browser.new_context()
            page = await context.new_page()
            # A resource the page's CSP refuses (its inline icon, say) is a console error.
            console_errors: list[str] = []
            page.on(
                "console",
                lambda message: message.type == "error" and console_errors.append(message.text),
            )

            async def rp_callback(route: Any) -> None:
                await route.fulfill(
                    status=200,
                    content_type="text/html",
                    body="<html lang='en'><title>RP</title></html>",
                )

            await page.route("http://127.0.0.1:8080/**", rp_callback)
            lang = "nl"
            await page.goto(authorize_url(base, lang))
            assert await page.get_attribute("html", "lang") == lang
            assert "/auth/login" in page.url
            assert await barriers(page) == []
            # Yivi does not reach "high" but does reach substantial: offered here.
            assert await page.locator("input[name=means]").count() == 4
            # Keyboard: the skip link comes first in the focus order.
            await page.keyboard.press("Tab")
            assert await page.evaluate("document.activeElement.className") == "skip"
            await page.get_by_label("eHerkenning").check()
            await page.get_by_role("button", name="Verder" if lang == "nl" else "Continue").click()
            await page.wait_for_url("**/auth/simulators/eherkenning/authorize**")
            assert await page.get_attribute("html", "lang") == lang
            assert await barriers(page) == []
            await page.get_by_label("Anouk Bakker, Gemeente Utrecht (inkoop)").check()
            level = "Betrouwbaarheidsniveau" if lang == "nl" else "Level of assurance"
            await page.get_by_label(level).select_option("urn:etoegang:core:assurance-class:loa3")
            # The level's choices are in the page's own type size, not the browser's smaller one.
            sizes = await page.evaluate(
                """() => [document.body, document.querySelector('#level')]
                    .map(el => getComputedStyle(el).fontSize)"""
            )
            assert sizes[0] == sizes[1], sizes
            # On a phone a label of two lines stays beside its radio, not under it.
            await page.set_viewport_size({"width": 390, "height": 800})
            under = await page.evaluate(
                """() => [...document.querySelectorAll('.option')].filter(option => {
                    const radio = option.querySelector('input').getBoundingClientRect();
                    const label = option.querySelector('label').getBoundingClientRect();
                    return label.left < radio.right;
                }).map(option => option.querySelector('label').textContent)"""
            )
            assert under == [], under
            wrapped = await page.evaluate(
                """() => [...document.querySelectorAll('.option label')]
                    .filter(label => label.getClientRects().length > 1 ||
                                     label.getBoundingClientRect().height > 30).length"""
            )
            assert wrapped, "a label of two lines at 390 px (what this checks)"
            await page.get_by_role("button", name="Inloggen" if lang == "nl" else "Log in").click()
            await page.wait_for_url("http://127.0.0.1:8080/callback**")
            assert console_errors == [], console_errors
            query = parse_qs(urlsplit(page.url).query)
            assert query["state"] == ["browser-state"]
            assert query["code"]
            cookies = {c["name"]: c for c in await context.cookies(f"{base}/auth/login")}
            session = cookies["samen_session"]
            assert session["httpOnly"] is True
            assert session["sameSite"] == "Lax"
            assert session["path"] == "/auth"
            csrf = cookies["samen_csrf"]
            assert csrf["httpOnly"] is True
            # English, with a fresh browser context (no session): the login page.
            english = await (await browser.new_context()).new_page()
            await english.goto(authorize_url(base, "en"))
            assert await english.get_attribute("html", "lang") == "en"
            assert await english.get_by_role("button", name="Continue").count() == 1
            assert await barriers(english) == []
            # Error pages are accessible too.
            await english.goto(f"{base}/auth/authorize?client_id=nope&lang=en")
            assert await english.get_attribute("html", "lang") == "en"
            assert await barriers(english) == []
        finally:
            await browser.close()
