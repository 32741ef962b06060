"""Municipal buyers against a scripted gateway: the start date proposed from the contract
end, step-up to level substantial with the input kept, the API's messages next to the
lot's fields, one Idempotency-Key per form instance, the signed mandate, withdrawal."""

from __future__ import annotations

import json
from typing import Any

from conftest import Portal
from fakes import SUBSTANTIAL
from test_errors import UTRECHT, csrf_of, form_id_of, page_of

BUYER = {**UTRECHT, "roles": ["procurement-enroller"]}
TENDER_ID = "55555555-5555-5555-5555-555555555555"
LOT_ID = "66666666-6666-6666-6666-666666666666"
ENROLLMENT_ID = "77777777-7777-7777-7777-777777777777"
FACILITY_ID = "44444444-4444-4444-4444-444444444444"
TENDER = {
    "id": TENDER_ID,
    "facility": {"id": FACILITY_ID, "name": "GGI-Netwerk"},
    "leadParty": {"id": "l-1", "name": "Dienst Dommelvallei", "oin": "00000001008765432000"},
    "title": "Glasvezel 2027",
    "description": "",
    "status": "open-for-enrollment",
    "enrollmentOpensAt": "2026-12-01T00:00:00Z",
    "enrollmentClosesAt": "2027-01-31T00:00:00Z",
    "plannedStartDate": "2027-03-01",
    "contractDurationMonths": 36,
    "lots": [{"id": LOT_ID, "number": 1, "title": "Aansluitingen", "unit": "aansluiting"}],
}
ENROLLMENT = {
    "id": ENROLLMENT_ID,
    "tenderId": TENDER_ID,
    "municipality": {"oin": UTRECHT["org_id"], "name": "Gemeente Utrecht"},
    "status": "enrolled",
    "lots": [
        {
            "lotId": LOT_ID,
            "expectedVolume": 40,
            "desiredStartDate": "2027-07-01",
            "desiredStartBasis": "explicit",
            "desiredStartExplanation": "given",
        }
    ],
    "mandate": {
        "id": "m-1",
        "signerName": "Sharon Dijksma",
        "signerRole": "burgemeester",
        "signerAcr": SUBSTANTIAL,
        "signedDate": "2026-12-05",
        "recordedAt": "2026-12-05T10:00:00Z",
    },
}
ENROLLMENTS = f"/api/procurement/v1/tenders/{TENDER_ID}/enrollments"
TYPED = {
    f"lot-{LOT_ID}": "yes",
    f"volume-{LOT_ID}": "40",
    f"start-{LOT_ID}": "2027-07-01",
    "signerName": "Sharon Dijksma",
    "signerRole": "burgemeester",
    "signedDate": "2026-12-05",
    "authorisesLeadParty": "yes",
}


def script(portal: Portal, enrolled: list[dict[str, Any]]) -> None:
    fake = portal.fake
    fake.json("GET", "/api/procurement/v1/tenders", page_of([TENDER]))
    fake.json("GET", f"/api/procurement/v1/tenders/{TENDER_ID}", TENDER, ETag='"t1"')
    fake.json("GET", ENROLLMENTS, page_of(enrolled))
    fake.json("GET", f"{ENROLLMENTS}/{ENROLLMENT_ID}", ENROLLMENT, ETag='"e1"')
    fake.json(
        "GET",
        "/api/registry/v1/organisations",
        page_of([{"id": "m-utrecht", "name": "Gemeente Utrecht", "type": "municipality"}]),
    )
    usage = {
        "id": "u-1",
        "facilityId": FACILITY_ID,
        "municipalityId": "m-utrecht",
        "status": "active",
        "contractEndDate": "2027-06-30",
    }
    fake.json("GET", "/api/registry/v1/usages", page_of([usage]))


async def _step_up(portal: Portal, location: str) -> None:
    start = await portal.client.get(location)
    query = portal.authorize_query(start)
    assert query["acr_values"] == SUBSTANTIAL
    code = portal.fake.issue_code(
        query["nonce"], query["code_challenge"], SUBSTANTIAL, sub="person-1", **BUYER
    )
    back = await portal.client.get(
        "/login/callback", params={"state": query["state"], "code": code}
    )
    assert back.headers["location"] == f"/enrollment/{TENDER_ID}"


async def test_enrollment_is_for_municipal_buyers_only(portal: Portal) -> None:
    await portal.login(**UTRECHT)  # registry-editor, not procurement-enroller
    assert (await portal.client.get("/enrollment")).status_code == 403
    menu = (await portal.client.get("/accessibility")).text
    assert "/enrollment" not in menu


async def test_buyer_steps_up_and_enrolls_with_the_input_kept(portal: Portal) -> None:
    await portal.login(**BUYER)  # level low
    script(portal, [])
    listing = await portal.client.get("/enrollment")
    assert "Glasvezel 2027" in listing.text
    page = await portal.client.get(f"/enrollment/{TENDER_ID}")
    assert page.status_code == 200
    assert 'value="2027-07-01"' in page.text, "the day after the contract end"
    # The quantity is needed for each lot taken part in: not marked as optional.
    volume_label = page.text.split(f'for="f-volume-{LOT_ID}">')[1].split("</label>")[0]
    assert "niet verplicht" not in volume_label
    data = {"csrf": csrf_of(page.text), "form_id": form_id_of(page.text), **TYPED}
    sent = await portal.client.post(f"/enrollment/{TENDER_ID}", data=data)
    assert sent.status_code == 303
    assert "acr=http%3A%2F%2Feidas.europa.eu%2FLoA%2Fsubstantial" in sent.headers["location"]
    assert not [c for c in portal.fake.api_calls(ENROLLMENTS) if c[0] == "POST"]
    await _step_up(portal, sent.headers["location"])
    kept = await portal.client.get(f"/enrollment/{TENDER_ID}")
    assert 'value="Sharon Dijksma"' in kept.text
    assert 'value="40"' in kept.text
    portal.fake.json(
        "POST",
        ENROLLMENTS,
        {
            "type": "about:blank",
            "status": 400,
            "title": "Bad Request",
            "invalidParams": [{"name": "lots[0].desiredStartDate", "reason": "outside"}],
        },
        status=400,
    )
    refused = await portal.client.post(
        f"/enrollment/{TENDER_ID}",
        data={"csrf": csrf_of(kept.text), "form_id": form_id_of(kept.text), **TYPED},
    )
    assert refused.status_code == 400
    assert f'id="f-start-{LOT_ID}-error"' in refused.text
    assert 'value="Sharon Dijksma"' in refused.text
    portal.fake.json("POST", ENROLLMENTS, ENROLLMENT, status=201)
    done = await portal.client.post(
        f"/enrollment/{TENDER_ID}",
        data={"csrf": csrf_of(refused.text), "form_id": form_id_of(refused.text), **TYPED},
    )
    assert done.status_code == 303
    posts = [c for c in portal.fake.api_calls(ENROLLMENTS) if c[0] == "POST"]
    keys = [c[2]["idempotency-key"] for c in posts]
    assert len(set(keys)) == 2, "a new attempt after an error is a new form instance"
    body = json.loads(posts[-1][3])
    assert body["lots"] == [
        {"lotId": LOT_ID, "expectedVolume": 40, "desiredStartDate": "2027-07-01"}
    ]
    assert body["mandate"]["authorisesLeadParty"] is True


async def test_buyer_sees_the_signed_mandate_and_withdraws(portal: Portal) -> None:
    await portal.login(SUBSTANTIAL, **BUYER)
    script(portal, [ENROLLMENT])
    page = await portal.client.get(f"/enrollment/{TENDER_ID}")
    assert "Getekende volmacht" in page.text
    assert "burgemeester" in page.text
    assert "substantieel" in page.text
    portal.fake.json("POST", f"{ENROLLMENTS}/{ENROLLMENT_ID}/withdrawal", ENROLLMENT)
    sent = await portal.client.post(
        f"/enrollment/{TENDER_ID}/withdrawal",
        data={"csrf": csrf_of(page.text), "enrollment": ENROLLMENT_ID, "etag": '"e1"'},
    )
    assert sent.status_code == 303
    call = portal.fake.api_calls(f"{ENROLLMENTS}/{ENROLLMENT_ID}/withdrawal")[0]
    assert call[2]["if-match"] == '"e1"'


async def test_a_withdrawal_that_needs_a_step_up_comes_back_to_the_enrollment(
    portal: Portal,
) -> None:
    """The API asks for level substantial on the withdrawal button: after logging in again
    the person is back on the enrollment's page (not on the button's address, which has no
    page), told that nothing was withdrawn yet."""
    await portal.login(**BUYER)  # level low
    script(portal, [ENROLLMENT])
    page = await portal.client.get(f"/enrollment/{TENDER_ID}")
    refusal = {"status": 403, "title": "Forbidden", "requiredAcr": SUBSTANTIAL}
    portal.fake.json("POST", f"{ENROLLMENTS}/{ENROLLMENT_ID}/withdrawal", refusal, status=403,
                     **{"WWW-Authenticate": 'Bearer error="insufficient_user_authentication"'})  # fmt: skip
    sent = await portal.client.post(
        f"/enrollment/{TENDER_ID}/withdrawal",
        data={"csrf": csrf_of(page.text), "enrollment": ENROLLMENT_ID, "etag": '"e1"'},
    )
    assert sent.status_code == 303
    assert sent.headers["location"].startswith(f"/login?next=%2Fenrollment%2F{TENDER_ID}&acr=")
    await _step_up(portal, sent.headers["location"])
    back = await portal.client.get(f"/enrollment/{TENDER_ID}")
    assert back.status_code == 200
    assert "Getekende volmacht" in back.text  # the enrollment, not an empty enroll form
    assert "Er is nog niets verstuurd" in back.text


async def test_before_the_window_opens_the_page_says_when_and_offers_no_form(
    portal: Portal,
) -> None:
    await portal.login(SUBSTANTIAL, **BUYER)
    script(portal, [])
    later = {**TENDER, "enrollmentOpensAt": "2099-01-01T00:00:00Z", "enrollmentClosesAt":
             "2099-02-01T00:00:00Z"}  # fmt: skip
    portal.fake.json("GET", "/api/procurement/v1/tenders", page_of([later]))
    portal.fake.json("GET", f"/api/procurement/v1/tenders/{TENDER_ID}", later, ETag='"t3"')
    listing = await portal.client.get("/enrollment")
    assert "Aanmelden van 01-01-2099 01:00 tot 01-02-2099 01:00" in listing.text
    page = await portal.client.get(f"/enrollment/{TENDER_ID}")
    assert page.status_code == 200
    assert "Aanmelden kan vanaf 01-01-2099 01:00" in page.text
    assert f'action="/enrollment/{TENDER_ID}"' not in page.text
    assert 'name="signerName"' not in page.text
    # Once it is open, the form is there.
    portal.fake.json("GET", f"/api/procurement/v1/tenders/{TENDER_ID}", TENDER, ETag='"t1"')
    assert 'name="signerName"' in (await portal.client.get(f"/enrollment/{TENDER_ID}")).text


async def test_proposed_start_is_not_before_the_planned_start(portal: Portal) -> None:
    await portal.login(SUBSTANTIAL, **BUYER)
    script(portal, [])
    later = {**TENDER, "plannedStartDate": "2027-09-01"}
    portal.fake.json("GET", f"/api/procurement/v1/tenders/{TENDER_ID}", later, ETag='"t2"')
    page = await portal.client.get(f"/enrollment/{TENDER_ID}")
    assert 'value="2027-09-01"' in page.text
    assert 'value="2027-07-01"' not in page.text


async def test_no_lot_chosen_is_said_next_to_the_lots_and_nothing_is_sent(portal: Portal) -> None:
    await portal.login(acr=SUBSTANTIAL, **BUYER)
    script(portal, [])
    page = await portal.client.get(f"/enrollment/{TENDER_ID}")
    typed = {k: v for k, v in TYPED.items() if k != f"lot-{LOT_ID}"}
    data = {"csrf": csrf_of(page.text), "form_id": form_id_of(page.text), **typed}
    refused = await portal.client.post(f"/enrollment/{TENDER_ID}", data=data)
    assert refused.status_code == 400
    message = "Kies ten minste één perceel waarvoor uw gemeente meedoet."
    assert f'id="f-lots" tabindex="-1">{message}</div>' in refused.text
    assert f'<a class="utrecht-link" href="#f-lots">Percelen: {message}</a>' in refused.text
    assert 'value="Sharon Dijksma"' in refused.text  # the input is kept
    assert not [c for c in portal.fake.api_calls(ENROLLMENTS) if c[0] == "POST"]


async def test_the_error_summary_names_the_lot_and_the_mandate(portal: Portal) -> None:
    await portal.login(acr=SUBSTANTIAL, **BUYER)
    script(portal, [])
    page = await portal.client.get(f"/enrollment/{TENDER_ID}")
    problem = {
        "type": "about:blank", "status": 400, "title": "Bad Request",
        "invalidParams": [{"name": "lots[0].lotId", "reason": "not a lot of this tender"},
                          {"name": "mandate.authorisesLeadParty", "reason": "must be true"}],
    }  # fmt: skip
    portal.fake.json("POST", ENROLLMENTS, problem, status=400)
    data = {"csrf": csrf_of(page.text), "form_id": form_id_of(page.text), **TYPED}
    refused = await portal.client.post(f"/enrollment/{TENDER_ID}", data=data)
    assert refused.status_code == 400
    assert f'href="#f-lot-{LOT_ID}">Perceel 1: Aansluitingen: ' in refused.text
    assert 'href="#f-authorisesLeadParty">Volmacht: ' in refused.text


async def test_a_negative_volume_is_sent_as_a_number(portal: Portal) -> None:
    """ "-5" goes to the API as -5, so the person reads its minimum, not "enter a number"."""
    await portal.login(SUBSTANTIAL, **BUYER)
    script(portal, [])
    problem = {"status": 400, "title": "Bad Request", "invalidParams": [
        {"name": "lots[0].expectedVolume", "reason": "Input should be greater than or equal to 1"}
    ]}  # fmt: skip
    portal.fake.json("POST", ENROLLMENTS, problem, status=400)
    page = await portal.client.get(f"/enrollment/{TENDER_ID}")
    data = {"csrf": csrf_of(page.text), "form_id": form_id_of(page.text), **TYPED,
            f"volume-{LOT_ID}": "-5"}  # fmt: skip
    refused = await portal.client.post(f"/enrollment/{TENDER_ID}", data=data)
    assert refused.status_code == 400
    (post,) = [c for c in portal.fake.api_calls(ENROLLMENTS) if c[0] == "POST"]
    assert json.loads(post[3])["lots"][0]["expectedVolume"] == -5
    error = f'id="f-volume-{LOT_ID}-error">Vul een getal in van ten minste 1.</div>'
    assert error in refused.text
    assert 'value="-5"' in refused.text
