"""Proposing an initiative, a pilot's participants and an impact analysis, and the
operator's population CSV upload, in Chromium against the real platform with simulator
log-ins; axe in nl and en on every page, also with the problems shown next to the fields
(0 serious or critical violations)."""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest
from a11y import barriers
from browserkit import CHROMIUM, login, set_language, shot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(900),
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM}"),
]


async def checked(page: Any, base: str, name: str) -> list[str]:
    """axe on the page as it is (also a form's answer to a POST), then the same page in
    English by its address (GET), back to Dutch."""
    found = await barriers(page)
    await shot(page, f"{name}-nl")
    here = page.url.removeprefix(base)
    await page.goto(f"{base}/language?lang=en&next={here}")
    found += await barriers(page)
    await shot(page, f"{name}-en")
    await page.goto(f"{base}/language?lang=nl&next={here}")
    return found


async def submit(page: Any, form: str) -> None:
    async with page.expect_navigation():
        await page.locator(f"{form} button[type=submit]").click()


async def test_a_cooperation_proposes_an_initiative(platform: Any, browser: Any) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    base = platform.url
    await login(page, base, "eherkenning", "eh-dommelvallei-inkoop")
    await set_language(page, base, "nl")
    await page.goto(f"{base}/initiatives")
    await page.locator("a[href='/initiatives/new']").click()
    await page.wait_for_selector("form[action='/initiatives/new']")
    found = await checked(page, base, "initiative-new")

    name = f"Regionaal inkoopteam {uuid.uuid4().hex[:4]}"
    await page.fill("#f-name", name)
    await page.fill("#f-slug", "Geen Goede Naam!")
    await page.select_option("#f-kind", "service")
    await page.fill("#f-description", "Eén team dat voor de drie gemeenten inkoopt.")
    await submit(page, "form[action='/initiatives/new']")
    assert await page.locator("#f-slug-error").count() == 1
    assert await page.locator("#f-theme-error").count() == 1
    assert await page.input_value("#f-name") == name
    assert await page.input_value("#f-slug") == "Geen Goede Naam!"
    # Each of the summary's problems names its field.
    assert await page.locator(".portal-alert li").all_inner_texts() == [
        "Korte naam in het adres: Deze waarde heeft niet de juiste vorm.",
        "Thema: Vul dit veld in.",
    ]
    # The summary reads top to bottom: its list of problems under its heading.
    title = await page.locator(".portal-alert h2").bounding_box()
    problems = await page.locator(".portal-alert ul").bounding_box()
    assert title is not None
    assert problems is not None
    assert problems["y"] >= title["y"] + title["height"]
    # The heading starts at the alert's top, with no empty band above it.
    alert = await page.locator(".portal-alert").bounding_box()
    assert alert is not None
    assert title["y"] - alert["y"] <= 24, (alert, title)
    found += await barriers(page)
    await shot(page, "initiative-new-errors-nl")

    await page.fill("#f-slug", f"inkoopteam-{uuid.uuid4().hex[:6]}")
    await page.fill("#f-theme", "inkoop")
    await submit(page, "form[action='/initiatives/new']")
    assert await page.locator("h1").inner_text() == name
    assert "Dienst Dommelvallei" in await page.locator("main").inner_text()
    found += await checked(page, base, "initiative-proposed")
    assert found == []
    await context.close()


async def test_a_municipality_joins_and_leaves_a_pilot(platform: Any, browser: Any) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    base = platform.url
    await page.goto(f"{base}/initiatives")
    await page.locator("a", has_text="FSC").first.click()
    await page.wait_for_selector("#pilot-title")
    facility_path = page.url.removeprefix(base)
    found = await checked(page, base, "initiative-public")

    await login(page, base, "eherkenning", "eh-amersfoort-beheer")
    await set_language(page, base, "nl")
    await page.goto(f"{base}{facility_path}")
    join = f"form[action='{facility_path}/pilot-participants']"
    await submit(page, join)
    assert "Uw gemeente doet mee aan de pilot." in await page.locator("main").inner_text()
    table = page.locator("section[aria-labelledby=pilot-title] table")
    assert "Amersfoort" in await table.inner_text()
    found += await checked(page, base, "initiative-pilot-joined")
    await submit(page, "form[action$='/leave']")
    assert "niet meer mee" in await page.locator("main").inner_text()
    assert await page.locator(join).count() == 1
    assert found == []
    await context.close()


async def test_the_operator_records_an_analysis_and_loads_population(
    platform: Any, browser: Any
) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    base = platform.url
    await login(page, base, "eherkenning", "eh-operator")
    await set_language(page, base, "nl")
    await page.goto(f"{base}/initiatives")
    await page.locator("a", has_text="FSC").first.click()
    await page.wait_for_selector("#analysis-title")
    form = "form[action$='/impact-analyses']"
    await page.select_option("#f-outcome", "conditional")
    await page.fill("#f-completedOn", "2026-11-30")
    await page.fill("#f-documentUrl", "niet een adres")
    await submit(page, form)
    assert await page.locator("#f-summary-error").count() == 1
    assert await page.locator("#f-documentUrl-error").count() == 1
    assert await page.input_value("#f-documentUrl") == "niet een adres"
    found = await barriers(page)
    await shot(page, "initiative-analysis-errors-nl")
    await page.fill("#f-summary", "Haalbaar met een regionale beheerorganisatie.")
    await page.fill("#f-documentUrl", "https://www.vng.nl/fsc-impactanalyse.pdf")
    await submit(page, form)
    assert "Positief onder voorwaarden" in await page.locator("#analysis-title ~ ol").inner_text()
    found += await checked(page, base, "initiative-analysis")

    await page.goto(f"{base}/operator/facilities")
    await page.locator("a[href='/operator/population']").click()
    await page.wait_for_selector("#f-file")
    found += await checked(page, base, "population")
    upload = "form[action='/operator/population']"
    wrong = b"gemeentecode;inwoners;jaar;bron\nGM0344;veel;2024;CBS StatLine\nGM9999;5;2024;\n"
    await page.set_input_files(
        "#f-file", files=[{"name": "fout.csv", "mimeType": "text/csv", "buffer": wrong}]
    )
    await submit(page, upload)
    assert await page.locator("#f-file-error").count() == 1
    assert await page.locator(".portal-report tbody tr").count() == 2
    found += await barriers(page)
    await shot(page, "population-report-nl")
    good = b"code;inhabitants;year;source\nGM0344;367984;2024;CBS StatLine 03759ned\n"
    await page.set_input_files(
        "#f-file", files=[{"name": "cbs-2024.csv", "mimeType": "text/csv", "buffer": good}]
    )
    await page.uncheck("#f-dryRun")
    await submit(page, upload)
    assert "1 inwonertallen opgeslagen" in await page.locator("main").inner_text()
    found += await barriers(page)
    await shot(page, "population-stored-nl")
    assert found == []
    await context.close()
