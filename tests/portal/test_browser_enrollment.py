"""Flows 5 and 6 in Chromium against the real platform. A municipal buyer logged in at
level low (EH2) enrolls in a joint tender with the keyboard alone (Tab, Space, Enter,
arrows, typing): the mandate needs level substantial, so identity asks for a stronger
log-in and the form comes back as it was typed; then the signed mandate and the
withdrawal. "My data" lists the portal's own disclosures. axe-core on each page in both
languages (0 serious or critical violations)."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from a11y import barriers
from browserkit import CHROMIUM, EH3, set_language, shot
from e2ekit import LOA_LOW, Browser, Rp, basic_auth, bearer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(600),
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM}"),
]
EH2 = "urn:etoegang:core:assurance-class:loa2"
BUYER = "eh-utrecht-inkoop"
LEAD = "eh-dommelvallei-inkoop"
SCOPES = "openid profile registry:read procurement:read procurement:manage"


async def open_tender(base: str) -> dict[str, Any]:
    """A tender of our own, open for enrollment, created by the lead party via the API."""
    async with httpx.AsyncClient(base_url=base, timeout=60) as api:
        r = await api.post(
            "/auth/token",
            data={"grant_type": "client_credentials", "scope": "identity:admin registry:read"},
            headers={"Authorization": basic_auth("samen-admin", "samen-admin-dev-secret")},
        )
        admin = bearer(r.json()["access_token"])
        redirect = "http://127.0.0.1:9/callback"
        r = await api.post(
            "/api/identity/v1/clients",
            json={
                "clientId": "e2e-portal-lead",
                "name": "E2E lead",
                "grantType": "authorization_code",
                "tokenEndpointAuthMethod": "client_secret_basic",
                "redirectUris": [redirect],
                "allowedScopes": SCOPES.split(),
                "minimumLoa": LOA_LOW,
                "sector": "e2e-portal-lead",
            },
            headers=admin,
        )
        assert r.status_code == 201, r.text
        rp = Rp("e2e-portal-lead", r.json()["clientSecret"], redirect)
        browser = Browser(base)
        try:
            lead = bearer(
                (await browser.login(rp, "eherkenning", LEAD, EH3, SCOPES))["access_token"]
            )
        finally:
            await browser.aclose()
        party = (
            await api.get(
                "/api/registry/v1/organisations",
                params={"oin": "00000001008765432000"},
                headers=admin,
            )
        ).json()["items"][0]
        facility = (
            await api.get(
                "/api/registry/v1/facilities",
                params={"slug": "gemeentelijke-telecommunicatie"},
                headers=admin,
            )
        ).json()["items"][0]
        now = datetime.now(UTC)
        r = await api.post(
            "/api/procurement/v1/tenders",
            json={
                "facilityId": facility["id"],
                "leadPartyId": party["id"],
                "title": "Telefonie 2029 (portaal e2e)",
                "procedure": "open",
                "estimatedValue": {"amount": 900000, "currency": "EUR"},
                "enrollmentOpensAt": (now - timedelta(minutes=1)).isoformat(),
                "enrollmentClosesAt": (now + timedelta(days=30)).isoformat(),
                "plannedStartDate": (date.today() + timedelta(days=365)).isoformat(),
                "contractDurationMonths": 48,
                "lots": [{"title": "Vaste telefonie", "unit": "seat"}],
            },
            headers=lead,
        )
        assert r.status_code == 201, r.text
        tender: dict[str, Any] = r.json()
        r = await api.post(
            f"/api/procurement/v1/tenders/{tender['id']}/publication", json={}, headers=lead
        )
        assert r.status_code == 200, r.text
        return tender


async def tab_to(page: Any, selector: str, limit: int = 80) -> None:
    """Press Tab until the element matching ``selector`` has the focus."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await page.evaluate(
            "s => document.activeElement && document.activeElement.matches(s)", selector
        ):
            return
    raise AssertionError(f"Tab never reached {selector} on {page.url}")


async def choose(page: Any, name: str, value: str) -> None:
    """A radio button: Tab into its group, arrows until the wanted one is checked."""
    await tab_to(page, f"input[type=radio][name='{name}']")
    for _ in range(40):
        if await page.is_checked(f"input[name='{name}'][value='{value}']"):
            return
        await page.keyboard.press("ArrowDown")
    raise AssertionError(f"no radio {name}={value}")


async def pick(page: Any, selector: str, value: str) -> None:
    """A select: Tab to it, arrows until the wanted option is selected (Home first)."""
    await tab_to(page, selector)
    await page.keyboard.press("Home")
    for _ in range(20):
        if await page.input_value(selector) == value:
            return
        await page.keyboard.press("ArrowDown")
    raise AssertionError(f"no option {value} in {selector}")


async def identity_login(page: Any, identity: str, level: str) -> None:
    """identity's log-in page and eHerkenning simulator, by keyboard."""
    await page.wait_for_selector("form[action='/auth/login'], #identity-" + identity)
    if await page.locator("form[action='/auth/login']").count():
        await choose(page, "means", "eherkenning")
        await tab_to(page, "form[action='/auth/login'] button[type=submit]")
        await page.keyboard.press("Enter")
        await page.wait_for_selector(f"#identity-{identity}")
    await choose(page, "identity", identity)
    await pick(page, "#level", level)
    await tab_to(page, "button[value=login]")
    await page.keyboard.press("Enter")


async def test_buyer_enrolls_with_step_up_by_keyboard_and_my_data(
    platform: Any, browser: Any
) -> None:
    base = platform.url
    tender = await open_tender(base)
    context = await browser.new_context(locale="en-US")
    page = await context.new_page()
    found: list[str] = []
    await page.goto(f"{base}/")
    await tab_to(page, "a[href^='/login']")
    await page.keyboard.press("Enter")
    await identity_login(page, BUYER, EH2)
    await page.wait_for_selector("form[action='/logout']")
    # The menu leads to the open tenders, then to ours.
    await tab_to(page, "a[href='/enrollment']")
    await page.keyboard.press("Enter")
    await page.wait_for_selector("h1")
    found += await barriers(page)
    await tab_to(page, f"a[href='/enrollment/{tender['id']}']")
    await page.keyboard.press("Enter")
    await page.wait_for_selector("form.portal-form")
    found += await barriers(page)
    lot = tender["lots"][0]["id"]
    await tab_to(page, f"#f-lot-{lot}")
    await page.keyboard.press("Space")
    await tab_to(page, f"#f-volume-{lot}")
    await page.keyboard.type("40")
    await tab_to(page, "#f-signerName")
    await page.keyboard.type("Sharon Dijksma")
    await tab_to(page, "#f-signerRole")
    await page.keyboard.type("burgemeester")
    signed = date.today() - timedelta(days=1)
    await tab_to(page, "#f-signedDate")
    await page.keyboard.type(signed.strftime("%m%d%Y"))
    await tab_to(page, "#f-authorisesLeadParty")
    await page.keyboard.press("Space")
    await tab_to(page, "form.portal-form button[type=submit]")
    await page.keyboard.press("Enter")
    # Level low: identity asks for a stronger log-in, then the same form, as typed.
    await identity_login(page, BUYER, EH3)
    await page.wait_for_url(f"{base}/enrollment/{tender['id']}")
    assert await page.input_value("#f-signerName") == "Sharon Dijksma"
    assert await page.input_value(f"#f-volume-{lot}") == "40"
    assert await page.is_checked("#f-authorisesLeadParty")
    await shot(page, "enrollment-after-step-up")
    await tab_to(page, "form.portal-form button[type=submit]")
    await page.keyboard.press("Enter")
    await page.wait_for_selector("dl.portal-facts")
    text = await page.inner_text("main")
    assert "Sharon Dijksma" in text
    assert "substantieel" in text
    found += await barriers(page)
    await shot(page, "enrollment-signed")
    for lang in ("en", "nl"):
        await set_language(page, base, lang)
        await page.goto(f"{base}/enrollment/{tender['id']}")
        found += await barriers(page)
        await page.goto(f"{base}/enrollment")
        found += await barriers(page)
        await page.goto(f"{base}/mydata")
        assert await page.locator(".portal-card").count() >= 1
        found += await barriers(page)
        await shot(page, f"mydata-{lang}")
    # Withdraw before closing, by keyboard.
    await page.goto(f"{base}/enrollment/{tender['id']}")
    await tab_to(page, "form[action$='/withdrawal'] button[type=submit]")
    await page.keyboard.press("Enter")
    await page.wait_for_selector("form.portal-form input[name=signerName]")
    assert "ingetrokken" in await page.inner_text("main")
    await context.close()
    assert found == []
