"""In Chromium against the real platform: municipal staff import usages from CSV (the
problems per line and column, then a check and the import) and download the exports; the
operator previews and records a merger of two municipalities, and procurement moves the
enrollments. axe-core on every page in Dutch and English (0 serious or critical)."""

from __future__ import annotations

import os
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from a11y import barriers
from browserkit import CHROMIUM, login, set_language
from test_browser_flows import checked

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(900),
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM}"),
]
BAD = "facilityId,status,contractEndDate\nfsc,paused,2027-02-30\nnergens,active,\n"
GOOD = "facilityId;status;contractEndDate;annualCost\nfsc;planned;2031-12-31;1250,50\n"


async def test_municipal_staff_import_usages_and_download_the_exports(
    platform: Any, browser: Any
) -> None:
    context = await browser.new_context(accept_downloads=True)
    page = await context.new_page()
    base = platform.url
    await login(page, base, "eherkenning", "eh-amersfoort-beheer")
    await set_language(page, base, "nl")
    await page.goto(f"{base}/municipality/usages")
    await page.locator("a[href='/municipality/usages/import']").click()
    found = await checked(page, base, "municipality-import")
    await page.fill("#f-csv", BAD)
    await page.locator("button[value=check]").click()
    await page.wait_for_selector("#import-report")
    report = await page.locator("#import-report").inner_text()
    assert "status" in report
    assert "contractEndDate" in report
    assert "facilityId" in report
    assert await page.locator("#f-csv").input_value() == BAD  # the text stays
    found += await checked(page, base, "municipality-import-report")
    await page.fill("#f-csv", GOOD)
    await page.locator("button[value=check]").click()
    await page.wait_for_selector("[role=status]")
    await page.locator("button[value=import]").click()
    await page.wait_for_selector(".portal-flash")
    assert await page.locator("tbody tr", has_text="FSC").count() >= 1
    usages = await page.request.get(f"{base}/municipality/downloads/usages.csv")
    assert usages.status == 200
    assert "1250.5" in await usages.text()
    landscape = await page.request.get(f"{base}/municipality/downloads/landscape.xml")
    assert landscape.status == 200
    model = ET.fromstring(await landscape.body())  # noqa: S314 (our own platform's answer)
    assert model.tag == "{http://www.opengroup.org/xsd/archimate/3.0/}model"
    offerings = await page.request.get(f"{base}/municipality/downloads/offerings.csv")
    assert (await offerings.text()).startswith("id,supplierId,")
    assert found == []
    await context.close()


async def test_operator_previews_and_records_a_merger(platform: Any, browser: Any) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    base = platform.url
    await login(page, base, "eherkenning", "eh-operator")
    await set_language(page, base, "nl")
    await page.goto(f"{base}/operator/facilities")
    await page.locator("a[href='/operator/mergers']").click()
    found = await checked(page, base, "operator-mergers")
    await page.fill("#f-predecessors", "GM0088, GM0093")
    await page.fill("#f-successor", "GM9999")
    await page.fill("#f-effectiveDate", "2026-01-01")
    await page.locator("button[value=preview]").click()
    await page.wait_for_selector("#f-successor-error")
    await page.fill("#f-successor", "GM0060")
    await page.locator("button[value=preview]").click()
    await page.wait_for_selector("#merge-preview")
    preview = await page.locator("#merge-preview").inner_text()
    assert "Schiermonnikoog, Terschelling" in preview
    assert "Ameland" in preview
    # axe on the preview as shown (checked() reloads the page, which a preview is not).
    found += await barriers(page)
    await page.locator("button[value=merge]").click()
    await page.wait_for_selector(".portal-flash")
    assert await page.locator("#enrollments-applied").count() == 1
    found += await checked(page, base, "operator-merger")
    assert found == []
    await context.close()
