"""Contract-expiry radar on a crafted data set, and ISO 8601 window parsing."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest

from registry.durations import add_months, parse_duration

Maker = Any
AS_OF = "2026-01-15"  # horizon for P18M: 2027-07-15


def test_parse_duration_and_month_arithmetic() -> None:
    assert parse_duration("P18M").after(date(2026, 1, 15)) == date(2027, 7, 15)
    assert parse_duration("P1Y6M").after(date(2026, 1, 15)) == date(2027, 7, 15)
    assert parse_duration("P2W").after(date(2026, 1, 15)) == date(2026, 1, 29)
    assert parse_duration("p90d").after(date(2026, 1, 1)) == date(2026, 4, 1)
    assert add_months(date(2026, 8, 31), -6) == date(2026, 2, 28)
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert parse_duration(" P18M ").total_months == 18  # surrounding whitespace is tolerated
    for bad in ("", "P", "18M", "P18", "PT5H", "P1.5Y", "P100Y", "P-1M"):
        with pytest.raises(ValueError, match="must be"):
            parse_duration(bad)


async def _municipality(make_org: Maker, n: int) -> tuple[dict[str, Any], str]:
    oin = f"00000001{n:09d}000"
    return await make_org("municipality", name=f"M{n}", oin=oin), oin


async def _use(
    client: httpx.AsyncClient,
    tokens: Any,
    oin: str,
    org: dict[str, Any],
    facility: dict[str, Any],
    **fields: Any,
) -> dict[str, Any]:
    body = {"municipalityId": org["id"], "facilityId": facility["id"], **fields}
    r = await client.post("/v1/usages", json=body, headers=tokens.municipality(oin=oin))
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_facility_radar(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker
) -> None:
    await make_org("supplier", kvkNumber=tokens.SUPPLIER_KVK)
    target = await make_facility(slug="gt", theme="telephony", stage="operational")
    alternative = await make_facility(slug="lokaal", theme="telephony")
    unrelated = await make_facility(slug="ibd", theme="security")
    offerings = []
    for name in ("Collectief", "Eigen contract"):
        r = await client.post(
            "/v1/offerings",
            json={"facilityId": target["id"], "name": name, "priceModel": "per-user"},
            headers=tokens.supplier(),
        )
        offerings.append(r.json())
    collective, competing = offerings
    m = {}
    for n in range(1, 10):
        m[n] = await _municipality(make_org, n)

    def use(n: int, facility: dict[str, Any], **fields: Any) -> Any:
        org, oin = m[n]
        return _use(client, tokens, oin, org, facility, **fields)

    u1 = await use(
        1, alternative, contractEndDate="2027-07-15", noticePeriodMonths=6
    )  # at the edge
    await use(2, alternative, contractEndDate="2027-07-16", noticePeriodMonths=6)  # just outside
    u3 = await use(
        3, alternative, contractEndDate="2026-03-31", noticePeriodMonths=3
    )  # notice passed
    await use(4, target, offeringId=collective["id"], contractEndDate="2030-01-01")
    await use(4, alternative, contractEndDate="2026-06-30")  # already on board
    u5 = await use(
        5, target, offeringId=competing["id"], contractEndDate="2026-12-31", noticePeriodMonths=6
    )
    await use(6, unrelated, contractEndDate="2026-06-30")  # other theme
    await use(7, alternative, status="ended", contractEndDate="2026-06-30")
    await use(8, alternative, contractEndDate="2026-01-14")  # ended before the reference date
    await use(9, alternative)  # no contract end known

    url = f"/v1/facilities/{target['id']}/radar"
    r = await client.get(
        url, params={"within": "P18M", "asOf": AS_OF}, headers=tokens.contracts_reader()
    )
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["usageId"] for i in items] == [u3["id"], u1["id"]]
    first, second = items
    assert first["noticeDeadline"] == "2025-12-31"
    assert first["noticeDeadlinePassed"] is True
    assert second["noticeDeadline"] == "2027-01-15"
    assert second["noticeDeadlinePassed"] is False
    assert second["municipalityName"] == "M1"
    assert second["currentFacilityId"] == alternative["id"]

    # Naming the collective offering makes users of a competing offering candidates too.
    r = await client.get(
        url,
        params={"within": "P18M", "asOf": AS_OF, "offeringId": collective["id"]},
        headers=tokens.contracts_reader(),
    )
    assert [i["usageId"] for i in r.json()["items"]] == [u3["id"], u5["id"], u1["id"]]
    assert r.json()["items"][1]["noticeDeadline"] == "2026-06-30"

    r = await client.get(
        url, params={"within": "P6M", "asOf": AS_OF}, headers=tokens.contracts_reader()
    )
    assert [i["usageId"] for i in r.json()["items"]] == [u3["id"]]
    r = await client.get(url, params={"within": "P18M", "asOf": AS_OF, "pageSize": 1, "page": 2},
                         headers=tokens.contracts_reader())  # fmt: skip
    assert r.json()["total"] == 2
    assert [i["usageId"] for i in r.json()["items"]] == [u1["id"]]

    for bad in ("18M", "P", "PT1H", "P999Y", "soon"):
        r = await client.get(url, params={"within": bad}, headers=tokens.contracts_reader())
        assert r.status_code == 400, bad
        assert r.json()["invalidParams"][0]["name"] == "within"
    r = await client.get(
        url, params={"offeringId": (await make_facility())["id"]}, headers=tokens.contracts_reader()
    )
    assert r.status_code == 400
    r = await client.get(
        "/v1/facilities/00000000-0000-0000-0000-000000000000/radar",
        headers=tokens.contracts_reader(),
    )
    assert r.status_code == 404
    r = await client.get(url)
    assert r.status_code == 401

    # One municipality's own radar: its contracts ending soon and what it could join.
    org3 = m[3][0]
    r = await client.get(
        f"/v1/organisations/{org3['id']}/radar",
        params={"within": "P18M", "asOf": AS_OF},
        headers=tokens.contracts_reader(),
    )
    assert r.status_code == 200, r.text
    [item] = r.json()["items"]
    assert item["usageId"] == u3["id"]
    assert [a["facilityId"] for a in item["alternatives"]] == [target["id"]]
    supplier = (
        await client.get(
            f"/v1/organisations?kvkNumber={tokens.SUPPLIER_KVK}", headers=tokens.contracts_reader()
        )
    ).json()
    r = await client.get(
        f"/v1/organisations/{supplier['items'][0]['id']}/radar", headers=tokens.contracts_reader()
    )
    assert r.status_code == 400


async def test_radar_ties_and_pages_past_the_end(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker
) -> None:
    """Equal notice deadlines are ordered by municipality name in code-point order (the
    same on both engines), and a page past the end still reports the total."""
    target = await make_facility(slug="doel", theme="geo")
    alternative = await make_facility(slug="ander", theme="geo")
    ids = {}
    for n, name in ((41, "b-gemeente"), (42, "Zuid"), (43, "a-gemeente")):
        oin = f"00000001{n:09d}000"
        org = await make_org("municipality", name=name, oin=oin)
        usage = await _use(
            client, tokens, oin, org, alternative, contractEndDate="2026-09-30",
            noticePeriodMonths=3,
        )  # fmt: skip
        ids[name] = usage["id"]
    url = f"/v1/facilities/{target['id']}/radar"
    params = {"within": "P18M", "asOf": AS_OF}
    r = await client.get(url, params=params, headers=tokens.contracts_reader())
    items = r.json()["items"]
    assert [i["municipalityName"] for i in items] == ["Zuid", "a-gemeente", "b-gemeente"]
    assert {i["noticeDeadline"] for i in items} == {"2026-06-30"}
    r = await client.get(
        url, params={**params, "page": 2, "pageSize": 2}, headers=tokens.contracts_reader()
    )
    assert [i["usageId"] for i in r.json()["items"]] == [ids["b-gemeente"]]
    r = await client.get(
        url, params={**params, "page": 7, "pageSize": 2}, headers=tokens.contracts_reader()
    )
    assert (r.json()["items"], r.json()["total"]) == ([], 3)


async def test_a_contract_with_a_follow_up_is_decided(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker
) -> None:
    """A contract whose municipality already has another current usage of the same
    facility starting on or after its end is on neither radar: the decision is made."""
    await make_org("supplier", kvkNumber=tokens.SUPPLIER_KVK)
    target = await make_facility(slug="collectief", theme="telephony")
    own = await make_facility(slug="eigen", theme="telephony")
    other = await make_facility(slug="ander", theme="telephony")
    r = await client.post("/v1/offerings", headers=tokens.supplier(), json={
        "facilityId": target["id"], "name": "Collectief", "priceModel": "per-user"})  # fmt: skip
    collective = r.json()
    (m1, oin1), (m2, oin2), (m3, oin3) = [await _municipality(make_org, n) for n in (51, 52, 53)]
    contract = {"status": "active", "startDate": "2023-01-01", "contractEndDate": "2026-06-30",
                "noticePeriodMonths": 6}  # fmt: skip
    follow_up = {"status": "planned", "startDate": "2026-06-30", "contractEndDate": "2031-06-30"}
    # M51 contracted a follow-up of the same facility: decided.
    await _use(client, tokens, oin1, m1, own, **contract)
    await _use(client, tokens, oin1, m1, own, **follow_up)
    # M52's follow-up is for another facility, M53's follow-up was ended: still open.
    open2 = await _use(client, tokens, oin2, m2, own, **contract)
    await _use(client, tokens, oin2, m2, other, **follow_up)
    open3 = await _use(client, tokens, oin3, m3, own, **contract)
    ended = await _use(client, tokens, oin3, m3, own, **follow_up)
    r = await client.patch(f"/v1/usages/{ended['id']}", json={"status": "ended"},
                           headers={**tokens.municipality(oin=oin3), "If-Match": "*"})  # fmt: skip
    assert r.status_code == 200, r.text

    params = {"within": "P18M", "asOf": AS_OF}
    url = f"/v1/facilities/{target['id']}/radar"
    for extra in ({}, {"offeringId": collective["id"]}):
        r = await client.get(url, params={**params, **extra}, headers=tokens.contracts_reader())
        assert r.status_code == 200, r.text
        assert [i["usageId"] for i in r.json()["items"]] == [open2["id"], open3["id"]], extra
        assert r.json()["total"] == 2
    for org, expected in ((m1, []), (m2, [open2["id"]]), (m3, [open3["id"]])):
        r = await client.get(f"/v1/organisations/{org['id']}/radar", params=params,
                             headers=tokens.contracts_reader())  # fmt: skip
        assert r.status_code == 200, r.text
        assert [i["usageId"] for i in r.json()["items"]] == expected, org["name"]


async def test_as_of_is_an_iso_8601_date_only(
    client: httpx.AsyncClient, tokens: Any, make_facility: Maker, make_org: Maker
) -> None:
    facility = await make_facility(slug="datum")
    org = await make_org("municipality", name="Datum", oin="00000001000000099000")
    for url in (f"/v1/facilities/{facility['id']}/radar", f"/v1/organisations/{org['id']}/radar"):
        for bad in ("0", "1", "20260115", "2026-1-5", "2026-02-30", "2026-01-15T00:00:00", "abc"):
            r = await client.get(url, params={"asOf": bad}, headers=tokens.contracts_reader())
            assert r.status_code == 400, (url, bad, r.text)
            assert [p["name"] for p in r.json()["invalidParams"]] == ["asOf"], r.json()
        r = await client.get(url, params={"asOf": AS_OF}, headers=tokens.contracts_reader())
        assert r.status_code == 200, r.text


async def test_the_ends_of_the_calendar_are_400_or_answered_never_500(
    client: httpx.AsyncClient, tokens: Any, make_facility: Maker, make_org: Maker
) -> None:
    """asOf with within past 9999-12-31 was a 500 (year 10001) on every radar, JSON and
    CSV: it is a 400 naming asOf. A contract recorded as ending 0001-01-01 with a notice
    period was a 500 (year -4) on its municipality's radar: its deadline is 0001-01-01.
    The usage is as it was after every read."""
    facility = await make_facility(slug="kalender", theme="kalender")
    org, oin = await _municipality(make_org, 98)
    usage = await _use(client, tokens, oin, org, facility, contractEndDate="0001-01-01",
                       noticePeriodMonths=60)  # fmt: skip
    radars = (f"/v1/facilities/{facility['id']}/radar", f"/v1/organisations/{org['id']}/radar")
    for url in (*radars, *(f"{url}.csv" for url in radars)):
        for as_of in ("9999-12-31", "9998-08-01"):
            r = await client.get(url, params={"asOf": as_of}, headers=tokens.contracts_reader())
            assert r.status_code == 400, (url, as_of, r.text)
            assert r.headers["content-type"] == "application/problem+json"
            assert [p["name"] for p in r.json()["invalidParams"]] == ["asOf"], r.json()
    r = await client.get(
        radars[1], params={"asOf": "0001-01-01"}, headers=tokens.contracts_reader()
    )
    assert r.status_code == 200, r.text
    (item,) = r.json()["items"]
    assert (item["noticeDeadline"], item["noticeDeadlinePassed"]) == ("0001-01-01", False)
    r = await client.get(f"{radars[1]}.csv", params={"asOf": "0001-01-01"},
                         headers=tokens.contracts_reader())  # fmt: skip
    assert r.status_code == 200, r.text
    # On a facility's radar too (its deadline computed in the database on PostgreSQL).
    target = await make_facility(slug="kalender-collectief", theme="kalender")
    r = await client.get(f"/v1/facilities/{target['id']}/radar", params={"asOf": "0001-01-01"},
                         headers=tokens.contracts_reader())  # fmt: skip
    assert r.status_code == 200, r.text
    (item,) = r.json()["items"]
    assert item["noticeDeadline"] == "0001-01-01"
    r = await client.get(f"/v1/usages/{usage['id']}", headers=tokens.contracts_reader())
    assert r.json() == usage
