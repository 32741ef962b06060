"""Vulnerabilities: recorded by the offering's supplier or the operator, validated (CVE
id, CVSS score and vector, versions of the offering), changed with If-Match, withdrawn;
exposure derived from usages and shown only to those concerned; addressed events."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
from sqlalchemy import select

from registry.db import event_outbox
from registry.webhooks.dispatcher import WebhookDispatcher
from servicekit.db import Database

Maker = Any
VECTOR = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"


async def _landscape(client: httpx.AsyncClient, tokens: Any, make_org: Maker,
                     make_facility: Maker) -> dict[str, Any]:  # fmt: skip
    """A supplier's offering with versions 1.0 and 2.0; Utrecht runs 1.0, Amersfoort 2.0."""
    await make_org("supplier", kvkNumber=tokens.SUPPLIER_KVK)
    await make_org("supplier", kvkNumber=tokens.OTHER_KVK)
    utrecht = await make_org(name="Utrecht", oin=tokens.UTRECHT_OIN)
    amersfoort = await make_org(name="Amersfoort", oin=tokens.AMERSFOORT_OIN)
    facility = await make_facility()
    r = await client.post(
        "/v1/offerings",
        json={"facilityId": facility["id"], "name": "Zaaksysteem", "priceModel": "fixed"},
        headers=tokens.supplier(),
    )
    offering = r.json()
    versions = {}
    for label in ("1.0", "2.0"):
        r = await client.post(
            f"/v1/offerings/{offering['id']}/versions",
            json={"version": label, "releaseDate": "2026-01-01"},
            headers=tokens.supplier(),
        )
        versions[label] = r.json()["id"]
    for town, oin, label in ((utrecht, tokens.UTRECHT_OIN, "1.0"),
                             (amersfoort, tokens.AMERSFOORT_OIN, "2.0")):  # fmt: skip
        r = await client.post(
            "/v1/usages",
            json={"municipalityId": town["id"], "facilityId": facility["id"],
                  "offeringId": offering["id"], "versionId": versions[label]},
            headers=tokens.municipality(oin),
        )  # fmt: skip
        assert r.status_code == 201, r.text
    return {"offering": offering, "versions": versions, "utrecht": utrecht,
            "amersfoort": amersfoort}  # fmt: skip


def _body(world: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "offeringId": world["offering"]["id"],
        "cveId": "CVE-2099-0001",
        "cvssScore": 9.8,
        "cvssVector": VECTOR,
        "description": "Fictitious: remote code execution in the import module.",
        "affectedVersionIds": [world["versions"]["1.0"]],
        "fixedInVersion": "1.1",
        **fields,
    }


async def _feed(client: httpx.AsyncClient, tokens: Any) -> list[dict[str, Any]]:
    r = await client.get("/v1/events?limit=500", headers=tokens.reader())
    return list(r.json()["items"])


async def _private_events(database: Database) -> list[dict[str, Any]]:
    rows = await database.fetch(
        select(event_outbox.c.type, event_outbox.c.data)
        .where(event_outbox.c.type.startswith("nl.samen.registry.exposure."))
        .order_by(event_outbox.c.sequence)
    )
    return [{"type": r["type"], **json.loads(r["data"])} for r in rows]


async def test_supplier_records_and_the_exposed_see_it(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker,
    registry_db: Database,
) -> None:  # fmt: skip
    world = await _landscape(client, tokens, make_org, make_facility)
    r = await client.post("/v1/vulnerabilities", json=_body(world), headers=tokens.supplier())
    assert r.status_code == 201, r.text
    vuln = r.json()
    assert r.headers["location"] == f"/v1/vulnerabilities/{vuln['id']}"
    assert vuln["severity"] == "critical"
    assert vuln["cvssScore"] == 9.8
    assert vuln["affectedVersions"] == [{"versionId": world["versions"]["1.0"], "version": "1.0"}]
    assert vuln["status"] == "published"
    assert vuln["withdrawalReason"] is None

    feed = await _feed(client, tokens)
    assert feed[-1]["type"] == "nl.samen.registry.vulnerability.created"
    assert feed[-1]["data"]["cveId"] == "CVE-2099-0001"
    assert not [e for e in feed if e["type"].startswith("nl.samen.registry.exposure.")]
    private = await _private_events(registry_db)
    assert [(e["type"], e["audience"]) for e in private] == [
        ("nl.samen.registry.exposure.detected", tokens.UTRECHT_OIN)
    ]

    # Who is exposed: the supplier and the operator see every municipality.
    url = f"/v1/vulnerabilities/{vuln['id']}/exposures"
    for headers in (tokens.supplier(), tokens.operator()):
        r = await client.get(url, headers=headers)
        assert r.status_code == 200, r.text
        assert [e["municipalityName"] for e in r.json()["items"]] == ["Utrecht"]
    # A municipality sees only itself; another supplier and plain readers nothing.
    r = await client.get(url, headers=tokens.municipality(tokens.AMERSFOORT_OIN))
    assert r.json()["total"] == 0
    assert (await client.get(url, headers=tokens.supplier(tokens.OTHER_KVK))).status_code == 403
    assert (await client.get(url, headers=tokens.reader())).status_code == 403

    # Am I exposed: Utrecht yes, Amersfoort no; nobody else may ask for Utrecht.
    mine = f"/v1/organisations/{world['utrecht']['id']}/exposures"
    r = await client.get(mine, headers=tokens.municipality())
    assert r.status_code == 200, r.text
    item = r.json()["items"][0]
    assert item["cveId"] == "CVE-2099-0001"
    assert item["version"] == "1.0"
    assert item["fixedInVersion"] == "1.1"
    assert item["usageStatus"] == "active"
    r = await client.get(
        f"/v1/organisations/{world['amersfoort']['id']}/exposures",
        headers=tokens.municipality(tokens.AMERSFOORT_OIN),
    )
    assert r.json()["total"] == 0
    for headers in (tokens.municipality(tokens.AMERSFOORT_OIN), tokens.supplier(), tokens.reader()):
        assert (await client.get(mine, headers=headers)).status_code == 403
    assert (await client.get(mine, headers=tokens.operator())).json()["total"] == 1
    r = await client.get(f"/v1/organisations/{uuid.uuid4()}/exposures", headers=tokens.operator())
    assert r.status_code == 404

    r = await client.get(
        f"/v1/vulnerabilities?offeringId={world['offering']['id']}&cveId=CVE-2099-0001",
        headers=tokens.reader(),
    )
    assert r.json()["total"] == 1


async def test_bad_input_and_strangers_are_refused(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker
) -> None:
    world = await _landscape(client, tokens, make_org, make_facility)
    other = await make_facility()
    r = await client.post(
        "/v1/offerings",
        json={"facilityId": other["id"], "name": "Ander", "priceModel": "free"},
        headers=tokens.supplier(),
    )
    r = await client.post(
        f"/v1/offerings/{r.json()['id']}/versions",
        json={"version": "9.0", "releaseDate": "2026-01-01"},
        headers=tokens.supplier(),
    )
    foreign_version = r.json()["id"]
    bad = {
        "cveId": {"cveId": "CVE-99-1"},
        "cvssScore": {"cvssScore": 11},
        "cvssVector": {"cvssVector": "CVSS:3.1/AV:N/AC:L"},
        "affectedVersionIds": {"affectedVersionIds": [str(uuid.uuid4())]},
    }
    for name, fields in bad.items():
        r = await client.post(
            "/v1/vulnerabilities", json=_body(world, **fields), headers=tokens.supplier()
        )
        assert r.status_code == 400, (name, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert name in [p["name"] for p in r.json()["invalidParams"]], r.text
    for vector in ("CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                   "CVSS:2.0/AV:N/AC:L/Au:N/C:P/I:P/A:P", VECTOR + "/AV:N", "CVSS:4.0/AV:N"):  # fmt: skip
        r = await client.post(
            "/v1/vulnerabilities", json=_body(world, cvssVector=vector), headers=tokens.supplier()
        )
        assert r.status_code == 400, vector
    # The score is the vector's: a critical vector is not rated "none", nor the reverse.
    for score, vector, expected in (
        (0.0, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", "10.0"),
        (9.8, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", "0.0"),
        (9.3, "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:P", "8.9"),
    ):
        r = await client.post(
            "/v1/vulnerabilities", json=_body(world, cvssScore=score, cvssVector=vector),
            headers=tokens.supplier(),
        )  # fmt: skip
        assert r.status_code == 400, r.text
        assert r.json()["invalidParams"] == [
            {"name": "cvssScore", "reason": f"not the vector's score ({expected})"}
        ]
    r = await client.post(
        "/v1/vulnerabilities",
        json=_body(world, affectedVersionIds=[foreign_version]),
        headers=tokens.supplier(),
    )
    assert r.status_code == 400
    r = await client.post(
        "/v1/vulnerabilities",
        json=_body(world, offeringId=str(uuid.uuid4())),
        headers=tokens.supplier(),
    )
    assert r.status_code == 400
    for headers in (tokens.supplier(tokens.OTHER_KVK), tokens.municipality()):
        r = await client.post("/v1/vulnerabilities", json=_body(world), headers=headers)
        assert r.status_code == 403, r.text
    r = await client.post("/v1/vulnerabilities", json=_body(world), headers=tokens.reader())
    assert r.status_code == 403
    # CVSS 4.0 and a lower-case id are accepted; the operator may record too.
    v4 = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:P"
    r = await client.post(
        "/v1/vulnerabilities",
        json=_body(world, cveId="cve-2099-12345", cvssVector=v4, cvssScore=8.9),
        headers=tokens.operator(),
    )
    assert r.status_code == 201, r.text
    assert r.json()["cveId"] == "CVE-2099-12345"
    assert r.json()["severity"] == "high"
    r = await client.post(
        "/v1/vulnerabilities", json=_body(world, cveId="CVE-2099-12345"), headers=tokens.supplier()
    )
    assert r.status_code == 409
    assert (await client.get(f"/v1/vulnerabilities/{uuid.uuid4()}", headers=tokens.reader())).status_code == 404  # fmt: skip


async def test_change_and_withdraw_with_if_match(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker,
    registry_db: Database,
) -> None:  # fmt: skip
    world = await _landscape(client, tokens, make_org, make_facility)
    r = await client.post("/v1/vulnerabilities", json=_body(world), headers=tokens.supplier())
    url = f"/v1/vulnerabilities/{r.json()['id']}"
    stale = r.headers["etag"]
    both = [world["versions"]["1.0"], world["versions"]["2.0"]]
    change = {"affectedVersionIds": both, "cvssScore": 7.5,
              "cvssVector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}  # fmt: skip
    assert (await client.patch(url, json=change, headers=tokens.supplier())).status_code == 428
    r = await client.patch(
        url, json=change, headers={**tokens.supplier(tokens.OTHER_KVK), "If-Match": stale}
    )
    assert r.status_code == 403
    r = await client.patch(
        url, json={"cvssVector": None}, headers={**tokens.supplier(), "If-Match": stale}
    )
    assert r.status_code == 400
    for mismatched in ({"cvssScore": 7.5}, {"cvssVector": change["cvssVector"]}):
        r = await client.patch(
            url, json=mismatched, headers={**tokens.supplier(), "If-Match": stale}
        )
        assert r.status_code == 400, r.text
        assert r.json()["invalidParams"][0]["name"] == "cvssScore"
    r = await client.patch(url, json=change, headers={**tokens.supplier(), "If-Match": stale})
    assert r.status_code == 200, r.text
    assert r.json()["severity"] == "high"
    assert [v["version"] for v in r.json()["affectedVersions"]] == ["1.0", "2.0"]
    r = await client.patch(
        url, json={"fixedInVersion": None}, headers={**tokens.supplier(), "If-Match": stale}
    )
    assert r.status_code == 412
    r = await client.get(f"{url}/exposures", headers=tokens.operator())
    assert sorted(e["municipalityName"] for e in r.json()["items"]) == ["Amersfoort", "Utrecht"]
    etag = (await client.get(url, headers=tokens.reader())).headers["etag"]
    r = await client.post(
        f"{url}/withdrawal", json={"reason": "Recorded in error"},
        headers={**tokens.supplier(), "If-Match": stale},
    )  # fmt: skip
    assert r.status_code == 412
    r = await client.post(
        f"{url}/withdrawal", json={"reason": "Recorded in error"},
        headers={**tokens.supplier(), "If-Match": etag},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "withdrawn"
    assert (await client.get(f"{url}/exposures", headers=tokens.operator())).json()["total"] == 0
    r = await client.patch(
        url, json={"cvssScore": 1.0}, headers={**tokens.supplier(), "If-Match": r.headers["etag"]}
    )
    assert r.status_code == 409
    types = [e["type"].rsplit(".", 2)[-2:] for e in await _feed(client, tokens)]
    assert types[-2:] == [["vulnerability", "updated"], ["vulnerability", "withdrawn"]]
    private = [(e["type"].rsplit(".", 1)[-1], e["audience"]) for e in await _private_events(registry_db)]  # fmt: skip
    assert private[:2] == [("detected", tokens.UTRECHT_OIN), ("detected", tokens.AMERSFOORT_OIN)]
    assert sorted(private[2:]) == [("ended", tokens.UTRECHT_OIN), ("ended", tokens.AMERSFOORT_OIN)]


async def test_exposure_events_reach_only_the_exposed_municipalitys_webhooks(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker,
    registry_db: Database,
) -> None:  # fmt: skip
    world = await _landscape(client, tokens, make_org, make_facility)
    received: dict[str, list[dict[str, Any]]] = {"utrecht": [], "amersfoort": []}

    def handler(request: httpx.Request) -> httpx.Response:
        received[request.url.path.strip("/")].append(json.loads(request.content))
        return httpx.Response(204)

    for name, oin in (("utrecht", tokens.UTRECHT_OIN), ("amersfoort", tokens.AMERSFOORT_OIN)):
        r = await client.post(
            "/v1/subscriptions", json={"url": f"http://receiver.test/{name}"},
            headers=tokens.municipality(oin),
        )  # fmt: skip
        assert r.status_code == 201, r.text
    await client.post("/v1/vulnerabilities", json=_body(world), headers=tokens.supplier())
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        await WebhookDispatcher(registry_db, http).run_once()
    assert [e["type"] for e in received["utrecht"]] == [
        "nl.samen.registry.vulnerability.created",
        "nl.samen.registry.exposure.detected",
    ]
    assert received["utrecht"][1]["data"]["usages"][0]["version"] == "1.0"
    assert [e["type"] for e in received["amersfoort"]] == [
        "nl.samen.registry.vulnerability.created"
    ]


async def test_a_usage_moved_onto_or_off_an_affected_version_is_announced(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker,
    registry_db: Database,
) -> None:  # fmt: skip
    world = await _landscape(client, tokens, make_org, make_facility)
    await client.post("/v1/vulnerabilities", json=_body(world), headers=tokens.supplier())
    r = await client.get(
        f"/v1/usages?municipalityId={world['amersfoort']['id']}", headers=tokens.reader()
    )
    usage = r.json()["items"][0]
    url = f"/v1/usages/{usage['id']}"
    etag = (await client.get(url, headers=tokens.reader())).headers["etag"]
    onto = {"versionId": world["versions"]["1.0"]}
    headers = {**tokens.municipality(tokens.AMERSFOORT_OIN), "If-Match": etag}
    r = await client.patch(url, json=onto, headers=headers)
    assert r.status_code == 200, r.text
    r = await client.patch(
        url, json={"versionId": world["versions"]["2.0"]},
        headers={**headers, "If-Match": r.headers["etag"]},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    private = [(e["type"].rsplit(".", 1)[-1], e["audience"]) for e in await _private_events(registry_db)]  # fmt: skip
    assert private == [
        ("detected", tokens.UTRECHT_OIN),  # the vulnerability's record
        ("detected", tokens.AMERSFOORT_OIN),  # moved onto 1.0
        ("ended", tokens.AMERSFOORT_OIN),  # moved off again
    ]
