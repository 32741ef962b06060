"""Cost insight through the API: annual costs on usages, population figures loaded by the
operator (all or nothing, with year and source), totals and per-inhabitant figures that
are absent, never guessed, where a population figure is missing."""

from __future__ import annotations

from typing import Any

import httpx

Maker = Any


async def _usage(client: httpx.AsyncClient, tokens: Any, org: dict[str, Any], facility: dict[str, Any],
                 oin: str, **fields: Any) -> dict[str, Any]:  # fmt: skip
    body = {"municipalityId": org["id"], "facilityId": facility["id"], "status": "active", **fields}
    r = await client.post("/v1/usages", json=body, headers=tokens.municipality(oin))
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_costs_per_municipality_and_facility(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker
) -> None:
    utrecht = await make_org(
        "municipality", name="Utrecht", cbsCode="GM0344", oin=tokens.UTRECHT_OIN
    )
    amersfoort = await make_org("municipality", name="Amersfoort", cbsCode="GM0307",
                                oin=tokens.AMERSFOORT_OIN)  # fmt: skip
    network = await make_facility(name="Netwerk")
    phones = await make_facility(name="Telefonie")
    u1 = await _usage(client, tokens, utrecht, network, tokens.UTRECHT_OIN, annualCost=120000.5)
    assert u1["annualCost"] == 120000.5
    await _usage(client, tokens, utrecht, phones, tokens.UTRECHT_OIN)  # cost unknown
    await _usage(client, tokens, amersfoort, network, tokens.AMERSFOORT_OIN, annualCost=40000)
    r = await client.post("/v1/usages", json={"municipalityId": utrecht["id"], "facilityId": phones["id"],
                          "status": "planned", "annualCost": -1}, headers=tokens.municipality())  # fmt: skip
    assert r.status_code == 400

    # No population loaded yet: totals, but no per-inhabitant figure.
    r = await client.get(
        f"/v1/organisations/{utrecht['id']}/costs", headers=tokens.contracts_reader()
    )
    assert r.status_code == 200, r.text
    costs = r.json()
    assert (costs["annualCostTotal"], costs["usagesWithCost"], costs["usagesWithoutCost"]) == (
        120000.5, 1, 1)  # fmt: skip
    assert costs.get("costPerInhabitant") is None
    assert costs.get("population") is None
    assert [u["facilityName"] for u in costs["usages"]] == ["Netwerk", "Telefonie"]

    # The operator loads figures; a bad line stores nothing.
    load = {"year": 2024, "source": "CBS StatLine 03759ned", "figures": [
        {"cbsCode": "GM0344", "inhabitants": 367984}, {"cbsCode": "GM9998", "inhabitants": 5}]}  # fmt: skip
    r = await client.post("/v1/population-figures", json=load, headers=tokens.operator())
    assert r.status_code == 400
    assert r.json()["invalidParams"] == [
        {"name": "figures[1].cbsCode", "reason": "unknown municipality"}
    ]
    r = await client.post("/v1/population-figures", json=load, headers=tokens.municipality())
    assert r.status_code == 403
    assert (await client.get("/v1/population-figures", headers=tokens.contracts_reader())).json()[
        "total"
    ] == 0
    load["figures"] = load["figures"][:1]
    for wrong in ({**load, "year": "2024"}, {**load, "figures": [{"cbsCode": "GM0344", "inhabitants": "367984"}]}):  # fmt: skip
        r = await client.post("/v1/population-figures", json=wrong, headers=tokens.operator())
        assert r.status_code == 400, r.text  # a string is not a JSON integer
    r = await client.post("/v1/population-figures", json=load, headers=tokens.operator())
    assert r.status_code == 201, r.text
    assert r.json() == {"year": 2024, "source": "CBS StatLine 03759ned", "loaded": 1}
    listing = (
        await client.get("/v1/population-figures?year=2024", headers=tokens.contracts_reader())
    ).json()
    assert [(f["cbsCode"], f["inhabitants"], f["source"]) for f in listing["items"]] == [
        ("GM0344", 367984, "CBS StatLine 03759ned")]  # fmt: skip

    costs = (
        await client.get(
            f"/v1/organisations/{utrecht['id']}/costs", headers=tokens.contracts_reader()
        )
    ).json()
    assert costs["population"] == {
        "inhabitants": 367984,
        "year": 2024,
        "source": "CBS StatLine 03759ned",
    }
    assert costs["costPerInhabitant"] == 0.33

    # The facility: Amersfoort has no figure, so no per-inhabitant cost for the facility.
    facility = (
        await client.get(f"/v1/facilities/{network['id']}/costs", headers=tokens.contracts_reader())
    ).json()
    assert (facility["annualCostTotal"], facility["usagesWithCost"]) == (160000.5, 2)
    assert facility.get("inhabitants") is None
    assert facility.get("costPerInhabitant") is None
    load = {"year": 2023, "source": "CBS StatLine 03759ned", "figures": [
        {"cbsCode": "GM0307", "inhabitants": 160000}]}  # fmt: skip
    assert (
        await client.post("/v1/population-figures", json=load, headers=tokens.operator())
    ).status_code == 201
    facility = (
        await client.get(f"/v1/facilities/{network['id']}/costs", headers=tokens.contracts_reader())
    ).json()
    assert facility["inhabitants"] == 367984 + 160000
    assert facility["costPerInhabitant"] == round(160000.5 / 527984, 2)

    feed = (await client.get("/v1/events?limit=100", headers=tokens.contracts_reader())).json()[
        "items"
    ]
    assert [e["data"]["year"] for e in feed if e["type"].endswith("population-figures.loaded")] == [
        2024,
        2023,
    ]
    r = await client.get(f"/v1/organisations/{utrecht['id']}/costs", headers={})
    assert r.status_code == 401


async def test_costs_after_a_merger_count_the_predecessors_inhabitants(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker
) -> None:
    utrecht = await make_org(
        "municipality", name="Utrecht", cbsCode="GM0344", oin=tokens.UTRECHT_OIN
    )
    amersfoort = await make_org("municipality", name="Amersfoort", cbsCode="GM0307",
                                oin=tokens.AMERSFOORT_OIN)  # fmt: skip
    network = await make_facility(name="Netwerk")
    await _usage(client, tokens, utrecht, network, tokens.UTRECHT_OIN, annualCost=100000)
    await _usage(client, tokens, amersfoort, network, tokens.AMERSFOORT_OIN, annualCost=300000)

    async def load(year: int, **figures: int) -> None:
        body = {"year": year, "source": f"CBS {year}", "figures": [
            {"cbsCode": code, "inhabitants": n} for code, n in figures.items()]}  # fmt: skip
        r = await client.post("/v1/population-figures", json=body, headers=tokens.operator())
        assert r.status_code == 201, r.text

    async def costs() -> tuple[dict[str, Any], dict[str, Any]]:
        reader = tokens.contracts_reader()
        of_facility = await client.get(f"/v1/facilities/{network['id']}/costs", headers=reader)
        of_utrecht = await client.get(f"/v1/organisations/{utrecht['id']}/costs", headers=reader)
        return of_facility.json(), of_utrecht.json()

    await load(2025, GM0344=100000)  # Amersfoort's 2025 figure is not loaded yet
    r = await client.post("/v1/municipality-mergers", headers=tokens.operator(), json={
        "predecessorIds": [amersfoort["id"]], "successorId": utrecht["id"],
        "effectiveDate": "2025-07-01"})  # fmt: skip
    assert r.status_code == 201, r.text

    # Two active usages with a cost, now both Utrecht's; Utrecht's own 2025 figure
    # predates the merger and would leave out Amersfoort's inhabitants: no figure.
    facility, own = await costs()
    assert (facility["usagesWithCost"], facility["usagesWithoutCost"]) == (2, 0)
    assert facility["annualCostTotal"] == 400000
    assert facility.get("inhabitants") is None
    assert facility.get("costPerInhabitant") is None
    assert (own["usagesWithCost"], own["annualCostTotal"]) == (2, 400000)
    assert own.get("population") is None
    assert own.get("costPerInhabitant") is None

    # With every figure of that year loaded, they add up.
    await load(2025, GM0307=300000)
    facility, own = await costs()
    assert (facility["inhabitants"], facility["costPerInhabitant"]) == (400000, 1.0)
    assert own["population"] == {"inhabitants": 400000, "year": 2025, "source": "CBS 2025"}
    assert own["costPerInhabitant"] == 1.0

    # A figure of a year after the merger counts the merged municipality itself.
    await load(2026, GM0344=500000)
    facility, own = await costs()
    assert (facility["inhabitants"], facility["costPerInhabitant"]) == (500000, 0.8)
    assert own["population"] == {"inhabitants": 500000, "year": 2026, "source": "CBS 2026"}
