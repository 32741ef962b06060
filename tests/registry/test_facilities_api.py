"""Facilities: validation, operator-only writes, ETags, lifecycle moves and deletion."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

Maker = Any


async def test_create_read_and_list(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker
) -> None:
    vng = await make_org("operator")
    body = {
        "slug": "ggi-netwerk",
        "name": "GGI-Netwerk",
        "kind": "infrastructure",
        "theme": "Connectivity",
        "providerId": vng["id"],
        "links": [{"title": "VNG", "url": "https://vng.nl"}],
        "standards": ["Diginetwerk"],
    }
    r = await client.post("/v1/facilities", json=body, headers=tokens.operator())
    assert r.status_code == 201, r.text
    facility = r.json()
    assert r.headers["location"] == f"/v1/facilities/{facility['id']}"
    assert facility["stage"] == "initiative"
    assert facility["theme"] == "connectivity"
    assert facility["links"] == body["links"]
    r = await client.get(f"/v1/facilities/{facility['id']}", headers=tokens.reader())
    assert r.json() == facility
    assert r.headers["etag"]
    r = await client.get("/v1/facilities?slug=ggi-netwerk", headers=tokens.reader())
    assert [f["id"] for f in r.json()["items"]] == [facility["id"]]
    for params in ({"kind": "infrastructure"}, {"theme": "connectivity"}, {"q": "GGI"},
                   {"providerId": vng["id"]}, {"stage": "initiative"}):  # fmt: skip
        r = await client.get("/v1/facilities", params=params, headers=tokens.reader())
        assert r.json()["total"] == 1, params
    r = await client.get("/v1/facilities?kind=infra", headers=tokens.reader())
    assert r.status_code == 400


async def test_bad_input(client: httpx.AsyncClient, tokens: Any, make_facility: Maker) -> None:
    await make_facility(slug="taken")
    base = {"slug": "new-one", "name": "N", "kind": "service", "theme": "t"}
    cases = [
        ({**base, "slug": "Not A Slug"}, 400),
        ({**base, "slug": "-x"}, 400),
        ({**base, "kind": "gadget"}, 400),
        ({**base, "name": ""}, 400),
        ({**base, "name": "GGI\u202eNetwerk"}, 400),  # reads as something else
        ({**base, "name": "GGI\x1b[31m"}, 400),
        ({**base, "description": "x" * 10_001}, 400),
        ({**base, "description": "a\u0000b"}, 400),
        ({**base, "description": "a\u0008b"}, 400),
        ({**base, "links": [{"title": "x", "url": "ftp://x"}]}, 400),
        ({**base, "providerId": "00000000-0000-0000-0000-000000000001"}, 400),
        ({**base, "stage": "done"}, 400),
        ({**base, "slug": "taken"}, 409),
    ]
    for body, status in cases:
        r = await client.post("/v1/facilities", json=body, headers=tokens.operator())
        assert r.status_code == status, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    # The conflict names its field, so that a form can show it there.
    assert r.json()["invalidParams"] == [{"name": "slug", "reason": "taken"}]
    r = await client.get("/v1/facilities", headers=tokens.reader())
    assert r.json()["total"] == 1


async def test_only_operator_manages_facilities(
    client: httpx.AsyncClient, tokens: Any, make_facility: Maker
) -> None:
    body = {"slug": "x-y", "name": "N", "kind": "service", "theme": "t"}
    for headers in (tokens.municipality(), tokens.supplier()):
        r = await client.post("/v1/facilities", json=body, headers=headers)
        assert r.status_code == 403
    facility = await make_facility()
    url = f"/v1/facilities/{facility['id']}"
    r = await client.patch(url, json={"name": "X"}, headers={**tokens.supplier(), "If-Match": "*"})
    assert r.status_code == 403
    r = await client.post(
        f"{url}/stage-transitions",
        json={"toStage": "pilot", "reason": "r"},
        headers=tokens.municipality(),
    )
    assert r.status_code == 403
    r = await client.delete(url, headers=tokens.municipality())
    assert r.status_code == 403


async def test_patch_with_etag(
    client: httpx.AsyncClient, tokens: Any, make_facility: Maker
) -> None:
    facility = await make_facility(slug="one")
    await make_facility(slug="two")
    url = f"/v1/facilities/{facility['id']}"
    etag = (await client.get(url, headers=tokens.reader())).headers["etag"]
    r = await client.patch(url, json={"name": "Renamed"}, headers=tokens.operator())
    assert r.status_code == 428
    r = await client.patch(
        url, json={"slug": "two"}, headers={**tokens.operator(), "If-Match": etag}
    )
    assert r.status_code == 409
    r = await client.patch(
        url, json={"stage": "retired"}, headers={**tokens.operator(), "If-Match": etag}
    )
    assert r.status_code == 400
    r = await client.patch(
        url,
        json={"name": "Renamed", "standards": ["FSC"], "description": None},
        headers={**tokens.operator(), "If-Match": etag},
    )
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "Renamed"
    assert r.json()["standards"] == ["FSC"]
    assert r.json()["description"] == ""
    r = await client.patch(
        url, json={"name": "Again"}, headers={**tokens.operator(), "If-Match": etag}
    )
    assert r.status_code == 412
    assert r.json()["currentETag"]


async def test_stage_transitions_forward_only_with_history(
    client: httpx.AsyncClient, tokens: Any, make_facility: Maker
) -> None:
    facility = await make_facility()
    url = f"/v1/facilities/{facility['id']}/stage-transitions"
    r = await client.post(
        url, json={"toStage": "pilot", "reason": "Three pilots"}, headers=tokens.operator()
    )
    assert r.status_code == 201, r.text
    first = r.json()
    assert r.headers["location"] == f"{url}/{first['id']}"
    assert first["fromStage"] == "initiative"
    assert first["toStage"] == "pilot"
    assert first["actor"] == "vng-admin"
    assert first["actorOrganisation"] == tokens.OPERATOR_OIN
    # Skipping forward is allowed (after a positive impact analysis); backwards or
    # standing still is not.
    analysis = {"outcome": "positive", "summary": "Werkt", "completedOn": "2026-11-01"}
    r = await client.post(
        f"/v1/facilities/{facility['id']}/impact-analyses", json=analysis, headers=tokens.operator()
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        url, json={"toStage": "implementation", "reason": "Go"}, headers=tokens.operator()
    )
    assert r.status_code == 201
    for target in ("pilot", "implementation", "initiative"):
        r = await client.post(
            url, json={"toStage": target, "reason": "No"}, headers=tokens.operator()
        )
        assert r.status_code == 409, target
        assert r.json()["currentStage"] == "implementation"
        assert r.json()["allowedStages"] == ["operational", "retired"]
    r = await client.post(
        url, json={"toStage": "operational", "reason": ""}, headers=tokens.operator()
    )
    assert r.status_code == 400
    r = await client.post(
        url, json={"toStage": "finished", "reason": "x"}, headers=tokens.operator()
    )
    assert r.status_code == 400

    r = await client.get(url, headers=tokens.reader())
    history = r.json()["items"]
    assert [(h["fromStage"], h["toStage"]) for h in history] == [
        ("initiative", "pilot"),
        ("pilot", "implementation"),
    ]
    assert history[0]["reason"] == "Three pilots"
    assert history[0]["at"] <= history[1]["at"]
    r = await client.get(f"{url}/{first['id']}", headers=tokens.reader())
    assert r.json() == first
    r = await client.get(f"/v1/facilities/{facility['id']}", headers=tokens.reader())
    assert r.json()["stage"] == "implementation"
    other = await make_facility()
    r = await client.get(
        f"/v1/facilities/{other['id']}/stage-transitions/{first['id']}", headers=tokens.reader()
    )
    assert r.status_code == 404
    r = await client.post(
        "/v1/facilities/00000000-0000-0000-0000-000000000000/stage-transitions",
        json={"toStage": "pilot", "reason": "x"},
        headers=tokens.operator(),
    )
    assert r.status_code == 404


async def test_concurrent_transitions_one_wins(
    client: httpx.AsyncClient, tokens: Any, make_facility: Maker
) -> None:
    facility = await make_facility()
    url = f"/v1/facilities/{facility['id']}/stage-transitions"
    results = await asyncio.gather(
        *(
            client.post(
                url, json={"toStage": "pilot", "reason": f"r{i}"}, headers=tokens.operator()
            )
            for i in range(4)
        )
    )
    assert sorted(r.status_code for r in results) == [201, 409, 409, 409]
    r = await client.get(url, headers=tokens.reader())
    assert r.json()["total"] == 1


async def test_stage_transition_idempotency(
    client: httpx.AsyncClient, tokens: Any, make_facility: Maker
) -> None:
    facility = await make_facility()
    url = f"/v1/facilities/{facility['id']}/stage-transitions"
    headers = {**tokens.operator(), "Idempotency-Key": "move-1"}
    body = {"toStage": "pilot", "reason": "once"}
    a = await client.post(url, json=body, headers=headers)
    b = await client.post(url, json=body, headers=headers)
    assert a.status_code == b.status_code == 201
    assert a.json() == b.json()
    assert (await client.get(url, headers=tokens.reader())).json()["total"] == 1


async def test_delete_blocked_by_usage(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker
) -> None:
    municipality = await make_org("municipality", oin=tokens.UTRECHT_OIN)
    used = await make_facility()
    r = await client.post(
        "/v1/usages",
        json={"municipalityId": municipality["id"], "facilityId": used["id"]},
        headers=tokens.municipality(),
    )
    assert r.status_code == 201, r.text
    usage = r.json()
    r = await client.delete(f"/v1/facilities/{used['id']}", headers=tokens.operator())
    assert r.status_code == 409
    assert r.json()["blockingUsages"] == [
        {"id": usage["id"], "municipalityId": municipality["id"], "status": "active"}
    ]
    assert (
        await client.get(f"/v1/facilities/{used['id']}", headers=tokens.reader())
    ).status_code == 200

    unused = await make_facility()
    r = await client.delete(
        f"/v1/facilities/{unused['id']}", headers={**tokens.operator(), "If-Match": '"x"'}
    )
    assert r.status_code == 412
    r = await client.delete(f"/v1/facilities/{unused['id']}", headers=tokens.operator())
    assert r.status_code == 204
    assert (
        await client.get(f"/v1/facilities/{unused['id']}", headers=tokens.reader())
    ).status_code == 404
