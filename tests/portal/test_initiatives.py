"""Initiatives ranked by support (public), pledge and withdraw for municipal staff, and
the municipality's decisions ahead and costs (fake gateway)."""

from __future__ import annotations

import json
from typing import Any

from conftest import Portal
from test_errors import UTRECHT, csrf_of, form_id_of, page_of

REG = "/api/registry/v1"
FAC = "11111111-1111-1111-1111-111111111111"
ORG = "22222222-2222-2222-2222-222222222222"


def initiative(name: str, rank: int, pledges: int, facility_id: str) -> dict[str, Any]:
    return {
        "facilityId": facility_id,
        "slug": name.lower(),
        "name": name,
        "description": "",
        "kind": "platform",
        "theme": "x",
        "stage": "pilot",
        "support": {
            "pledges": pledges,
            "interest": pledges,
            "pilot": 0,
            "coFund": 0,
            "coFundAmount": 0,
            "provinces": [{"province": "Utrecht", "pledges": pledges}],
            "inhabitantsCovered": 361966 * pledges,
            "supportersWithoutPopulation": 0,
        },
        "pilotParticipants": 0,
        "rank": rank,
    }


def script(portal: Portal) -> None:
    portal.fake.json(
        "GET",
        f"{REG}/initiatives",
        page_of(
            [
                initiative("Tweede", 2, 1, "33333333-3333-3333-3333-333333333333"),
                initiative("Eerste", 1, 3, FAC),
            ]
        ),
    )
    portal.fake.json(
        "GET", f"{REG}/organisations", page_of([{"id": ORG, "name": "Gemeente Utrecht"}])
    )
    portal.fake.json("GET", f"{REG}/facilities/{FAC}/pledges", page_of([]))
    portal.fake.json(
        "GET", f"{REG}/facilities/33333333-3333-3333-3333-333333333333/pledges", page_of([])
    )


async def test_initiatives_are_public_and_ranked_by_support(portal: Portal) -> None:
    script(portal)
    page = await portal.client.get("/initiatives")
    assert page.status_code == 200
    assert page.text.index("Eerste") < page.text.index("Tweede")
    assert "1.085.898" in page.text  # inhabitants covered, grouped as Dutch readers do
    assert "Utrecht: 3" in page.text
    assert "/initiatives/pledge" not in page.text, "no pledge form without a staff login"


async def test_staff_pledge_sends_their_municipality_and_the_amount(portal: Portal) -> None:
    script(portal)
    await portal.login(**UTRECHT)
    portal.fake.json("POST", f"{REG}/facilities/{FAC}/pledges", {"id": "p"}, status=201)
    html = (await portal.client.get("/initiatives")).text
    assert 'action="/initiatives/pledge"' in html
    response = await portal.client.post(
        "/initiatives/pledge",
        data={
            "csrf": csrf_of(html),
            "form_id": form_id_of(html),
            "facilityId": FAC,
            "kind": "co-fund",
            "amount": "5.000",  # five thousand, as Dutch people write it
        },
    )
    assert response.status_code == 303
    _, _, headers, body = portal.fake.api_calls(f"{REG}/facilities/{FAC}/pledges")[-1]
    assert json.loads(body) == {"kind": "co-fund", "amount": 5000, "municipalityId": ORG}
    assert headers["idempotency-key"]


async def test_no_pledge_form_when_every_initiative_has_the_municipality_s_pledge(
    portal: Portal,
) -> None:
    script(portal)
    await portal.login(**UTRECHT)
    for facility_id in (FAC, "33333333-3333-3333-3333-333333333333"):
        pledge = {"id": f"p-{facility_id[:4]}", "kind": "interest", "amount": None,
                  "municipality": {"id": ORG, "name": "Gemeente Utrecht"}}  # fmt: skip
        portal.fake.json("GET", f"{REG}/facilities/{facility_id}/pledges", page_of([pledge]))
    html = (await portal.client.get("/initiatives")).text
    assert 'action="/initiatives/pledge"' not in html  # not a form with nothing to choose
    assert "Gemeente Utrecht steunt alle initiatieven in de lijst al." in html
    assert html.count("/withdraw") == 2


async def test_a_refused_pledge_is_shown_next_to_the_field(portal: Portal) -> None:
    script(portal)
    await portal.login(**UTRECHT)
    portal.fake.json(
        "POST",
        f"{REG}/facilities/{FAC}/pledges",
        {
            "title": "Bad Request",
            "status": 400,
            "invalidParams": [{"name": "amount", "reason": "amount is required for co-fund"}],
        },
        status=400,
    )
    html = (await portal.client.get("/initiatives")).text
    response = await portal.client.post(
        "/initiatives/pledge",
        data={
            "csrf": csrf_of(html),
            "form_id": form_id_of(html),
            "facilityId": FAC,
            "kind": "co-fund",
        },
    )
    assert response.status_code == 400
    assert "Vul bij meefinancieren een bedrag groter dan 0 in." in response.text


async def test_decisions_ahead_and_costs_without_population(portal: Portal) -> None:
    script(portal)
    await portal.login(**UTRECHT)
    portal.fake.json(
        "GET",
        "/api/procurement/v1/decisions-ahead",
        page_of(
            [
                {
                    "usageId": "u",
                    "facilityId": FAC,
                    "facilityName": "Telefonie",
                    "theme": "x",
                    "contractEndDate": "2027-06-30",
                    "noticePeriodMonths": 6,
                    "noticeDeadline": "2026-12-31",
                    "noticeDeadlinePassed": False,
                    "collectiveFacilities": [
                        {
                            "facilityId": FAC,
                            "slug": "gt",
                            "name": "Gemeentelijke telecom",
                            "stage": "operational",
                        }
                    ],
                    "tenders": [
                        {
                            "tenderId": "t-open",
                            "title": "Telefonie 2026",
                            "status": "open-for-enrollment",
                        },
                        {"tenderId": "t-draft", "title": "Telefonie 2027", "status": "draft"},
                    ],
                }
            ]
        ),
    )
    portal.fake.json(
        "GET",
        f"{REG}/organisations/{ORG}/costs",
        {
            "municipalityId": ORG,
            "municipalityName": "Gemeente Utrecht",
            "annualCostTotal": 12000,
            "usagesWithCost": 1,
            "usagesWithoutCost": 2,
            "population": None,
            "costPerInhabitant": None,
            "usages": [],
        },
    )
    page = await portal.client.get("/initiatives/decisions")
    assert page.status_code == 200
    # A planned (draft) tender is named, not linked: its page is not public yet.
    assert '<a class="utrecht-link" href="/tenders/t-open">Telefonie 2026</a>' in page.text
    assert "Telefonie 2027 (Concept)" in page.text
    assert 'href="/tenders/t-draft"' not in page.text
    assert "Gemeentelijke telecom" in page.text
    assert "31-12-2026" in page.text
    assert "geen inwonertal bekend" in page.text


async def test_decisions_need_municipal_staff(portal: Portal) -> None:
    response = await portal.client.get("/initiatives/decisions")
    assert response.status_code == 303


async def test_a_pledge_without_an_initiative_is_refused_before_the_api(portal: Portal) -> None:
    script(portal)
    await portal.login(**UTRECHT)
    html = (await portal.client.get("/initiatives")).text
    response = await portal.client.post(
        "/initiatives/pledge",
        data={"csrf": csrf_of(html), "form_id": form_id_of(html), "kind": "interest"},
    )
    assert response.status_code == 400
    assert "Vul dit veld in." in response.text
    assert not [c for c in portal.fake.calls if c[1].endswith("/pledges") and c[0] == "POST"]


async def test_costs_per_inhabitant_with_a_population_figure(portal: Portal) -> None:
    script(portal)
    await portal.login(**UTRECHT)
    portal.fake.json("GET", "/api/procurement/v1/decisions-ahead", page_of([]))
    portal.fake.json(
        "GET",
        f"{REG}/organisations/{ORG}/costs",
        {
            "municipalityId": ORG,
            "municipalityName": "Gemeente Utrecht",
            "annualCostTotal": 79632.52,
            "usagesWithCost": 1,
            "usagesWithoutCost": 0,
            "population": {"inhabitants": 361966, "year": 2024, "source": "CBS StatLine"},
            "costPerInhabitant": 0.22,
            "usages": [],
        },
    )
    text = (await portal.client.get("/initiatives/decisions")).text
    assert "€ 79.632,52" in text
    assert "€ 0,22 (361.966 inwoners, 2024, CBS StatLine)" in text
    assert "geen inwonertal bekend" not in text
    await portal.client.get("/language", params={"lang": "en"})
    text = (await portal.client.get("/initiatives/decisions")).text
    assert "€ 79,632.52" in text
    assert "€ 0.22 (361,966 inhabitants, 2024, CBS StatLine)" in text


async def test_a_co_funding_amount_is_typed_as_written(portal: Portal) -> None:
    """A text field (a number field turned "12.500,75" into 12.50075 in Chromium): read as
    Dutch, and the API's decimal places message said in Dutch next to the field."""
    script(portal)
    await portal.login(**UTRECHT)
    portal.fake.json("POST", f"{REG}/facilities/{FAC}/pledges", {"id": "p"}, status=201)
    html = (await portal.client.get("/initiatives")).text
    assert 'id="f-amount" name="amount" type="text"' in html
    fields = {"csrf": csrf_of(html), "form_id": form_id_of(html), "facilityId": FAC,
              "kind": "co-fund", "amount": "12.500,75"}  # fmt: skip
    assert (await portal.client.post("/initiatives/pledge", data=fields)).status_code == 303
    _, _, _, body = portal.fake.api_calls(f"{REG}/facilities/{FAC}/pledges")[-1]
    assert json.loads(body)["amount"] == 12500.75
    problem = {"title": "Bad Request", "status": 400, "invalidParams": [
        {"name": "amount", "reason": "Decimal input should have no more than 2 decimal places"}
    ]}  # fmt: skip
    portal.fake.json("POST", f"{REG}/facilities/{FAC}/pledges", problem, status=400)
    fields["amount"] = "12.500,755"
    refused = await portal.client.post("/initiatives/pledge", data=fields)
    assert refused.status_code == 400
    assert (
        'id="f-amount-error">Gebruik ten hoogste 2 cijfers achter de komma.</div>' in refused.text
    )
    assert 'value="12.500,755"' in refused.text
