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


TENDER_ID = "22222222-3333-4444-5555-666666666666"
TENDER = f"/api/procurement/v1/tenders/{TENDER_ID}"
DRAFT = {
    "id": TENDER_ID, "title": "Telefonie 2027", "description": "", "status": "draft",
    "procedure": "open", "facility": FACILITY, "leadParty": {"id": "o-lead", "name": "D"},
    "estimatedValue": {"amount": 250000.0, "currency": "EUR"},
    "enrollmentOpensAt": "2029-12-31T23:00:00Z", "enrollmentClosesAt": "2030-02-01T22:59:00Z",
    "plannedStartDate": "2030-06-01", "contractDurationMonths": 36, "lots": [],
    "cancellationReason": None,
}  # fmt: skip


def script_draft(portal: Portal, etag: str = '"v1"') -> None:
    script(portal)
    portal.fake.json("GET", TENDER, DRAFT, ETag=etag)
    portal.fake.json("GET", f"{TENDER}/enrollments", page_of([]))
    portal.fake.json("GET", f"{TENDER}/demand", {"lots": [], "provinces": []})


async def test_a_draft_is_changed_on_the_version_it_was_read_at(portal: Portal) -> None:
    await portal.login(**LEAD)
    script_draft(portal)
    detail = await portal.client.get(f"/leading/tenders/{TENDER_ID}")
    assert f'href="/leading/tenders/{TENDER_ID}/edit"' in detail.text
    page = await portal.client.get(f"/leading/tenders/{TENDER_ID}/edit")
    assert page.status_code == 200
    for shown in ('value="250000"', 'value="2030-01-01"', 'value="2030-02-01"', 'value="36"'):
        assert shown in page.text, shown  # the window as Dutch days
    fields = {"csrf": csrf_of(page.text), "form_id": form_id_of(page.text), "etag": '"v1"',
              "title": "Telefonie 2028", "description": "", "procedure": "restricted",
              "estimatedValue": "300.000", "opensOn": "2030-01-01", "closesOn": "2030-02-15",
              "plannedStartDate": "2030-06-01", "contractDurationMonths": "36"}  # fmt: skip
    portal.fake.json("PATCH", TENDER, {**DRAFT, "title": "Telefonie 2028"}, ETag='"v2"')
    saved = await portal.client.post(f"/leading/tenders/{TENDER_ID}/edit", data=fields)
    assert saved.status_code == 303
    assert saved.headers["location"] == f"/leading/tenders/{TENDER_ID}"
    ((_, _, headers, body),) = [c for c in portal.fake.api_calls(TENDER) if c[0] == "PATCH"]
    assert headers["if-match"] == '"v1"'
    assert json.loads(body) == {
        "title": "Telefonie 2028", "procedure": "restricted", "plannedStartDate": "2030-06-01",
        "estimatedValue": {"amount": 300000}, "contractDurationMonths": 36,
        "enrollmentOpensAt": "2030-01-01T00:00:00+01:00",
        "enrollmentClosesAt": "2030-02-15T23:59:00+01:00",
    }  # fmt: skip
    # Someone changed it meanwhile: the input stays, the form now carries their version.
    script_draft(portal, etag='"v3"')
    portal.fake.json("PATCH", TENDER, {"status": 412, "title": "Precondition Failed"}, status=412)
    stale = await portal.client.post(f"/leading/tenders/{TENDER_ID}/edit", data=fields)
    assert stale.status_code == 409
    assert 'value="Telefonie 2028"' in stale.text
    assert 'name="etag" value="&#34;v3&#34;"' in stale.text


async def test_a_tender_is_cancelled_only_with_a_reason(portal: Portal) -> None:
    await portal.login(**LEAD)
    script_draft(portal)
    detail = await portal.client.get(f"/leading/tenders/{TENDER_ID}")
    action = f"/leading/tenders/{TENDER_ID}/cancellation"
    assert f'action="{action}"' in detail.text
    fields = {"csrf": csrf_of(detail.text), "form_id": form_id_of(detail.text), "reason": " "}
    refused = await portal.client.post(action, data=fields)
    assert refused.status_code == 400
    assert 'id="f-reason-error">Vul dit veld in.</div>' in refused.text
    assert not portal.fake.api_calls(f"{TENDER}/cancellation")
    portal.fake.json("POST", f"{TENDER}/cancellation", {**DRAFT, "status": "cancelled"})
    fields["reason"] = "Geen budget meer"
    done = await portal.client.post(action, data=fields)
    assert done.status_code == 303
    ((_, _, _, body),) = portal.fake.api_calls(f"{TENDER}/cancellation")
    assert json.loads(body) == {"reason": "Geen budget meer"}
    cancelled = {**DRAFT, "status": "cancelled", "cancellationReason": "Geen budget meer"}
    portal.fake.json("GET", TENDER, cancelled, ETag='"v4"')
    page = await portal.client.get(f"/leading/tenders/{TENDER_ID}")
    assert "De aanbesteding is geannuleerd." in page.text
    assert "Geannuleerd: Geen budget meer" in page.text
    assert f'action="{action}"' not in page.text
    assert f"/leading/tenders/{TENDER_ID}/edit" not in page.text


async def test_withheld_demand_is_said_not_drawn_as_zero(portal: Portal) -> None:
    """Procurement withholds a lot's figures and the provinces from anyone but the
    tender's lead party (e.g. the operator): the page says so instead of failing."""
    await portal.login(**LEAD)
    script_draft(portal)
    lot = {"lotId": "l1", "number": 1, "title": "Vast", "unit": "aansluiting",
           "participants": None, "totalVolume": None, "withheld": True,
           "estimatedValue": {"amount": 1000.0, "currency": "EUR"}}  # fmt: skip
    portal.fake.json("GET", f"{TENDER}/demand", {
        "lots": [lot], "provinces": [], "breakdown": "lot-totals", "withheld": True,
        "withheldExplanation": "only the lead party"})  # fmt: skip
    detail = await portal.client.get(f"/leading/tenders/{TENDER_ID}")
    assert detail.status_code == 200, detail.text
    assert "niet getoond (minder dan 3 gemeenten)" in detail.text
    assert "De vraag per provincie ziet alleen de penvoerder" in detail.text


async def test_a_tender_led_by_another_organisation_is_refused(portal: Portal) -> None:
    """VNG staff with the role open a tender Dienst Dommelvallei leads: a 403 page before
    any form (cancel, publish, edit), for GET and POST, and nothing is sent."""
    vng = {**LEAD, "org_id": "00000001002220647000", "org_name": "VNG"}
    await portal.login(**vng)
    script_draft(portal)
    led_elsewhere = {**DRAFT, "leadParty": {"id": "o-lead", "name": "D", "oin": LEAD["org_id"]}}
    portal.fake.json("GET", TENDER, led_elsewhere, ETag='"v1"')
    detail = await portal.client.get(f"/leading/tenders/{TENDER_ID}")
    assert detail.status_code == 403
    assert "cancellation" not in detail.text
    assert "Nog geen aanmeldingen" not in detail.text
    for path in ("edit", "ocds.json", "demand.csv"):
        assert (await portal.client.get(f"/leading/tenders/{TENDER_ID}/{path}")).status_code == 403
    token = csrf_of((await portal.client.get("/leading/tenders/new")).text)
    for path in ("cancellation", "publication", "edit"):
        posted = await portal.client.post(
            f"/leading/tenders/{TENDER_ID}/{path}",
            data={"csrf": token, "form_id": "x", "reason": "Geen budget meer"},
        )
        assert posted.status_code == 403, path
    assert [c[0] for c in portal.fake.api_calls(TENDER)] == ["GET"] * 7
    assert not portal.fake.api_calls(f"{TENDER}/cancellation")
    assert not portal.fake.api_calls(f"{TENDER}/enrollments")
    # The lead party itself (its OIN in the answer) still sees the page.
    await portal.login(**LEAD)
    assert (await portal.client.get(f"/leading/tenders/{TENDER_ID}")).status_code == 200


async def test_a_withheld_lot_gets_no_bar_in_the_chart(portal: Portal) -> None:
    await portal.login(**LEAD)
    script_draft(portal)
    lots = [
        {"lotId": "l1", "number": 1, "title": "Vast", "unit": "aansluiting",
         "participants": None, "totalVolume": None, "withheld": True,
         "estimatedValue": {"amount": 1000.0, "currency": "EUR"}},
        {"lotId": "l2", "number": 2, "title": "Mobiel", "unit": "abonnement",
         "participants": 4, "totalVolume": 40, "withheld": False,
         "estimatedValue": {"amount": 1000.0, "currency": "EUR"}},
    ]  # fmt: skip
    portal.fake.json("GET", f"{TENDER}/demand", {"lots": lots, "provinces": []})
    detail = await portal.client.get(f"/leading/tenders/{TENDER_ID}")
    chart = detail.text.split('id="lots-chart-title"')[1].split("</svg>")[0]
    assert chart.count("portal-chart__bar") == 1  # Mobiel only
    assert ">0<" not in chart
    assert "niet getoond" in chart
