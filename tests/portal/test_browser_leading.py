"""Flow 4 in Chromium against the real platform: a lead party (Dienst Dommelvallei,
"aanbesteding leiden") creates a tender with lots, sees an invalid lot value next to its
field with the input kept, publishes, sees demand (table and chart) and downloads OCDS
and CSV; axe-core on every page in both languages (0 serious or critical violations)."""

from __future__ import annotations

import json
import os
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from a11y import barriers
from browserkit import CHROMIUM, login, set_language, shot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(600),
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM}"),
]


async def fill_tender(page: Any, title: str, lot_value: str) -> None:
    today = date.today()
    await page.locator("#f-facilityId").select_option(index=1)
    await page.fill("#f-title", title)
    await page.fill("#f-estimatedValue", "100000")
    await page.fill("#f-opensOn", today.isoformat())
    await page.fill("#f-closesOn", (today + timedelta(days=30)).isoformat())
    await page.fill("#f-plannedStartDate", (today + timedelta(days=120)).isoformat())
    await page.fill("#f-contractDurationMonths", "36")
    await page.fill("#f-lot0_title", "Vaste telefonie")
    await page.fill("#f-lot0_unit", "aansluiting")
    await page.fill("#f-lot0_value", lot_value)
    await page.fill("#f-lot1_title", "Mobiele telefonie")
    await page.fill("#f-lot1_unit", "abonnement")


async def test_lead_party_creates_publishes_and_follows_a_tender(
    platform: Any, browser: Any
) -> None:
    context = await browser.new_context(accept_downloads=True)
    page = await context.new_page()
    base = platform.url
    found: list[str] = []
    await login(page, base, "eherkenning", "eh-dommelvallei-inkoop")
    assert await page.locator("a[href='/leading/tenders']").count() >= 1
    await page.goto(f"{base}/leading/tenders")
    found += await barriers(page)
    await page.goto(f"{base}/leading/tenders/new")
    found += await barriers(page)

    # A lot worth more than the tender: the message sits next to the lot's value field.
    await fill_tender(page, "Telefonie Dommelvallei 2027", "250000")
    await page.locator("form.portal-form button[type=submit]").click()
    await page.wait_for_selector("#f-lot0_value-error")
    assert await page.input_value("#f-lot0_value") == "250000"
    assert await page.input_value("#f-title") == "Telefonie Dommelvallei 2027"
    assert await page.input_value("#f-lot1_title") == "Mobiele telefonie"
    found += await barriers(page)
    await shot(page, "leading-invalid-lot-nl")

    await page.fill("#f-lot0_value", "60000")
    await page.locator("form.portal-form button[type=submit]").click()
    await page.wait_for_selector("form[action$='/publication']")
    assert "Telefonie Dommelvallei 2027" in await page.locator("h1").inner_text()
    found += await barriers(page)
    # A draft can be changed (its amount written the Dutch way) and shows the cancel form.
    await page.locator("a[href$='/edit']").click()
    await page.wait_for_selector("form[action$='/edit']")
    assert await page.input_value("#f-estimatedValue") == "100000"
    found += await barriers(page)
    await page.fill("#f-estimatedValue", "120.000")
    await page.locator("form[action$='/edit'] button[type=submit]").click()
    await page.wait_for_selector("form[action$='/publication']")
    assert "€ 120.000" in await page.locator(".portal-facts").inner_text()
    await page.locator("details.portal-details summary").click()
    assert await page.locator("#f-reason").is_visible()
    found += await barriers(page)
    await shot(page, "leading-draft-nl")
    await page.locator("form[action$='/publication'] button").click()
    await page.wait_for_selector("form[action$='/publication']", state="detached")
    assert "Open voor aanmelding" in await page.locator(".portal-facts").inner_text()
    rows = page.locator("table:has(caption:text('Vraag per perceel')) tbody tr")
    assert await rows.count() == 2
    assert await page.locator("svg.portal-chart rect").count() == 2
    found += await barriers(page)
    await shot(page, "leading-tender-nl")
    tender_url = page.url

    async with page.expect_download() as info:
        await page.locator("a[href$='/ocds.json']").click()
    package = json.loads(Path(await (await info.value).path()).read_text())
    assert package["releases"][0]["tender"]["title"] == "Telefonie Dommelvallei 2027"
    async with page.expect_download() as info:
        await page.locator("a[href$='/demand.csv']").click()
    assert "Vaste telefonie" in Path(await (await info.value).path()).read_text()

    await set_language(page, base, "en")
    for path in ("/leading/tenders", "/leading/tenders/new", tender_url.removeprefix(base)):
        await page.goto(f"{base}{path}")
        assert await page.get_attribute("html", "lang") == "en"
        found += await barriers(page)
    assert "Demand per lot" in await page.content()
    assert found == []
    await context.close()
