"""Initiatives in Chromium against the real platform: the ranked list logged out, a
municipality's pledge and withdrawal with a simulator login, its decisions ahead and
costs; axe in nl and en on every page (0 serious or critical violations)."""

from __future__ import annotations

import os
from typing import Any

import pytest
from a11y import barriers
from browserkit import CHROMIUM, login, shot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(600),
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM}"),
]


async def checked(page: Any, base: str, name: str) -> list[str]:
    """axe on the page as it is, then on the same page in English, back to Dutch."""
    found = await barriers(page)
    await shot(page, f"{name}-nl")
    here = page.url.removeprefix(base)
    await page.goto(f"{base}/language?lang=en&next={here}")
    found += await barriers(page)
    await shot(page, f"{name}-en")
    await page.goto(f"{base}/language?lang=nl&next={here}")
    return found


async def test_ranked_initiatives_and_a_pledge(platform: Any, browser: Any) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    base = platform.url
    await page.goto(f"{base}/initiatives")
    rows = page.locator("table tbody tr")
    assert await rows.count() >= 1
    assert (await rows.first.locator("td").first.inner_text()).strip() == "1"
    assert await page.locator("form[action='/initiatives/pledge']").count() == 0
    found = await checked(page, base, "initiatives-public")

    await login(page, base, "eherkenning", "eh-rotterdam-inkoop")
    await page.goto(f"{base}/initiatives")
    withdraw = page.locator("form[action$='/withdraw'] button")
    before = await withdraw.count()
    chosen = await page.locator("#f-facilityId option").first.get_attribute("value")
    assert chosen
    await page.select_option("#f-facilityId", chosen)
    await page.select_option("#f-kind", "co-fund")
    await page.fill("#f-amount", "2500")
    await page.locator("form[action='/initiatives/pledge'] button[type=submit]").click()
    await page.wait_for_url(f"{base}/initiatives")
    assert "Uw steun is vastgelegd." in await page.locator("main").inner_text()
    assert await withdraw.count() == before + 1
    found += await checked(page, base, "initiatives-staff")

    await page.goto(f"{base}/initiatives/decisions")
    assert await page.locator("h1").inner_text() == "Beslissingen in aantocht"
    found += await checked(page, base, "decisions")

    # Withdraw again: the demo data stays as it was for other tests.
    await page.goto(f"{base}/initiatives")
    await withdraw.first.click()
    await page.wait_for_url(f"{base}/initiatives")
    assert await withdraw.count() == before
    assert found == []
    await context.close()
