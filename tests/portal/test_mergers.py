"""The operator merges municipalities: CBS codes resolved (unknown ones next to the field),
a preview without an Idempotency-Key, then the merger with one, procurement asked to move
the enrollments, and a retry when procurement could not be reached."""

from __future__ import annotations

import json
from typing import Any

from conftest import Portal
from fastapi import Request
from fastapi.responses import JSONResponse, Response
from test_errors import UTRECHT, csrf_of, form_id_of, page_of, script_registry
from test_flows import OPERATOR

MERGER_ID = "0b7a5d52-2f0c-4ad4-8f3e-2a0c4b3f1d99"
MERGERS = "/api/registry/v1/municipality-mergers"
APPLIED = "/api/procurement/v1/municipality-mergers"
TOWNS = {
    "GM0317": {"id": "m-eemnes", "name": "Eemnes", "cbsCode": "GM0317"},
    "GM0308": {"id": "m-baarn", "name": "Baarn", "cbsCode": "GM0308"},
    "GM0342": {"id": "m-soest", "name": "Soest", "cbsCode": "GM0342"},
}
MOVES = {"usageIds": ["u-1", "u-2"], "pledgeIds": ["p-1"], "combinedPledgeIds": [],
         "pilotParticipationIds": [], "combinedPilotParticipationIds": [],
         "cooperationIds": ["c-1"]}  # fmt: skip
MERGER = {"id": MERGER_ID, "dryRun": False, "predecessorIds": ["m-eemnes", "m-baarn"],
          "successorId": "m-soest", "effectiveDate": "2026-01-01", "endedOn": "2025-12-31",
          "moves": MOVES, "recordedBy": "vng-admin", "recordedAt": "2026-01-02T10:00:00Z"}  # fmt: skip


def script(portal: Portal) -> None:
    fake = portal.fake

    def by_code(request: Request, _body: bytes) -> Response:
        found = TOWNS.get(request.query_params.get("cbsCode", ""))
        return JSONResponse(page_of([found] if found else []))

    fake.on("GET", "/api/registry/v1/organisations", by_code)
    for town in TOWNS.values():
        fake.json("GET", f"/api/registry/v1/organisations/{town['id']}", town)
    fake.json("GET", MERGERS, page_of([]))


async def _post(portal: Portal, data: dict[str, str]) -> Any:
    page = await portal.client.get("/operator/mergers")
    assert page.status_code == 200, page.text
    fields = {"csrf": csrf_of(page.text), "form_id": form_id_of(page.text), **data}
    return await portal.client.post("/operator/mergers", data=fields)


FORM = {"predecessors": "gm0317, GM0308", "successor": "GM0342", "effectiveDate": "2026-01-01"}


async def test_preview_then_merge_and_move_the_enrollments(portal: Portal) -> None:
    await portal.login(**OPERATOR)
    script(portal)
    portal.fake.json("POST", MERGERS, {**MERGER, "id": None, "dryRun": True, "recordedBy": None,
                                       "recordedAt": None})  # fmt: skip
    shown = await _post(portal, {**FORM, "action": "preview"})
    assert shown.status_code == 200, shown.text
    preview = shown.text.split('id="merge-preview"')[1].split("</section>")[0]
    assert "Eemnes, Baarn" in preview
    assert "Soest" in preview
    assert "31-12-2025" in preview
    ((_, _, headers, body),) = [c for c in portal.fake.api_calls(MERGERS) if c[0] == "POST"]
    assert "idempotency-key" not in headers
    assert json.loads(body) == {"predecessorIds": ["m-eemnes", "m-baarn"],
                                "successorId": "m-soest", "effectiveDate": "2026-01-01"}  # fmt: skip
    assert 'value="gm0317, GM0308"' in shown.text  # the input is kept

    portal.fake.json("POST", MERGERS, MERGER, status=201)
    applied = {"id": MERGER_ID, "dryRun": False, "successorOin": "1", "predecessorOins": [],
               "effectiveDate": "2026-01-01", "transferredEnrollmentIds": ["e-1"],
               "combinedEnrollmentIds": ["e-2", "e-3"], "appliedBy": "vng-admin",
               "appliedAt": "2026-01-02T10:00:00Z"}  # fmt: skip
    portal.fake.json("POST", APPLIED, applied, status=201)
    done = await _post(portal, {**FORM, "action": "merge"})
    assert done.status_code == 303
    assert done.headers["location"] == f"/operator/mergers/{MERGER_ID}"
    recorded = [c for c in portal.fake.api_calls(MERGERS) if c[0] == "POST"][-1]
    assert recorded[2]["idempotency-key"]
    ((_, _, _, sent),) = [c for c in portal.fake.api_calls(APPLIED) if c[0] == "POST"]
    assert json.loads(sent) == {"mergerId": MERGER_ID}
    portal.fake.json("GET", f"{MERGERS}/{MERGER_ID}", MERGER)
    portal.fake.json("GET", f"{APPLIED}/{MERGER_ID}", applied)
    page = await portal.client.get(done.headers["location"])
    assert "De herindeling is vastgelegd en de deelnames zijn overgezet." in page.text
    assert "1 deelnames overgegaan, 2 samengevoegd" in page.text


async def test_unknown_codes_and_refusals_next_to_the_fields(portal: Portal) -> None:
    await portal.login(**OPERATOR)
    script(portal)
    shown = await _post(portal, {**FORM, "predecessors": "GM0317, GM9999, Baarn", "successor": ""})
    assert shown.status_code == 400
    assert 'id="f-predecessors-error"' in shown.text
    assert "Geen gemeente met CBS-code GM9999." in shown.text
    assert 'id="f-successor-error"' in shown.text
    assert not [c for c in portal.fake.api_calls(MERGERS) if c[0] == "POST"]
    problem = {"type": "https://samen.example.nl/problems/bad-request", "title": "Bad Request",
               "status": 400, "detail": "These municipalities cannot merge like this.",
               "invalidParams": [{"name": "predecessorIds[1]", "reason": "listed twice"},
                                 {"name": "effectiveDate", "reason": "in the future"}]}  # fmt: skip
    portal.fake.json("POST", MERGERS, problem, status=400)
    shown = await _post(portal, {**FORM, "predecessors": "GM0317, GM0317", "action": "merge"})
    assert shown.status_code == 400
    assert 'id="f-predecessors-error"' in shown.text
    assert 'id="f-effectiveDate-error"' in shown.text
    ended = {"type": "https://samen.example.nl/problems/organisation-ended", "title": "Conflict",
             "status": 409, "detail": "Eemnes ended on 2025-12-31."}  # fmt: skip
    portal.fake.json("POST", MERGERS, ended, status=409)
    shown = await _post(portal, {**FORM, "action": "merge"})
    assert shown.status_code == 400
    # A known problem in Dutch words, the API's specifics after it.
    assert (
        "Deze gemeente is opgeheven bij een herindeling; haar opvolger neemt het over. "
        "(Eemnes ended on 2025-12-31.)"
    ) in shown.text


async def test_enrollments_moved_later_when_procurement_was_down(portal: Portal) -> None:
    await portal.login(**OPERATOR)
    script(portal)
    portal.fake.json("POST", MERGERS, MERGER, status=201)
    portal.fake.json("POST", APPLIED, {"status": 503, "title": "Service Unavailable"}, status=503)
    done = await _post(portal, {**FORM, "action": "merge"})
    assert done.status_code == 303
    portal.fake.json("GET", f"{MERGERS}/{MERGER_ID}", MERGER)
    portal.fake.json(
        "GET", f"{APPLIED}/{MERGER_ID}", {"status": 404, "title": "Not Found"}, status=404
    )
    page = await portal.client.get(f"/operator/mergers/{MERGER_ID}")
    assert "konden nog niet worden overgezet" in page.text
    assert f'action="/operator/mergers/{MERGER_ID}/enrollments"' in page.text
    portal.fake.json("POST", APPLIED, {"id": MERGER_ID}, status=201)
    retry = await portal.client.post(
        f"/operator/mergers/{MERGER_ID}/enrollments", data={"csrf": csrf_of(page.text)}
    )
    assert retry.status_code == 303
    assert len([c for c in portal.fake.api_calls(APPLIED) if c[0] == "POST"]) == 2


async def test_an_ended_municipality_names_its_successor(portal: Portal) -> None:
    old, new = "5f0c8a52-2f0c-4ad4-8f3e-2a0c4b3f1d01", "5f0c8a52-2f0c-4ad4-8f3e-2a0c4b3f1d02"
    base = {"type": "municipality", "cbsCode": "GM0317", "province": "Utrecht", "oin": None,
            "kvkNumber": None, "memberIds": []}  # fmt: skip
    portal.fake.json("GET", f"/api/registry/v1/organisations/{old}", {
        **base, "id": old, "name": "Eemnes", "endedOn": "2025-12-31", "successorId": new})  # fmt: skip
    portal.fake.json("GET", f"/api/registry/v1/organisations/{new}", {
        **base, "id": new, "name": "Soest", "endedOn": None, "successorId": None})  # fmt: skip
    portal.fake.json("GET", "/api/registry/v1/usages", page_of([]))
    page = await portal.client.get(f"/organisations/{old}")
    assert page.status_code == 200, page.text
    ended = page.text.split('id="org-ended"')[1].split("</p>")[0]
    assert "31-12-2025" in ended
    assert f'href="/organisations/{new}"' in ended
    assert "Voortgezet als Soest" in ended
    page = await portal.client.get(f"/organisations/{new}")
    assert 'id="org-ended"' not in page.text


async def test_inherited_contracts_name_who_concluded_them(portal: Portal) -> None:
    await portal.login(**UTRECHT)
    script_registry(portal)
    old = "5f0c8a52-2f0c-4ad4-8f3e-2a0c4b3f1d03"
    usage = {"id": "u-1", "municipalityId": "m-1", "facilityId": "f-1", "offeringId": None,
             "versionId": None, "inheritedFromId": old, "status": "active", "startDate": None,
             "contractEndDate": "2027-12-31", "noticePeriodMonths": 3,
             "contractValueBand": None, "annualCost": None}  # fmt: skip
    portal.fake.json("GET", "/api/registry/v1/usages", page_of([usage]))
    portal.fake.json("GET", "/api/registry/v1/facilities/f-1", {"id": "f-1", "name": "GGI-Netwerk"})
    portal.fake.json("GET", f"/api/registry/v1/organisations/{old}", {"id": old, "name": "Eemnes"})
    page = await portal.client.get("/municipality/usages")
    assert page.status_code == 200, page.text
    assert "overgenomen van Eemnes" in page.text
