"""Flow 4 against the fake gateway: the tender form's body (only filled-in lot rows,
whole-day window), an API problem on a lot's value next to that field with the input
kept and a new Idempotency-Key, and the section only for the lead-tender role."""

from __future__ import annotations

import json

from conftest import Portal
from test_errors import UTRECHT, csrf_of, form_id_of, page_of

LEAD = {
    "org_type": "cooperation",
    "org_id": "00000001008765432000",
    "org_name": "Dienst Dommelvallei",
    "roles": ["procurement-manager"],
}
FACILITY = {"id": "f-1", "name": "Gemeentelijke Telecommunicatie"}
FORM = {
    "facilityId": "f-1",
    "title": "Telefonie 2027",
    "procedure": "open",
    "estimatedValue": "1.000.000",  # as Dutch people write it
    "opensOn": "2030-01-01",
    "closesOn": "2030-02-01",
    "plannedStartDate": "2030-06-01",
    "contractDurationMonths": "36",
    "lot0_title": "Vast",
    "lot0_unit": "aansluiting",
    "lot0_value": "250.000",
    "lot1_title": "",
}


def script(portal: Portal) -> None:
    portal.fake.json("GET", "/api/registry/v1/facilities", page_of([FACILITY]))
    portal.fake.json(
        "GET",
        "/api/registry/v1/organisations",
        page_of([{"id": "o-lead", "name": "Dienst Dommelvallei", "oin": LEAD["org_id"]}]),
    )


def refuse(portal: Portal, name: str, reason: str) -> None:
    """Procurement refuses the new tender, naming one parameter."""
    problem = {
        "status": 400,
        "title": "Bad Request",
        "invalidParams": [{"name": name, "reason": reason}],
    }
    portal.fake.json("POST", "/api/procurement/v1/tenders", problem, status=400)


async def test_an_invalid_lot_value_is_shown_next_to_its_field(portal: Portal) -> None:
    await portal.login(**LEAD)
    script(portal)
    refuse(portal, "lots[0].estimatedValue", "exceeds the tender's estimatedValue")
    page = await portal.client.get("/leading/tenders/new")
    assert page.status_code == 200
    first_id = form_id_of(page.text)
    fields = {"csrf": csrf_of(page.text), "form_id": first_id, **FORM}
    response = await portal.client.post("/leading/tenders/new", data=fields)
    assert response.status_code == 400
    assert 'id="f-lot0_value-error"' in response.text
    assert 'value="250.000"' in response.text
    assert 'value="Telefonie 2027"' in response.text
    assert form_id_of(response.text) != first_id
    ((_, _, headers, body),) = [
        c for c in portal.fake.api_calls("/api/procurement/v1/tenders") if c[0] == "POST"
    ]
    assert headers["idempotency-key"] == first_id
    sent = json.loads(body)
    assert sent["leadPartyId"] == "o-lead"
    assert sent["estimatedValue"] == {"amount": 1000000}
    assert sent["lots"] == [
        {"title": "Vast", "unit": "aansluiting", "estimatedValue": {"amount": 250000}}
    ]
    assert sent["enrollmentOpensAt"] == "2030-01-01T00:00:00+01:00"
    assert sent["plannedStartDate"] == "2030-06-01"
    assert sent["contractDurationMonths"] == 36


async def test_empty_fields_and_no_lots_are_said_as_missing(portal: Portal) -> None:
    await portal.login(**LEAD)
    script(portal)
    refuse(portal, "lots", "List should have at least 1 item after validation, not 0")
    page = await portal.client.get("/leading/tenders/new")
    no_lots = {**FORM, "lot0_title": "", "lot0_unit": "", "lot0_value": ""}
    no_lots |= {"estimatedValue": "", "opensOn": "", "contractDurationMonths": ""}
    fields = {"csrf": csrf_of(page.text), "form_id": form_id_of(page.text), **no_lots}
    response = await portal.client.post("/leading/tenders/new", data=fields)
    assert response.status_code == 400
    assert 'id="f-lot0_title-error">Vul dit veld in.</div>' in response.text
    assert "lots:" not in response.text  # no API name in a general message
    assert 'value="Telefonie 2027"' in response.text
    ((_, _, _, body),) = [
        c for c in portal.fake.api_calls("/api/procurement/v1/tenders") if c[0] == "POST"
    ]
    sent = json.loads(body)
    # Empty fields are left out: the API names them as missing, not as malformed.
    for name in ("estimatedValue", "enrollmentOpensAt", "contractDurationMonths"):
        assert name not in sent, name
    assert sent["lots"] == []


async def test_a_lot_s_message_lands_on_the_row_it_came_from(portal: Portal) -> None:
    """The API numbers the lots it was sent. With the first row left empty, its ``lots[0]``
    is the form's second row; a row with a unit but no title is sent, not dropped."""
    await portal.login(**LEAD)
    script(portal)
    refuse(portal, "lots[0].title", "String should have at least 1 character")
    page = await portal.client.get("/leading/tenders/new")
    rows = {"lot0_title": "", "lot0_unit": "", "lot0_value": ""}
    rows |= {"lot1_title": "", "lot1_unit": "gebruiker", "lot1_value": ""}
    rows |= {"lot2_title": "Mobiel", "lot2_unit": "abonnement", "lot2_value": "5000"}
    fields = {"csrf": csrf_of(page.text), "form_id": form_id_of(page.text), **FORM, **rows}
    response = await portal.client.post("/leading/tenders/new", data=fields)
    assert response.status_code == 400
    assert 'id="f-lot1_title-error">Vul dit veld in.</div>' in response.text
    assert 'id="f-lot0_title-error"' not in response.text
    assert 'value="gebruiker"' in response.text
    ((_, _, _, body),) = [
        c for c in portal.fake.api_calls("/api/procurement/v1/tenders") if c[0] == "POST"
    ]
    assert json.loads(body)["lots"] == [
        {"title": "", "unit": "gebruiker"},
        {"title": "Mobiel", "unit": "abonnement", "estimatedValue": {"amount": 5000}},
    ]
    portal.fake.calls.clear()
    refuse(portal, "lots[1].estimatedValue.amount", "Input should be greater than 0")
    fields["form_id"] = form_id_of(response.text)
    response = await portal.client.post("/leading/tenders/new", data=fields)
    assert 'id="f-lot2_value-error">Vul een getal in groter dan 0.</div>' in response.text


async def test_leading_is_only_for_the_lead_tender_role(portal: Portal) -> None:
    await portal.login(**UTRECHT)
    assert (await portal.client.get("/leading/tenders")).status_code == 403
    home = await portal.client.get("/")
    assert "/leading/tenders" not in home.text
