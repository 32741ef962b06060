"""Supplier staff, municipal staff and the platform operator in Chromium against the real
platform, logged in through identity's eHerkenning simulator; axe-core on every page in
Dutch and English (0 serious or critical violations)."""

from __future__ import annotations

import os
import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from a11y import barriers
from browserkit import (
    CHROMIUM,
    broken_texts,
    cut_words,
    gap_between,
    login,
    menu_lines,
    page_width,
    scrolling_tables,
    set_language,
    shot,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(900),
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM}"),
]


async def checked(page: Any, base: str, name: str) -> list[str]:
    """axe on the page as it is, then on the same page in English, back to Dutch."""
    found = await barriers(page)
    await shot(page, f"{name}-nl")
    here = page.url
    await page.goto(f"{base}/language?lang=en&next=" + here.removeprefix(base))
    found += await barriers(page)
    await shot(page, f"{name}-en")
    await page.goto(f"{base}/language?lang=nl&next=" + here.removeprefix(base))
    return found


async def test_supplier_registers_an_offering_and_a_version(platform: Any, browser: Any) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    base = platform.url
    await login(page, base, "eherkenning", "eh-leverancier")
    await set_language(page, base, "nl")
    await page.goto(f"{base}/supplier/offerings")
    found = await checked(page, base, "supplier-offerings")
    await page.locator("a[href='/supplier/offerings/new']").click()
    found += await checked(page, base, "supplier-new")
    name = f"Testproduct {uuid.uuid4().hex[:6]}"
    await page.select_option("#f-facilityId", label="Haal Centraal")
    await page.fill("#f-name", name)
    await page.select_option("#f-priceModel", "subscription")
    await page.fill("#f-standards", "Haal Centraal BRP")
    await page.locator("form.portal-form button[type=submit]").click()
    await page.wait_for_selector("h1")
    assert name in await page.locator("h1").inner_text()
    assert await page.locator(".portal-flash").count() == 1
    found += await checked(page, base, "supplier-offering")
    await page.locator("a[href$='/versions/new']").click()
    await page.fill("#f-version", "1.0")
    await page.fill("#f-releaseDate", "2026-01-15")
    await page.fill("#f-endOfSupportDate", "2029-12-31")
    await page.locator("form.portal-form button[type=submit]").click()
    await page.wait_for_selector("#versions-title")
    assert (
        "31-12-2029" in await page.locator("section[aria-labelledby=versions-title]").inner_text()
    )
    # The public facility page shows it too.
    await page.goto(f"{base}/facilities/haal-centraal")
    assert (
        name
        in await page.locator(
            "#offerings ~ article, section[aria-labelledby=offerings]"
        ).first.inner_text()
    )
    assert found == []
    await context.close()


async def test_municipal_staff_keep_their_contracts_and_read_the_radar(
    platform: Any, browser: Any
) -> None:
    context = await browser.new_context(accept_downloads=True)
    page = await context.new_page()
    base = platform.url
    await login(page, base, "eherkenning", "eh-amersfoort-beheer")
    await page.goto(f"{base}/municipality/usages")
    found = await checked(page, base, "municipality-usages")
    # The municipality's own pages are one entry of the main menu, which keeps to one line,
    # and have a menu of their own marking the page shown.
    assert await menu_lines(page) == 1
    assert await page.locator(".portal-nav a[aria-current]").inner_text() == "Onze gemeente"
    section = page.locator("nav.portal-section-nav[aria-label='Onze gemeente']")
    assert await section.locator("a[aria-current=page]").inner_text() == "Onze voorzieningen"
    assert await section.locator("a").count() == 4
    # The table stands apart from the buttons above it.
    assert await gap_between(page, ".portal-actions", ".utrecht-table-container") >= 12
    # On a phone's screen the page itself does not scroll sideways; the table does, in a
    # region keyboard users can reach.
    await page.set_viewport_size({"width": 390, "height": 844})
    assert await page_width(page) <= 390
    # The header keeps to two lines: who is logged in, then language and log-out side by side.
    middles = await page.evaluate(
        """() => ['.portal-lang', '.portal-header__tools form'].map((selector) => {
            const box = document.querySelector(selector).getBoundingClientRect();
            return box.top + box.height / 2;
        })"""
    )
    assert abs(middles[0] - middles[1]) <= 2, middles
    scrolling = await scrolling_tables(page)
    assert scrolling, "the usages table is wider than a phone's screen"
    assert all(table["focusable"] and table["name"] for table in scrolling), scrolling
    found += await barriers(page)
    await page.set_viewport_size({"width": 1280, "height": 720})
    await page.locator("a[href='/municipality/usages/new']").click()
    found += await checked(page, base, "municipality-new")
    end = (date.today() + timedelta(days=300)).isoformat()
    await page.select_option("#f-facilityId", label="GGI-Veilig")
    await page.select_option("#f-status", "active")
    await page.fill("#f-contractEndDate", end)
    await page.fill("#f-noticePeriodMonths", "3")
    await page.locator("form.portal-form button[type=submit]").click()
    await page.wait_for_selector(".portal-flash")
    row = page.locator("tbody tr", has_text="GGI-Veilig")
    assert await row.count() >= 1
    # Change it, then end it.
    await row.first.locator("a", has_text="Wijzigen").click()
    found += await checked(page, base, "municipality-edit")
    await page.fill("#f-noticePeriodMonths", "4")
    await page.locator("button[value=save]").click()
    await page.wait_for_selector(".portal-flash")
    await page.goto(f"{base}/municipality/radar")
    assert await page.locator("svg.portal-chart rect").count() >= 1
    assert await page.locator("table tbody tr").count() >= 1
    found += await checked(page, base, "municipality-radar")
    assert await cut_words(page) == []
    # On a phone the chart keeps readable text and scrolls in its own box, not the page.
    await page.set_viewport_size({"width": 375, "height": 812})
    label = page.locator("svg.portal-chart .portal-chart__label").first
    box = await label.bounding_box()
    assert box is not None
    assert box["height"] >= 9, box
    assert await page.evaluate("document.documentElement.scrollWidth") <= 375
    found += await barriers(page)
    await page.set_viewport_size({"width": 1280, "height": 720})
    csv = await page.request.get(f"{base}/municipality/radar.csv")
    assert csv.status == 200
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.headers["content-disposition"].startswith("attachment;")
    assert "GGI-Veilig" in await csv.text()
    await page.goto(f"{base}/municipality/usages")
    await (
        page.locator("tbody tr", has_text="GGI-Veilig")
        .first.locator("a", has_text="Wijzigen")
        .click()
    )
    await page.locator("button[value=end]").click()
    await page.wait_for_selector(".portal-flash")
    assert found == []
    await context.close()


async def test_operator_manages_facilities_and_sees_relying_parties(
    platform: Any, browser: Any
) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    base = platform.url
    await login(page, base, "eherkenning", "eh-operator")
    await page.goto(f"{base}/operator/facilities")
    found = await checked(page, base, "operator-facilities")
    await page.locator("a[href='/operator/facilities/new']").click()
    slug = f"test-{uuid.uuid4().hex[:6]}"
    await page.fill("#f-name", f"Testvoorziening {slug}")
    await page.fill("#f-slug", slug)
    await page.select_option("#f-kind", "service")
    await page.fill("#f-theme", "testing")
    await page.locator("form.portal-form button[type=submit]").click()
    await page.wait_for_selector("#stage-title")
    found += await checked(page, base, "operator-facility")
    await page.select_option("#f-toStage", "pilot")
    await page.fill("#f-reason", "Start van de pilot")
    await page.locator("form[action$='/stage'] button").click()
    await page.wait_for_selector(".portal-flash")
    assert "Start van de pilot" in await page.locator(".portal-timeline").inner_text()
    await page.goto(f"{base}/operator/clients")
    table = await page.locator("table").inner_text()
    assert "samen-portal" in table
    assert "samen-portal-reader" in table
    found += await checked(page, base, "operator-clients")
    # At a desktop's width every column is as wide as its longest word: none is cut in two,
    # and the table fits the page.
    cut = await cut_words(page)
    assert cut == [], cut
    assert await scrolling_tables(page) == []
    # On a phone's screen the table scrolls sideways in a container that keyboard users
    # can reach and screen readers name; still no word is cut.
    await page.set_viewport_size({"width": 390, "height": 844})
    scrolling = await scrolling_tables(page)
    assert scrolling, "the clients table is wider than a phone's screen"
    assert all(table["focusable"] and table["name"] for table in scrolling), scrolling
    assert await cut_words(page) == []
    assert await page.locator(".portal-identifier").count() >= 2
    assert await broken_texts(page, ".portal-identifier") == []  # client ids read as one
    found += await barriers(page)
    assert found == []
    await context.close()
