"""The public portal in Chromium against the real platform: search with facets, a
facility with its lifecycle, offerings and users, an organisation, tenders; the language
switch; log-in and log-out through identity's simulator; axe-core on every page in both
languages, logged out and logged in (0 serious or critical violations)."""

from __future__ import annotations

import os
from typing import Any

import pytest
from a11y import barriers
from browserkit import CHROMIUM, gap_between, login, set_language, shot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(600),
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM}"),
]


async def public_pages(page: Any, base: str, lang: str) -> list[str]:
    """Walk the public pages; every page's axe violations."""
    found: list[str] = []
    await page.goto(f"{base}/")
    assert await page.get_attribute("html", "lang") == lang
    found += await barriers(page)
    await shot(page, f"home-{lang}")
    # The search field's label stands apart from the text above it; the result cards are
    # spaced by the list alone (no margin of their own on top of the list's gap).
    assert await gap_between(page, ".portal-hero .portal-lead", ".portal-search label") >= 8
    assert 12 <= await gap_between(page, ".portal-card", ".portal-card + .portal-card") <= 20
    await page.fill("#q", "telecom")
    await page.locator("form[role=search] button").click()
    await page.wait_for_selector(".portal-results")
    assert await page.locator(".portal-card").count() >= 1
    assert await page.locator(".portal-facet-list a").count() >= 1
    found += await barriers(page)
    await shot(page, f"search-{lang}")
    # Themes are said in the page's language.
    facets = await page.locator(".portal-facets").inner_text()
    assert ("telefonie" if lang == "nl" else "telephony") in facets
    assert lang == "en" or "telephony" not in facets
    # A facet narrows the results; the filter stays visible as chosen.
    await page.locator(".portal-facet-list a").first.click()
    assert await page.locator(".portal-facet-list a[aria-current=true]").count() == 1
    # Nothing found: no empty filter panel beside the message.
    await page.goto(f"{base}/?q=zzzzqqq")
    assert await page.locator(".portal-results").count() == 1
    assert await page.locator(".portal-facets").count() == 0
    found += await barriers(page)
    await page.goto(f"{base}/facilities/gemeentelijke-telecommunicatie")
    await page.wait_for_selector("#offerings")
    assert (
        await page.locator(
            "#offerings ~ article, section[aria-labelledby=offerings] article"
        ).count()
        >= 2
    )
    assert await page.locator("section[aria-labelledby=users] tbody tr").count() >= 3
    assert await page.locator(".portal-stages__item--current").count() == 1
    # The facility's links come under a label saying what they are.
    links = page.locator("ul[aria-labelledby=facility-links] a")
    assert await links.count() >= 1
    label = "Meer informatie:" if lang == "nl" else "More information:"
    assert await page.locator("#facility-links").inner_text() == label
    found += await barriers(page)
    await shot(page, f"facility-{lang}")
    await page.locator("section[aria-labelledby=users] tbody a", has_text="Utrecht").click()
    await page.wait_for_selector("h1")
    assert "Utrecht" in await page.locator("h1").inner_text()
    assert await page.locator("tbody tr").count() >= 1
    found += await barriers(page)
    await page.goto(f"{base}/tenders")
    found += await barriers(page)
    await page.goto(f"{base}/accessibility")
    found += await barriers(page)
    response = await page.goto(f"{base}/no-such-page")
    assert response is not None
    assert response.status == 404
    found += await barriers(page)
    return found


async def test_public_pages_in_both_languages(platform: Any, browser: Any) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    base = platform.url
    found = await public_pages(page, base, "nl")
    await set_language(page, base, "en")
    found += await public_pages(page, base, "en")
    assert found == []
    # Only the 404 page's own status is an error in the console; no CSP or asset failures.
    assert all("404" in e for e in errors), errors
    await context.close()


async def test_login_and_logout_through_identity(platform: Any, browser: Any) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    base = platform.url
    await login(page, base, "eherkenning", "eh-leverancier")
    header = await page.locator("header").inner_text()
    assert "Ravi Sharma" in header
    assert "Voorbeeld Telecom" in header
    assert await barriers(page) == []
    cookies = {c["name"]: c for c in await context.cookies(base)}
    session = cookies["samen_portal"]
    assert session["httpOnly"]
    assert session["sameSite"] == "Lax"
    assert "." not in session["value"]  # an opaque id, never a token
    await set_language(page, base, "en")
    assert await barriers(page) == []
    await page.locator("form[action='/logout'] button").click()
    await page.wait_for_url(f"{base}/logged-out**")
    assert await page.locator("form[action='/logout']").count() == 0
    assert await barriers(page) == []
    await context.close()
