"""Municipal mergers: a preview that changes nothing, then usages, pledges, pilot
participations and cooperation places pass to the successor with their events; the
predecessors stay readable as ended and take no new writes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

import servicekit.clock

Maker = Any
SUCCESSOR_OIN = "00000001001111111000"


async def _world(client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker) -> dict[str, Any]:  # fmt: skip
    a = await make_org("municipality", name="Utrecht", oin=tokens.UTRECHT_OIN)
    b = await make_org("municipality", name="Amersfoort", oin=tokens.AMERSFOORT_OIN)
    s = await make_org("municipality", name="Eemstad", oin=SUCCESSOR_OIN)
    coop = await make_org("cooperation", name="Regio", memberIds=[a["id"], b["id"]])
    network = await make_facility(slug="netwerk")
    phone = await make_facility(slug="telefonie")
    idea = await make_facility(slug="idee", stage="initiative")
    pilot = await make_facility(slug="proef", stage="pilot")

    async def post(path: str, body: dict[str, Any], oin: str) -> dict[str, Any]:
        r = await client.post(path, json=body, headers=tokens.municipality(oin=oin))
        assert r.status_code == 201, r.text
        return dict(r.json())

    usages = [
        await post("/v1/usages", {"municipalityId": m["id"], "facilityId": network["id"],
                                  "contractEndDate": "2028-01-01"}, oin)
        for m, oin in ((a, tokens.UTRECHT_OIN), (b, tokens.AMERSFOORT_OIN))
    ]  # fmt: skip
    usages.append(
        await post("/v1/usages", {"municipalityId": b["id"], "facilityId": phone["id"],
                                  "status": "planned"}, tokens.AMERSFOORT_OIN)
    )  # fmt: skip
    pledges = [
        await post(f"/v1/facilities/{idea['id']}/pledges",
                   {"municipalityId": a["id"], "kind": "interest", "note": "A"}, tokens.UTRECHT_OIN),
        await post(f"/v1/facilities/{idea['id']}/pledges",
                   {"municipalityId": b["id"], "kind": "co-fund", "amount": 1000, "note": "B"},
                   tokens.AMERSFOORT_OIN),
    ]  # fmt: skip
    pilot_part = await post(
        f"/v1/facilities/{pilot['id']}/pilot-participants", {"municipalityId": a["id"]},
        tokens.UTRECHT_OIN,
    )  # fmt: skip
    return {"a": a, "b": b, "s": s, "coop": coop, "network": network, "phone": phone,
            "idea": idea, "pilot": pilot, "usages": usages, "pledges": pledges,
            "pilot_part": pilot_part}  # fmt: skip


def _body(w: dict[str, Any], when: str = "2026-01-01") -> dict[str, Any]:
    return {"predecessorIds": [w["a"]["id"], w["b"]["id"]], "successorId": w["s"]["id"],
            "effectiveDate": when}  # fmt: skip


async def _events(client: httpx.AsyncClient, tokens: Any) -> list[dict[str, Any]]:
    r = await client.get("/v1/events", params={"limit": 100}, headers=tokens.reader())
    return list(r.json()["items"])


async def test_preview_then_merge(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker
) -> None:
    w = await _world(client, tokens, make_org, make_facility)
    before = len(await _events(client, tokens))
    r = await client.post(
        "/v1/municipality-mergers?dryRun=true", json=_body(w), headers=tokens.operator()
    )
    assert r.status_code == 200, r.text
    preview = r.json()
    assert (preview["id"], preview["dryRun"], preview["endedOn"]) == (None, True, "2025-12-31")
    moves = preview["moves"]
    assert moves["usageIds"] == [u["id"] for u in w["usages"]]
    assert (moves["pledgeIds"], moves["combinedPledgeIds"]) == (
        [w["pledges"][0]["id"]], [w["pledges"][1]["id"]])  # fmt: skip
    assert moves["pilotParticipationIds"] == [w["pilot_part"]["id"]]
    assert moves["cooperationIds"] == [w["coop"]["id"]]
    # Nothing changed.
    assert len(await _events(client, tokens)) == before
    r = await client.get(f"/v1/organisations/{w['a']['id']}", headers=tokens.reader())
    assert r.json()["endedOn"] is None
    r = await client.get(f"/v1/usages/{w['usages'][0]['id']}", headers=tokens.reader())
    assert r.json()["municipalityId"] == w["a"]["id"]

    r = await client.post(
        "/v1/municipality-mergers", json=_body(w),
        headers={**tokens.operator(), "Idempotency-Key": "merge-1"},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    merger = r.json()
    assert r.headers["location"] == f"/v1/municipality-mergers/{merger['id']}"
    assert merger["moves"] == moves
    assert (merger["dryRun"], merger["recordedBy"]) == (False, "vng-admin")
    again = await client.post(
        "/v1/municipality-mergers", json=_body(w),
        headers={**tokens.operator(), "Idempotency-Key": "merge-1"},
    )  # fmt: skip
    assert again.json() == merger
    r = await client.get(f"/v1/municipality-mergers/{merger['id']}", headers=tokens.reader())
    assert r.json() == merger
    r = await client.get(
        "/v1/municipality-mergers", params={"successorId": w["s"]["id"]}, headers=tokens.reader()
    )
    assert [m["id"] for m in r.json()["items"]] == [merger["id"]]

    # The predecessors: ended, with their successor, in lists too.
    for org in (w["a"], w["b"]):
        r = await client.get(f"/v1/organisations/{org['id']}", headers=tokens.reader())
        assert (r.json()["endedOn"], r.json()["successorId"]) == ("2025-12-31", w["s"]["id"])
    r = await client.get("/v1/organisations?ended=true", headers=tokens.reader())
    assert {o["name"] for o in r.json()["items"]} == {"Utrecht", "Amersfoort"}
    r = await client.get("/v1/organisations?ended=false&type=municipality", headers=tokens.reader())
    assert [o["name"] for o in r.json()["items"]] == ["Eemstad"]
    r = await client.get(f"/v1/organisations/{w['coop']['id']}", headers=tokens.reader())
    assert r.json()["memberIds"] == [w["s"]["id"]]

    # The usages: the successor's, naming who concluded them; two active contracts for
    # the network run on beside each other.
    r = await client.get(f"/v1/usages?municipalityId={w['s']['id']}", headers=tokens.reader())
    assert {(u["id"], u["inheritedFromId"]) for u in r.json()["items"]} == {
        (w["usages"][0]["id"], w["a"]["id"]), (w["usages"][1]["id"], w["b"]["id"]),
        (w["usages"][2]["id"], w["b"]["id"])}  # fmt: skip
    r = await client.get(f"/v1/facilities/{w['idea']['id']}/pledges", headers=tokens.reader())
    [pledge] = r.json()["items"]
    assert (pledge["id"], pledge["municipality"]["id"], pledge["kind"], pledge["amount"]) == (
        w["pledges"][0]["id"], w["s"]["id"], "co-fund", 1000.0)  # fmt: skip
    assert pledge["note"] == "A\nB"
    r = await client.get(
        f"/v1/facilities/{w['pilot']['id']}/pilot-participants", headers=tokens.reader()
    )
    assert [p["municipality"]["id"] for p in r.json()["items"]] == [w["s"]["id"]]

    # History kept: every change on the feed, with who made it.
    events = (await _events(client, tokens))[before:]
    kinds = sorted(e["type"].removeprefix("nl.samen.registry.") for e in events)
    assert kinds == sorted(
        ["usage.transferred"] * 3
        + [
            "pledge.transferred",
            "pledge.combined",
            "pledge.updated",
            "pilot-participant.transferred",
        ]
        + ["organisation.ended"] * 2
        + ["organisation.updated", "municipality-merger.created"]
    ), kinds
    transferred = [e for e in events if e["type"].endswith("usage.transferred")]
    assert {e["data"]["mergerId"] for e in transferred} == {merger["id"]}


async def test_ended_municipalities_take_no_new_writes(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker
) -> None:
    w = await _world(client, tokens, make_org, make_facility)
    r = await client.post("/v1/municipality-mergers", json=_body(w), headers=tokens.operator())
    assert r.status_code == 201, r.text
    a_staff = tokens.municipality(oin=tokens.UTRECHT_OIN)
    r = await client.post(
        "/v1/usages", json={"municipalityId": w["a"]["id"], "facilityId": w["phone"]["id"]},
        headers=a_staff,
    )  # fmt: skip
    assert r.status_code == 409
    assert (r.json()["type"].rsplit("/", 1)[1], r.json()["successorId"]) == (
        "organisation-ended", w["s"]["id"])  # fmt: skip
    r = await client.post(
        f"/v1/organisations/{w['a']['id']}/usage-imports",
        content=b"facilityId\r\ntelefonie\r\n",
        headers={**a_staff, "Content-Type": "text/csv"},
    )
    assert r.status_code == 409
    r = await client.post(
        f"/v1/facilities/{w['idea']['id']}/pledges",
        json={"municipalityId": w["a"]["id"], "kind": "interest"},
        headers=a_staff,
    )
    assert r.status_code == 409
    r = await client.post(
        "/v1/initiatives",
        json={"proposedById": w["a"]["id"], "slug": "na-de-fusie", "name": "Na de fusie",
              "kind": "application", "theme": "data"},
        headers=a_staff,
    )  # fmt: skip
    assert r.status_code == 409
    assert r.json()["type"].rsplit("/", 1)[1] == "organisation-ended"
    initiatives = (await client.get("/v1/initiatives", headers=tokens.reader())).json()["items"]
    assert "Na de fusie" not in [i["name"] for i in initiatives]
    # Nor does it provide a facility, new or changed.
    provided = {"slug": "van-utrecht", "name": "Van Utrecht", "kind": "service", "theme": "data",
                "providerId": w["a"]["id"]}  # fmt: skip
    r = await client.post("/v1/facilities", json=provided, headers=tokens.operator())
    assert (r.status_code, r.json()["invalidParams"]) == (
        400, [{"name": "providerId", "reason": "ended by a merger"}])  # fmt: skip
    r = await client.patch(
        f"/v1/facilities/{w['network']['id']}", json={"providerId": w["a"]["id"]},
        headers={**tokens.operator(), "If-Match": "*"},
    )  # fmt: skip
    assert r.status_code == 400, r.text
    r = await client.patch(
        f"/v1/organisations/{w['coop']['id']}", json={"memberIds": [w["a"]["id"]]},
        headers={**tokens.operator(), "If-Match": "*"},
    )  # fmt: skip
    assert r.status_code == 400
    assert r.json()["invalidParams"] == [{"name": "memberIds[0]", "reason": "ended by a merger"}]
    # The successor's staff change an inherited contract beside the other one, and may
    # register their own.
    s_staff = tokens.municipality(oin=SUCCESSOR_OIN)
    url = f"/v1/usages/{w['usages'][0]['id']}"
    r = await client.patch(url, json={"contractEndDate": "2029-01-01"},
                           headers={**s_staff, "If-Match": "*"})  # fmt: skip
    assert r.status_code == 200, r.text
    r = await client.patch(url, json={"status": "active"}, headers={**a_staff, "If-Match": "*"})
    assert r.status_code == 403
    r = await client.post(
        "/v1/usages", json={"municipalityId": w["s"]["id"], "facilityId": w["network"]["id"]},
        headers=s_staff,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    r = await client.post(
        "/v1/usages", json={"municipalityId": w["s"]["id"], "facilityId": w["network"]["id"]},
        headers=s_staff,
    )  # fmt: skip
    assert r.status_code == 409
    # Merging an ended municipality again is refused.
    r = await client.post(
        "/v1/municipality-mergers",
        json={"predecessorIds": [w["a"]["id"]], "successorId": w["s"]["id"],
              "effectiveDate": "2026-01-01"},
        headers=tokens.operator(),
    )  # fmt: skip
    assert r.status_code == 409


async def test_bad_mergers(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker
) -> None:
    w = await _world(client, tokens, make_org, make_facility)
    supplier = await make_org("supplier")
    tomorrow = (date.today() + timedelta(days=2)).isoformat()
    a, b, s = w["a"]["id"], w["b"]["id"], w["s"]["id"]
    cases = [
        ({"predecessorIds": [a, a], "successorId": s, "effectiveDate": "2026-01-01"},
         "predecessorIds[1]"),
        ({"predecessorIds": [a, s], "successorId": s, "effectiveDate": "2026-01-01"},
         "predecessorIds[1]"),
        ({**_body(w), "effectiveDate": tomorrow}, "effectiveDate"),
        ({**_body(w), "effectiveDate": "2026-02-30"}, "effectiveDate"),
        ({**_body(w), "predecessorIds": []}, "predecessorIds"),
        ({**_body(w), "predecessorIds": [supplier["id"]]}, "predecessorIds[0]"),
        ({**_body(w), "predecessorIds": [w["network"]["id"]]}, "predecessorIds[0]"),
        ({**_body(w), "successorId": w["coop"]["id"]}, "successorId"),
    ]  # fmt: skip
    for body, name in cases:
        for suffix in ("", "?dryRun=true"):
            r = await client.post(
                f"/v1/municipality-mergers{suffix}", json=body, headers=tokens.operator()
            )
            assert r.status_code == 400, (body, r.text)
            assert name in {p["name"] for p in r.json()["invalidParams"]}, (body, r.json())
    for headers in (tokens.municipality(), tokens.supplier(), tokens.reader()):
        r = await client.post("/v1/municipality-mergers", json=_body(w), headers=headers)
        assert r.status_code == 403
    r = await client.get(f"/v1/municipality-mergers/{a}", headers=tokens.reader())
    assert r.status_code == 404
    r = await client.get(f"/v1/organisations/{a}", headers=tokens.reader())
    assert r.json()["endedOn"] is None
    _ = b


async def test_a_merged_municipality_merges_again(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker
) -> None:
    """Contracts keep naming the municipality that concluded them through a second merger."""
    w = await _world(client, tokens, make_org, make_facility)
    r = await client.post("/v1/municipality-mergers", json=_body(w), headers=tokens.operator())
    assert r.status_code == 201, r.text
    later = await make_org("municipality", name="Gooi en Eem")
    r = await client.post(
        "/v1/municipality-mergers",
        json={"predecessorIds": [w["s"]["id"]], "successorId": later["id"],
              "effectiveDate": date.today().isoformat()},
        headers=tokens.operator(),
    )  # fmt: skip
    assert r.status_code == 201, r.text
    r = await client.get(f"/v1/usages?municipalityId={later['id']}", headers=tokens.reader())
    assert sorted(u["inheritedFromId"] for u in r.json()["items"]) == sorted(
        [w["a"]["id"], w["b"]["id"], w["b"]["id"]])  # fmt: skip
    r = await client.get(f"/v1/organisations/{w['s']['id']}", headers=tokens.reader())
    assert r.json()["successorId"] == later["id"]
    assert r.json()["endedOn"] == (date.today() - timedelta(days=1)).isoformat()
    r = await client.get(
        "/v1/municipality-mergers", params={"pageSize": 10}, headers=tokens.reader()
    )
    assert [m["successorId"] for m in r.json()["items"]] == [later["id"], w["s"]["id"]]


async def test_a_merger_on_the_first_representable_day_is_refused(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker
) -> None:
    """0001-01-01 leaves the predecessors no last day: 400 naming effectiveDate (it was a
    500 from the date arithmetic), nothing stored, nothing ended, no event."""
    w = await _world(client, tokens, make_org, make_facility)
    before = await _events(client, tokens)
    for suffix in ("", "?dryRun=true"):
        r = await client.post(
            f"/v1/municipality-mergers{suffix}",
            json=_body(w, when="0001-01-01"),
            headers=tokens.operator(),
        )
        assert r.status_code == 400, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert [p["name"] for p in r.json()["invalidParams"]] == ["effectiveDate"]
    r = await client.get("/v1/municipality-mergers", headers=tokens.reader())
    assert r.json()["total"] == 0
    for org in (w["a"], w["b"]):
        r = await client.get(f"/v1/organisations/{org['id']}", headers=tokens.reader())
        assert r.json()["endedOn"] is None
        assert r.json()["successorId"] is None
    assert await _events(client, tokens) == before


@pytest.mark.parametrize(
    ("moment", "effective", "status"),
    [
        # 00:30 on New Year's Day in the Netherlands: a herindeling of 1 January is today.
        (datetime(2026, 12, 31, 23, 30, tzinfo=UTC), "2027-01-01", 200),
        # 23:30 on 31 December there: 1 January is still ahead.
        (datetime(2026, 12, 31, 22, 30, tzinfo=UTC), "2027-01-01", 400),
    ],
)
async def test_the_effective_date_is_checked_against_the_dutch_calendar_day(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker,
    monkeypatch: pytest.MonkeyPatch, moment: datetime, effective: str, status: int,
) -> None:  # fmt: skip
    w = await _world(client, tokens, make_org, make_facility)
    monkeypatch.setattr(servicekit.clock, "utcnow", lambda: moment)
    r = await client.post(
        "/v1/municipality-mergers?dryRun=true", json=_body(w, effective), headers=tokens.operator()
    )
    assert r.status_code == status, r.text
