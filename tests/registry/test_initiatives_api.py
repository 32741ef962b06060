"""Initiatives through the API: a municipality or cooperation proposes, municipalities
pledge and withdraw support, pilots list their participants, an impact analysis gates the
move to implementation, and the catalogue ranks initiatives by support."""

from __future__ import annotations

from typing import Any

import httpx

Maker = Any
COOP_OIN = "00000001008765432000"
GELDROP_OIN = "00000001004567891000"


def _coop(tokens: Any) -> dict[str, str]:
    return dict(tokens.issuer.headers(sub="coop-staff", scopes=["registry:read", "registry:write"],
                                      org_id=COOP_OIN, org_type="cooperation"))  # fmt: skip


async def _world(tokens: Any, make_org: Maker) -> dict[str, Any]:
    return {
        "utrecht": await make_org(
            "municipality", name="Utrecht", oin=tokens.UTRECHT_OIN, province="Utrecht"
        ),
        "amersfoort": await make_org(
            "municipality", name="Amersfoort", oin=tokens.AMERSFOORT_OIN, province="Utrecht"
        ),
        "geldrop": await make_org(
            "municipality", name="Geldrop-Mierlo", oin=GELDROP_OIN, province="Noord-Brabant"
        ),
        "coop": await make_org("cooperation", name="Dienst Dommelvallei", oin=COOP_OIN),
    }


def _proposal(slug: str, by: dict[str, Any]) -> dict[str, Any]:
    return {"slug": slug, "name": slug.replace("-", " ").title(), "kind": "application",
            "theme": "zaakgericht-werken", "proposedById": by["id"]}  # fmt: skip


async def test_propose_pledge_withdraw_and_rank(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker
) -> None:
    w = await _world(tokens, make_org)
    r = await client.post("/v1/initiatives", json=_proposal("zaken-samen", w["utrecht"]),
                          headers=tokens.municipality())  # fmt: skip
    assert r.status_code == 201, r.text
    first = r.json()
    assert r.headers["location"] == f"/v1/initiatives/{first['facilityId']}"
    assert (first["stage"], first["proposedBy"]["name"], first["support"]["pledges"]) == (
        "initiative", "Utrecht", 0)  # fmt: skip
    r = await client.post("/v1/initiatives", json=_proposal("archief-samen", w["coop"]),
                          headers=_coop(tokens))  # fmt: skip
    assert r.status_code == 201, r.text
    second = r.json()
    # Only for itself: Amersfoort's staff cannot propose in Utrecht's name; suppliers not at all.
    r = await client.post("/v1/initiatives", json=_proposal("x-y", w["utrecht"]),
                          headers=tokens.municipality(tokens.AMERSFOORT_OIN))  # fmt: skip
    assert r.status_code == 403
    r = await client.post("/v1/initiatives", json=_proposal("zaken-samen", w["amersfoort"]),
                          headers=tokens.municipality(tokens.AMERSFOORT_OIN))  # fmt: skip
    assert r.status_code == 409  # the slug is taken

    pledges = f"/v1/facilities/{second['facilityId']}/pledges"
    for who, oin, body in (
        ("amersfoort", tokens.AMERSFOORT_OIN, {"kind": "interest"}),
        ("geldrop", GELDROP_OIN, {"kind": "co-fund", "amount": 25000}),
    ):
        r = await client.post(pledges, json={"municipalityId": w[who]["id"], **body},
                              headers=tokens.municipality(oin))  # fmt: skip
        assert r.status_code == 201, r.text
    r = await client.post(pledges, json={"municipalityId": w["utrecht"]["id"], "kind": "pilot"},
                          headers=tokens.municipality())  # fmt: skip
    assert r.status_code == 201
    utrecht_pledge = r.json()
    # Bad amounts, someone else's municipality, a second pledge.
    for body, headers, status in (
        ({"kind": "co-fund"}, tokens.municipality(), 400),
        ({"kind": "interest", "amount": 5}, tokens.municipality(), 400),
        ({"kind": "interest"}, tokens.municipality(tokens.AMERSFOORT_OIN), 403),
        ({"kind": "interest"}, tokens.municipality(), 409),
    ):
        r = await client.post(pledges, json={"municipalityId": w["utrecht"]["id"], **body},
                              headers=headers)  # fmt: skip
        assert r.status_code == status, (body, r.text)
    r = await client.post(f"/v1/facilities/{first['facilityId']}/pledges",
                          json={"municipalityId": w["utrecht"]["id"], "kind": "interest"},
                          headers=tokens.municipality())  # fmt: skip
    assert r.status_code == 201

    ranked = (await client.get("/v1/initiatives", headers=tokens.reader())).json()
    assert [(i["slug"], i["rank"], i["support"]["pledges"]) for i in ranked["items"]] == [
        ("archief-samen", 1, 3), ("zaken-samen", 2, 1)]  # fmt: skip
    support = ranked["items"][0]["support"]
    assert (support["interest"], support["pilot"], support["coFund"], support["coFundAmount"]) == (
        1, 1, 1, 25000)  # fmt: skip
    assert support["provinces"] == [{"province": "Utrecht", "pledges": 2},
                                    {"province": "Noord-Brabant", "pledges": 1}]  # fmt: skip
    assert (support["inhabitantsCovered"], support["supportersWithoutPopulation"]) == (0, 3)
    load = {"year": 2024, "source": "CBS StatLine", "figures": [
        {"cbsCode": w["utrecht"]["cbsCode"], "inhabitants": 367984}]}  # fmt: skip
    assert (
        await client.post("/v1/population-figures", json=load, headers=tokens.operator())
    ).status_code == 201
    one = (
        await client.get(f"/v1/initiatives/{second['facilityId']}", headers=tokens.reader())
    ).json()
    assert (
        one["support"]["inhabitantsCovered"],
        one["support"]["supportersWithoutPopulation"],
    ) == (367984, 2)
    assert one["rank"] == 1

    # Withdrawal: only by the municipality's own staff; the ranking follows.
    url = f"{pledges}/{utrecht_pledge['id']}"
    assert (
        await client.delete(url, headers=tokens.municipality(tokens.AMERSFOORT_OIN))
    ).status_code == 403
    assert (await client.delete(url, headers=tokens.municipality())).status_code == 204
    assert (await client.delete(url, headers=tokens.municipality())).status_code == 404
    listed = (await client.get(pledges, headers=tokens.reader())).json()
    assert [p["municipality"]["name"] for p in listed["items"]] == ["Amersfoort", "Geldrop-Mierlo"]

    feed = (await client.get("/v1/events?limit=200", headers=tokens.reader())).json()["items"]
    types = [e["type"].removeprefix("nl.samen.registry.") for e in feed]
    assert types.count("initiative.proposed") == 2
    # A proposed facility is new to every mirror of the feed: created before proposed.
    created = [e["subject"] for e in feed if e["type"].endswith("facility.created")]
    for proposal in (first, second):
        assert f"facilities/{proposal['facilityId']}" in created
    assert types.count("pledge.created") == 4
    assert types.count("pledge.withdrawn") == 1


async def test_pilot_participants_and_the_impact_analysis_gate(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker
) -> None:
    w = await _world(tokens, make_org)
    r = await client.post("/v1/initiatives", json=_proposal("meldingen", w["utrecht"]),
                          headers=tokens.municipality())  # fmt: skip
    facility = r.json()["facilityId"]
    participants = f"/v1/facilities/{facility}/pilot-participants"
    body = {"municipalityId": w["utrecht"]["id"]}
    r = await client.post(participants, json=body, headers=tokens.municipality())
    assert r.status_code == 409  # still an initiative
    assert r.json()["currentStage"] == "initiative"
    stages = f"/v1/facilities/{facility}/stage-transitions"
    r = await client.post(stages, json={"toStage": "pilot", "reason": "Twee gemeenten"},
                          headers=tokens.operator())  # fmt: skip
    assert r.status_code == 201
    for who, oin in (("utrecht", tokens.UTRECHT_OIN), ("geldrop", GELDROP_OIN)):
        r = await client.post(participants, json={"municipalityId": w[who]["id"]},
                              headers=tokens.municipality(oin))  # fmt: skip
        assert r.status_code == 201, r.text
    assert (
        await client.post(participants, json=body, headers=tokens.municipality())
    ).status_code == 409
    listed = (await client.get(participants, headers=tokens.reader())).json()
    assert [p["municipality"]["name"] for p in listed["items"]] == ["Geldrop-Mierlo", "Utrecht"]
    assert (await client.get(f"/v1/initiatives/{facility}", headers=tokens.reader())).json()[
        "pilotParticipants"] == 2  # fmt: skip
    leave = f"{participants}/{listed['items'][0]['id']}"
    assert (await client.delete(leave, headers=tokens.municipality())).status_code == 403
    assert (await client.delete(leave, headers=tokens.municipality(GELDROP_OIN))).status_code == 204

    # No analysis, then a negative one: no implementation. A conditional one opens the way.
    go = {"toStage": "implementation", "reason": "Landelijk"}
    r = await client.post(stages, json=go, headers=tokens.operator())
    assert r.status_code == 409
    assert r.json()["latestOutcome"] is None
    analyses = f"/v1/facilities/{facility}/impact-analyses"
    negative = {"outcome": "negative", "summary": "Te duur", "completedOn": "2026-10-01"}
    assert (
        await client.post(analyses, json=negative, headers=tokens.municipality())
    ).status_code == 403
    assert (
        await client.post(analyses, json=negative, headers=tokens.operator())
    ).status_code == 201
    r = await client.post(stages, json=go, headers=tokens.operator())
    assert (r.status_code, r.json()["latestOutcome"]) == (409, "negative")
    conditional = {"outcome": "conditional", "summary": "Met landelijke financiering",
                   "completedOn": "2026-11-15", "documentUrl": "https://example.org/ia.pdf"}  # fmt: skip
    assert (
        await client.post(analyses, json=conditional, headers=tokens.operator())
    ).status_code == 201
    cofund = await client.post(f"/v1/facilities/{facility}/pledges",
                               json={"municipalityId": w["utrecht"]["id"], "kind": "co-fund",
                                     "amount": 40000}, headers=tokens.municipality())  # fmt: skip
    assert cofund.status_code == 201, cofund.text
    r = await client.post(stages, json=go, headers=tokens.operator())
    assert r.status_code == 201, r.text
    listed = (await client.get(analyses, headers=tokens.reader())).json()
    assert [a["outcome"] for a in listed["items"]] == ["negative", "conditional"]
    # Too late for analyses, pledges and pilots now; the initiative leaves the ranking.
    assert (
        await client.post(analyses, json=conditional, headers=tokens.operator())
    ).status_code == 409
    r = await client.post(f"/v1/facilities/{facility}/pledges",
                          json={"municipalityId": w["utrecht"]["id"], "kind": "interest"},
                          headers=tokens.municipality())  # fmt: skip
    assert (r.status_code, r.json()["currentStage"]) == (409, "implementation")
    # What was decided on stays: the co-funding and the pilot's participants.
    r = await client.delete(f"/v1/facilities/{facility}/pledges/{cofund.json()['id']}",
                            headers=tokens.municipality())  # fmt: skip
    assert (r.status_code, r.json()["type"].rsplit("/", 1)[1]) == (409, "support-closed")
    stayed = (await client.get(participants, headers=tokens.reader())).json()["items"]
    r = await client.delete(f"{participants}/{stayed[0]['id']}", headers=tokens.municipality())
    assert (r.status_code, r.json()["type"].rsplit("/", 1)[1]) == (409, "not-in-pilot")
    pledged = (
        await client.get(f"/v1/facilities/{facility}/pledges", headers=tokens.reader())
    ).json()
    assert [p["amount"] for p in pledged["items"]] == [40000]
    assert (await client.get("/v1/initiatives", headers=tokens.reader())).json()["total"] == 0
    feed = (await client.get("/v1/events?limit=200", headers=tokens.reader())).json()["items"]
    types = [e["type"].removeprefix("nl.samen.registry.") for e in feed]
    assert types.count("pilot-participant.joined") == 2
    assert types.count("pilot-participant.left") == 1
    assert types.count("impact-analysis.recorded") == 2


async def test_initiatives_by_stage(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker
) -> None:
    w = await _world(tokens, make_org)
    ids = {}
    for slug in ("meldingen", "archief"):
        r = await client.post("/v1/initiatives", json=_proposal(slug, w["utrecht"]),
                              headers=tokens.municipality())  # fmt: skip
        ids[slug] = r.json()["facilityId"]
    r = await client.post(f"/v1/facilities/{ids['archief']}/stage-transitions",
                          json={"toStage": "pilot", "reason": "Twee gemeenten"},
                          headers=tokens.operator())  # fmt: skip
    assert r.status_code == 201, r.text

    def facility_ids(r: httpx.Response) -> list[str]:
        assert r.status_code == 200, r.text
        return sorted(i["facilityId"] for i in r.json()["items"])

    assert facility_ids(await client.get("/v1/initiatives?stage=pilot")) == [ids["archief"]]
    assert facility_ids(await client.get("/v1/initiatives?stage=initiative")) == [ids["meldingen"]]
    assert facility_ids(await client.get("/v1/initiatives")) == sorted(ids.values())
    # A stage in which nothing is open to support is refused, named, not an empty list.
    r = await client.get("/v1/initiatives?stage=operational")
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    assert [p["name"] for p in r.json()["invalidParams"]] == ["stage"]
    # The document names the choices.
    document = (await client.get("/v1/openapi.json")).json()
    parameters = document["paths"]["/initiatives"]["get"]["parameters"]
    stage = next(p for p in parameters if p["name"] == "stage")
    choices = [
        [c for c in s.get("enum", []) if c is not None]
        for s in stage["schema"].get("anyOf", [stage["schema"]])
    ]
    assert ["initiative", "pilot", "impact-analysis"] in choices


async def test_a_facility_with_pledges_pilots_or_analyses_is_never_deleted_with_them(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker
) -> None:
    """Pledges (co-funding included), pilot places and impact analyses are records the
    municipalities rely on: deleting their facility is a 409 naming them, and nothing
    goes; a proposal nobody supported yet can be deleted (a mistake)."""
    w = await _world(tokens, make_org)
    proposed = [
        (
            await client.post(
                "/v1/initiatives", json=_proposal(slug, w["utrecht"]), headers=tokens.municipality()
            )
        ).json()["facilityId"]
        for slug in ("gesteund", "proef", "onderzocht", "vergissing")
    ]
    supported, piloted, analysed, mistaken = proposed
    pledge = await client.post(
        f"/v1/facilities/{supported}/pledges",
        json={"municipalityId": w["amersfoort"]["id"], "kind": "co-fund", "amount": 250000},
        headers=tokens.municipality(tokens.AMERSFOORT_OIN),
    )
    assert pledge.status_code == 201, pledge.text
    r = await client.post(f"/v1/facilities/{piloted}/stage-transitions",
                          json={"toStage": "pilot", "reason": "proef"}, headers=tokens.operator())  # fmt: skip
    assert r.status_code == 201
    place = await client.post(f"/v1/facilities/{piloted}/pilot-participants",
                              json={"municipalityId": w["utrecht"]["id"]},
                              headers=tokens.municipality())  # fmt: skip
    assert place.status_code == 201, place.text
    analysis = await client.post(
        f"/v1/facilities/{analysed}/impact-analyses",
        json={"outcome": "negative", "summary": "Te duur", "completedOn": "2026-10-01"},
        headers=tokens.operator(),
    )
    assert analysis.status_code == 201, analysis.text

    for facility, member, blocker in (
        (supported, "blockingPledges", pledge.json()["id"]),
        (piloted, "blockingPilotParticipants", place.json()["id"]),
        (analysed, "blockingImpactAnalyses", analysis.json()["id"]),
    ):
        r = await client.delete(f"/v1/facilities/{facility}", headers=tokens.operator())
        assert r.status_code == 409, r.text
        assert r.json()["type"].endswith("/facility-in-use")
        assert r.json()[member] == [blocker]
        assert (
            await client.get(f"/v1/initiatives/{facility}", headers=tokens.reader())
        ).status_code == 200
    pledges = await client.get(f"/v1/facilities/{supported}/pledges", headers=tokens.reader())
    assert [p["amount"] for p in pledges.json()["items"]] == [250000]

    assert (
        await client.delete(f"/v1/facilities/{mistaken}", headers=tokens.operator())
    ).status_code == 204
