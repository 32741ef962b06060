"""Issue 19 in Chromium against the real platform (identity's eHerkenning simulator, the
gateway, the demo seed): a supplier records a vulnerability with a problem shown next to
its field first, changes it, then records an integration, changes it and ends it; the
operator lists every vulnerability with its exposure and opens the change page; Utrecht's staff see "are we exposed?" (the scope registry:exposure comes
from their machtiging) and their landscape with integrations; the public facility page
lists integrations; axe in Dutch and English on each page."""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest
from browserkit import CHROMIUM, broken_texts, cut_words, login, page_width
from test_browser_flows import checked

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(900),
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM}"),
]
VECTOR = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"


async def test_supplier_records_a_vulnerability(platform: Any, browser: Any) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    base = platform.url
    await login(page, base, "eherkenning", "eh-leverancier")
    await page.goto(f"{base}/supplier/offerings")
    await page.locator("tbody a").first.click()
    await page.wait_for_selector("#vulnerabilities-title")
    await page.locator("a[href$='/vulnerabilities/new']").click()
    found = await checked(page, base, "vulnerability-new")
    cve = f"CVE-2099-{uuid.uuid4().int % 90000 + 10000}"
    await page.fill("#f-cveId", "CVE-99-1")
    await page.fill("#f-cvssScore", "7,5")
    await page.fill("#f-cvssVector", VECTOR)
    await page.fill("#f-description", "Fictieve kwetsbaarheid voor de test.")
    await page.locator("input.utrecht-checkbox").first.check()
    await page.locator("form.portal-form button[type=submit]").click()
    await page.wait_for_selector("#f-cveId-error")
    assert await page.locator("#f-cvssVector").input_value() == VECTOR  # the input is kept
    found += await checked(page, base, "vulnerability-problem")
    # checked() read the page again in both languages: the form is empty now.
    await page.fill("#f-cveId", cve)
    await page.fill("#f-cvssScore", "7,5")
    await page.fill("#f-cvssVector", VECTOR)
    await page.fill("#f-description", "Fictieve kwetsbaarheid voor de test.")
    await page.locator("input.utrecht-checkbox").first.check()
    await page.locator("form.portal-form button[type=submit]").click()
    await page.wait_for_selector(".portal-flash")
    section = page.locator("section[aria-labelledby=vulnerabilities-title]")
    assert cve in await section.inner_text()
    found += await checked(page, base, "vulnerability-recorded")
    await section.locator(f"a[href$='/change']:has-text('{cve}')").click()
    await page.wait_for_selector("#f-cvssScore")
    assert await page.locator("#f-cvssVector").input_value() == VECTOR  # prefilled
    await page.fill("#f-cvssVector", "CVSS:3.1/AV:N")
    await page.locator("form.portal-form button[type=submit]").click()
    await page.wait_for_selector("#f-cvssVector-error")
    assert await page.locator("#f-cvssVector").input_value() == "CVSS:3.1/AV:N"
    found += await checked(page, base, "vulnerability-change-problem")
    await page.fill("#f-cvssScore", "5,3")  # with a vector that gives 5.3 (the registry checks)
    await page.fill("#f-cvssVector", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N")
    await page.fill("#f-fixedInVersion", "99.1")
    await page.locator("form.portal-form button[type=submit]").click()
    await page.wait_for_selector(".portal-flash")
    assert "99.1" in await section.inner_text()
    await page.locator("a[href$='/integrations/new']").click()
    found += await checked(page, base, "integration-new")
    await page.select_option("#f-targetOfferingId", label="Voorbeeld Zaaksysteem")
    await page.select_option("#f-kind", "file-transfer")
    await page.fill("#f-standards", "SFTP")
    await page.locator("form.portal-form button[type=submit]").click()
    await page.wait_for_selector(".portal-flash")
    section = page.locator("section[aria-labelledby=integrations-title]")
    assert "Voorbeeld Zaaksysteem" in await section.inner_text()
    row = section.locator("tr", has_text="Voorbeeld Zaaksysteem").filter(has_text="SFTP")
    await row.locator("a:not([href$='#end'])").click()
    await page.wait_for_selector("#f-status")
    found += await checked(page, base, "integration-change")
    await page.select_option("#f-direction", "two-way")
    await page.fill("#f-standards", "SFTP, SSH")
    await page.locator("form.portal-form button[type=submit]").first.click()
    await page.wait_for_selector(".portal-flash")
    row = section.locator("tr", has_text="SFTP, SSH")
    assert "Tweerichting" in await row.inner_text()
    await row.locator("a[href$='#end']").click()
    await page.locator("#end ~ form button[type=submit]").click()
    await page.wait_for_selector(".portal-flash")
    assert "beëindigd" in (await page.locator(".portal-flash").inner_text()).lower()
    assert found == []
    await context.close()


async def test_municipality_sees_exposure_and_landscape(platform: Any, browser: Any) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    base = platform.url
    await login(page, base, "eherkenning", "eh-utrecht-inkoop")
    await page.goto(f"{base}/municipality/exposures")
    text = await page.locator("main").inner_text()
    assert "CVE-2099-0001" in text
    assert "CVE-2099-0002" in text
    found = await checked(page, base, "municipality-exposures")
    # On a phone a CVE id stays on one line (the table scrolls instead).
    await page.set_viewport_size({"width": 390, "height": 844})
    assert await page.locator(".portal-identifier").count() == 2
    assert await broken_texts(page, ".portal-identifier") == []
    await page.set_viewport_size({"width": 1280, "height": 720})
    await page.goto(f"{base}/municipality/landscape")
    text = await page.locator("main").inner_text()
    assert "Voorbeeld Zaaksysteem" in text
    assert "Haal Centraal BRP bevragen 2.0" in text
    found += await checked(page, base, "municipality-landscape")
    # On a phone the page's long compound title stays whole and the page no wider than it.
    await page.set_viewport_size({"width": 390, "height": 844})
    assert await cut_words(page, "h1") == []
    assert await page_width(page) <= 390
    await page.set_viewport_size({"width": 1280, "height": 720})
    await page.goto(f"{base}/facilities/common-ground")
    assert "BRP-bevragen connector" in await page.locator("#offerings ~ *, main").first.inner_text()
    found += await checked(page, base, "facility-integrations")
    assert found == []
    await context.close()


async def test_operator_lists_vulnerabilities(platform: Any, browser: Any) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    base = platform.url
    await login(page, base, "eherkenning", "eh-operator")
    # Platform management in the main menu, then its page of vulnerabilities.
    await page.locator(".portal-nav a[href='/operator/facilities']").click()
    await page.locator(".portal-section-nav a[href='/operator/vulnerabilities']").click()
    await page.wait_for_selector("h1")
    row = page.locator("tr", has_text="CVE-2099-0001")
    assert await row.count() == 1
    found = await checked(page, base, "operator-vulnerabilities")
    await row.locator("a[href$='/change']").click()
    await page.wait_for_selector("#f-cvssScore")
    found += await checked(page, base, "operator-vulnerability-change")
    await page.locator("a[href='/operator/vulnerabilities']:has-text('Annuleren')").click()
    await page.wait_for_selector("h1")
    assert found == []
    await context.close()
