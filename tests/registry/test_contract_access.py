"""Contract details (contract end, notice period, value band, annual cost, and the radar,
costs and notice alerts made from them) only for the municipality's own staff, the
operator and callers with registry:contracts; every reader still sees who uses what."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx

Maker = Any
CONTRACT = {
    "contractEndDate": "2027-06-30",
    "noticePeriodMonths": 6,
    "contractValueBand": "215k-750k",
    "annualCost": 12000.5,
}
# The version run is withheld too: with the public vulnerabilities it tells the exposure.
HIDDEN = dict.fromkeys((*CONTRACT, "versionId"))


async def _world(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker
) -> dict[str, Any]:
    utrecht = await make_org("municipality", name="Utrecht", oin=tokens.UTRECHT_OIN)
    amersfoort = await make_org("municipality", name="Amersfoort", oin=tokens.AMERSFOORT_OIN)
    await make_org("supplier", kvkNumber=tokens.SUPPLIER_KVK)
    facility = await make_facility(theme="netwerk")
    offering = (await client.post("/v1/offerings", headers=tokens.supplier(), json={
        "facilityId": facility["id"], "name": "O", "priceModel": "free"})).json()  # fmt: skip
    version = (await client.post(f"/v1/offerings/{offering['id']}/versions", headers=tokens.supplier(),
               json={"version": "1", "releaseDate": "2024-01-01"})).json()  # fmt: skip
    body = {"municipalityId": utrecht["id"], "facilityId": facility["id"],
            "offeringId": offering["id"], "versionId": version["id"],
            "startDate": "2024-01-01", **CONTRACT}  # fmt: skip
    r = await client.post("/v1/usages", json=body, headers=tokens.municipality())
    assert r.status_code == 201, r.text
    return {"utrecht": utrecht, "amersfoort": amersfoort, "facility": facility,
            "offering": offering, "version": version, "usage": r.json()}  # fmt: skip


def _amersfoort(tokens: Any) -> dict[str, str]:
    return tokens.municipality(oin=tokens.AMERSFOORT_OIN, sub="amersfoort-staff")


def _contract(usage: dict[str, Any]) -> dict[str, Any]:
    return {k: usage[k] for k in (*CONTRACT, "versionId")}


async def test_usages_show_contract_details_only_to_whom_they_belong(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker
) -> None:
    w = await _world(client, tokens, make_org, make_facility)
    usage_url = f"/v1/usages/{w['usage']['id']}"
    listing = f"/v1/usages?facilityId={w['facility']['id']}"
    # Every reader: who uses what, with status and start, no contract details.
    for headers in (tokens.reader(), _amersfoort(tokens), tokens.supplier()):
        r = await client.get(usage_url, headers=headers)
        assert r.status_code == 200, r.text
        seen = r.json()
        assert _contract(seen) == HIDDEN
        assert seen["contractDetailsShown"] is False
        assert (seen["municipalityId"], seen["offeringId"], seen["status"], seen["startDate"]) == (
            w["utrecht"]["id"], w["offering"]["id"], "active", "2024-01-01",
        )  # fmt: skip
        items = (await client.get(listing, headers=headers)).json()["items"]
        assert [_contract(i) for i in items] == [HIDDEN]
        assert [i["contractDetailsShown"] for i in items] == [False]
    # Its own staff, the operator and registry:contracts: everything (from the same cache).
    for headers in (tokens.municipality(), tokens.operator(), tokens.contracts_reader()):
        seen = (await client.get(usage_url, headers=headers)).json()
        shown = {**CONTRACT, "versionId": w["version"]["id"]}
        assert _contract(seen) == shown
        assert seen["contractDetailsShown"] is True
        items = (await client.get(listing, headers=headers)).json()["items"]
        assert [_contract(i) for i in items] == [shown]
    # Anonymous callers are refused.
    r = await client.get(listing)
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_usage_csv_leaves_other_contracts_empty(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker
) -> None:
    await _world(client, tokens, make_org, make_facility)

    async def rows(headers: dict[str, str]) -> list[dict[str, str]]:
        r = await client.get("/v1/exports/usages.csv", headers=headers)
        assert r.status_code == 200, r.text
        return list(csv.DictReader(io.StringIO(r.text)))

    (other,) = await rows(_amersfoort(tokens))
    assert [other[k] for k in CONTRACT] == ["", "", "", ""]
    assert (other["versionId"], other["version"]) == ("", "")
    assert other["municipalityName"] == "Utrecht"
    (own,) = await rows(tokens.municipality())
    assert (own["contractEndDate"], own["version"]) == ("2027-06-30", "1")
    (every,) = await rows(tokens.contracts_reader())
    assert every["annualCost"] == "12000.5"


async def test_radar_costs_and_alerts_of_a_municipality_are_its_own(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker
) -> None:
    w = await _world(client, tokens, make_org, make_facility)
    org = f"/v1/organisations/{w['utrecht']['id']}"
    private = [
        f"{org}/radar?within=P5Y&asOf=2026-01-01",
        f"{org}/radar.csv?within=P5Y&asOf=2026-01-01",
        f"{org}/costs",
        f"/v1/usages/{w['usage']['id']}/notice-alerts",
        f"{org}/landscape",
        f"{org}/landscape.xml",
    ]
    for url in private:
        for headers in (tokens.reader(), _amersfoort(tokens), tokens.supplier()):
            r = await client.get(url, headers=headers)
            assert r.status_code == 403, (url, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
            assert "registry:contracts" in r.json()["detail"]
        for headers in (tokens.municipality(), tokens.operator(), tokens.contracts_reader()):
            r = await client.get(url, headers=headers)
            assert r.status_code == 200, (url, r.text)
        assert (await client.get(url)).status_code == 401
    radar = (await client.get(private[0], headers=tokens.municipality())).json()["items"]
    assert [i["contractEndDate"] for i in radar] == ["2027-06-30"]
    costs = (await client.get(f"{org}/costs", headers=tokens.municipality())).json()
    assert costs["annualCostTotal"] == 12000.5


async def test_radar_and_costs_of_a_facility_need_registry_contracts(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker
) -> None:
    w = await _world(client, tokens, make_org, make_facility)
    joint = await make_facility(theme="netwerk")
    urls = [
        f"/v1/facilities/{joint['id']}/radar?within=P5Y&asOf=2026-01-01",
        f"/v1/facilities/{joint['id']}/radar.csv?within=P5Y&asOf=2026-01-01",
        f"/v1/facilities/{w['facility']['id']}/costs",
    ]
    for url in urls:
        # Even Utrecht's own staff: these list other municipalities' contracts.
        for headers in (tokens.reader(), tokens.municipality(), _amersfoort(tokens)):
            r = await client.get(url, headers=headers)
            assert r.status_code == 403, (url, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
        for headers in (tokens.operator(), tokens.contracts_reader()):
            r = await client.get(url, headers=headers)
            assert r.status_code == 200, (url, r.text)
    radar = (await client.get(urls[0], headers=tokens.contracts_reader())).json()["items"]
    assert [(i["municipalityName"], i["contractEndDate"]) for i in radar] == [
        ("Utrecht", "2027-06-30")
    ]


async def test_feed_shows_usage_contracts_only_to_whom_they_belong(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker
) -> None:
    w = await _world(client, tokens, make_org, make_facility)
    url = f"/v1/usages/{w['usage']['id']}"
    etag = (await client.get(url, headers=tokens.municipality())).headers["etag"]
    r = await client.patch(
        url, json={"annualCost": 13000}, headers={**tokens.municipality(), "If-Match": etag}
    )
    assert r.status_code == 200, r.text

    async def usage_events(headers: dict[str, str]) -> list[dict[str, Any]]:
        items = (await client.get("/v1/events?limit=500", headers=headers)).json()["items"]
        return [e["data"] for e in items if e["type"].startswith("nl.samen.registry.usage.")]

    others = await usage_events(_amersfoort(tokens))
    assert len(others) == 2
    for data in others:
        assert not {*CONTRACT, "versionId"} & set(data), data
        assert data["contractDetailsShown"] is False
        assert (data["municipalityId"], data["status"]) == (w["utrecht"]["id"], "active")
    assert await usage_events(tokens.reader()) == others
    for headers in (tokens.municipality(), tokens.contracts_reader(), tokens.operator()):
        own = await usage_events(headers)
        assert [d["annualCost"] for d in own] == [12000.5, 13000]
        assert own[0]["contractEndDate"] == "2027-06-30"
