"""My data: identity's disclosure log of the person, as that person, in plain language."""

from __future__ import annotations

from conftest import Portal
from test_errors import page_of

DISCLOSURES = "/api/identity/v1/me/disclosures"
ROWS = [
    {
        "id": "d-1",
        "clientId": "portal",
        "clientName": "Samen portaal",
        "channel": "token",
        "attributes": ["sub", "name", "org_id"],
        "acr": "urn:etoegang:core:assurance-class:loa3",
        "at": "2026-12-01T09:30:00Z",
    },
    {
        "id": "d-2",
        "clientId": "zaak",
        "clientName": "Zaaksysteem Utrecht",
        "channel": "userinfo",
        "attributes": ["email", "shoe_size"],
        "acr": "urn:etoegang:core:assurance-class:loa3",
        "at": "2026-12-03T14:00:00Z",
    },
]


async def test_my_data_needs_a_login(portal: Portal) -> None:
    response = await portal.client.get("/mydata")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


async def test_my_data_lists_who_received_what_in_both_languages(portal: Portal) -> None:
    await portal.login()
    portal.fake.json("GET", DISCLOSURES, page_of(ROWS))
    page = await portal.client.get("/mydata")
    assert page.status_code == 200
    text = page.text
    assert "Zaaksysteem Utrecht" in text
    assert "Samen portaal" in text
    assert text.index("Zaaksysteem Utrecht") < text.index("Samen portaal"), "newest first"
    assert "uw e-mailadres" in text
    assert "uw naam" in text
    assert "shoe_size" in text, "an unknown attribute shows as it is"
    assert "03-12-2026" in text
    _, _, headers, _ = portal.fake.api_calls(DISCLOSURES)[0]
    assert headers["authorization"].startswith("Bearer "), "as the person, not the portal"
    await portal.client.get("/language", params={"lang": "en", "next": "/mydata"})
    english = (await portal.client.get("/mydata")).text
    assert "your email address" in english
    assert "Who received my data" in english


async def test_my_data_says_so_when_nothing_was_passed_on(portal: Portal) -> None:
    await portal.login()
    portal.fake.json("GET", DISCLOSURES, page_of([]))
    text = (await portal.client.get("/mydata")).text
    assert "Er zijn nog geen gegevens van u doorgegeven." in text
