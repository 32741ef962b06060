"""CSV import of a municipality's usages: all rows or nothing, a report per row and
column, dry runs, only for itself, idempotent, one event per usage created."""

from __future__ import annotations

from typing import Any

import httpx

Maker = Any
HEADER = "facilityId,offeringId,versionId,status,startDate,contractEndDate,noticePeriodMonths,contractValueBand,annualCost"


async def _world(client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker) -> dict[str, Any]:  # fmt: skip
    utrecht = await make_org("municipality", name="Utrecht", oin=tokens.UTRECHT_OIN)
    await make_org("municipality", name="Amersfoort", oin=tokens.AMERSFOORT_OIN)
    await make_org("supplier", kvkNumber=tokens.SUPPLIER_KVK)
    ggi = await make_facility(slug="ggi-netwerk", name="GGI-Netwerk")
    phone = await make_facility(slug="telefonie", name="Telefonie")
    r = await client.post(
        "/v1/offerings",
        json={"facilityId": phone["id"], "name": "=Phone", "priceModel": "free"},
        headers=tokens.supplier(),
    )
    offering = r.json()
    r = await client.post(
        f"/v1/offerings/{offering['id']}/versions",
        json={"version": "2.1", "releaseDate": "2024-01-01"},
        headers=tokens.supplier(),
    )
    return {"utrecht": utrecht, "ggi": ggi, "phone": phone, "offering": offering,
            "version": r.json()}  # fmt: skip


def _csv(*rows: str, header: str = HEADER) -> bytes:
    return ("\r\n".join([header, *rows]) + "\r\n").encode()


def _headers(tokens: Any, **extra: str) -> dict[str, str]:
    return {**tokens.municipality(), "Content-Type": "text/csv", **extra}


async def _usages(client: httpx.AsyncClient, tokens: Any) -> list[dict[str, Any]]:
    r = await client.get("/v1/usages", headers=tokens.reader())
    return list(r.json()["items"])


async def test_import_creates_every_row_with_its_event(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker
) -> None:
    w = await _world(client, tokens, make_org, make_facility)
    url = f"/v1/organisations/{w['utrecht']['id']}/usage-imports"
    body = _csv(
        "ggi-netwerk,,,active,2024-01-01,2027-12-31,6,215k-750k,125000.50",
        f'{w["phone"]["id"]},{w["offering"]["id"]},2.1,planned,2026-01-01,,3,,"1234,5"',
    )
    before = (await client.get("/v1/events", headers=tokens.reader())).json()
    r = await client.post(url, content=body, headers=_headers(tokens, **{"Idempotency-Key": "k1"}))
    assert r.status_code == 201, r.text
    report = r.json()
    assert report["dryRun"] is False
    assert report["rowCount"] == 2
    assert r.headers["location"] == f"/v1/usages?municipalityId={w['utrecht']['id']}"
    first, second = report["usages"]
    assert (first["facilityId"], first["annualCost"], first["noticePeriodMonths"]) == (
        w["ggi"]["id"], 125000.5, 6)  # fmt: skip
    assert (second["versionId"], second["status"], second["annualCost"]) == (
        w["version"]["id"], "planned", 1234.5)  # fmt: skip
    assert {u["id"] for u in await _usages(client, tokens)} == {first["id"], second["id"]}
    after = (await client.get("/v1/events", headers=tokens.reader())).json()
    created = [e for e in after["items"] if e["type"].endswith("usage.created")]
    assert len(created) - len(
        [e for e in before["items"] if e["type"].endswith("usage.created")]
    ) == 2  # fmt: skip
    # The same key and file: the same answer, nothing twice.
    again = await client.post(
        url, content=body, headers=_headers(tokens, **{"Idempotency-Key": "k1"})
    )
    assert again.status_code == 201
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json() == report
    assert len(await _usages(client, tokens)) == 2
    # Without a key, the same file conflicts with what it created: a report, nothing stored.
    r = await client.post(url, content=body, headers=_headers(tokens))
    assert r.status_code == 400
    names = {p["name"] for p in r.json()["invalidParams"]}
    assert names == {"rows[2].facilityId", "rows[3].facilityId"}, r.json()


async def test_one_bad_row_stores_nothing_and_names_row_and_column(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker
) -> None:
    w = await _world(client, tokens, make_org, make_facility)
    url = f"/v1/organisations/{w['utrecht']['id']}/usage-imports"
    body = _csv(
        "ggi-netwerk,,,active,2024-01-01,2027-12-31,6,,",
        "no-such-facility,,,paused,,,,,",
        f"{w['phone']['id']},,,paused,2025-02-30,,61,lots,-5",
        "",
        "ggi-netwerk,,,active,,,,,",
        f"{w['phone']['id']},{w['offering']['id']},9.9,active,2026-01-01,2025-01-01,,,",
        "ggi-netwerk,too,many,cells,,,,,,,",
    )
    r = await client.post(url, content=body, headers=_headers(tokens))
    assert r.status_code == 400, r.text
    problem = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    names = {p["name"] for p in problem["invalidParams"]}
    assert names == {
        "rows[3].facilityId",
        "rows[3].status",  # reported with the unknown facility, not after it is fixed
        "rows[4].status",
        "rows[4].startDate",
        "rows[4].noticePeriodMonths",
        "rows[4].contractValueBand",
        "rows[4].annualCost",
        "rows[6].facilityId",  # a second active contract of the facility in the same file
        "rows[7].versionId",
        "rows[8].facilityId",
    }, problem
    assert await _usages(client, tokens) == []
    # A dry run reports the same and stores nothing either; a good file passes it.
    r = await client.post(url + "?dryRun=true", content=body, headers=_headers(tokens))
    assert r.status_code == 400
    good = _csv("ggi-netwerk,,,active,2024-01-01,2027-12-31,6,,")
    r = await client.post(url + "?dryRun=true", content=good, headers=_headers(tokens))
    assert r.status_code == 200, r.text
    assert r.json() == {"dryRun": True, "rowCount": 1, "usages": []}
    assert await _usages(client, tokens) == []
    r = await client.post(
        url, content=_csv("ggi-netwerk,,,active,2024-01-01,2023-01-01,,,"), headers=_headers(tokens)
    )
    assert [p["name"] for p in r.json()["invalidParams"]] == ["rows[2].contractEndDate"]


async def test_bad_files(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker
) -> None:
    w = await _world(client, tokens, make_org, make_facility)
    url = f"/v1/organisations/{w['utrecht']['id']}/usage-imports"
    cases: list[tuple[bytes, set[str]]] = [
        (b"", {"body"}),
        (b"facilityId\r\n", {"body"}),
        ("facilityId\r\n\u00e9".encode("latin-1"), {"body"}),
        (b"facilityId\r\nggi\x00\r\n", {"body"}),
        (b"facility,status\r\nggi-netwerk,active\r\n", {"rows[1].facility", "rows[1].facilityId"}),
        (b"facilityId,facilityId\r\nggi-netwerk,ggi-netwerk\r\n", {"rows[1].facilityId"}),
        (b'facilityId\r\n"ggi-netwerk\r\n', {"body"}),
    ]
    for body, names in cases:
        r = await client.post(url, content=body, headers=_headers(tokens))
        assert r.status_code == 400, (body, r.text)
        assert {p["name"] for p in r.json()["invalidParams"]} == names, (body, r.json())
    # An amount with a thousands separator is refused, not guessed: "10.000" is ten
    # thousand to a Dutch reader and ten to a decimal parser.
    for amount in (b"10.000", b"1.250,50", b"12,505", b"-5", b"\xe2\x82\xac 12"):
        r = await client.post(
            url, content=b"facilityId;annualCost\r\nggi-netwerk;" + amount + b"\r\n",
            headers=_headers(tokens),
        )  # fmt: skip
        assert r.status_code == 400, (amount, r.text)
        [problem] = r.json()["invalidParams"]
        assert problem["name"] == "rows[2].annualCost", r.json()
        assert "no thousands separators" in problem["reason"]
    # A Dutch spreadsheet's semicolons are read too, and a decimal point as well as a comma.
    r = await client.post(
        url, content=b"facilityId;annualCost\r\ntelefonie;1250.5\r\n", headers=_headers(tokens)
    )
    assert r.status_code == 201, r.text
    assert r.json()["usages"][0]["annualCost"] == 1250.5
    r = await client.post(
        url, content=b"facilityId;annualCost\r\nggi-netwerk;12,50\r\n", headers=_headers(tokens)
    )
    assert r.status_code == 201, r.text
    assert r.json()["usages"][0]["annualCost"] == 12.5
    r = await client.post(url, content=b"{}", headers={**tokens.municipality(),
                                                         "Content-Type": "application/json"})  # fmt: skip
    assert r.status_code == 415
    r = await client.post(
        url, content=_csv("ggi-netwerk"), headers=_headers(tokens, Accept="text/html")
    )
    assert r.status_code == 406


async def test_only_the_municipality_itself(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker
) -> None:
    w = await _world(client, tokens, make_org, make_facility)
    url = f"/v1/organisations/{w['utrecht']['id']}/usage-imports"
    body = _csv("telefonie,,,,,,,,")
    for headers in (
        tokens.municipality(oin=tokens.AMERSFOORT_OIN),
        tokens.operator(),
        tokens.supplier(),
    ):
        r = await client.post(url, content=body, headers={**headers, "Content-Type": "text/csv"})
        assert r.status_code == 403, headers
    r = await client.post(
        url, content=body, headers={**tokens.reader(), "Content-Type": "text/csv"}
    )
    assert r.status_code == 403
    r = await client.post(url, content=body, headers={"Content-Type": "text/csv"})
    assert r.status_code == 401
    r = await client.post(
        f"/v1/organisations/{w['ggi']['id']}/usage-imports", content=body, headers=_headers(tokens)
    )
    assert r.status_code == 404
    assert await _usages(client, tokens) == []


async def test_a_dutch_excel_export_is_read_as_saved(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker
) -> None:
    """Excel's "sep=;" line, column names in its own case and spacing, and the empty
    columns it leaves after the data (``;;``) are read as a person sees them; rows are
    numbered as Excel shows them (the header is row 1)."""
    w = await _world(client, tokens, make_org, make_facility)
    url = f"/v1/organisations/{w['utrecht']['id']}/usage-imports"
    saved = (b"sep=;\r\nFacilityId;Status;Contract end date;;\r\n"
             b"ggi-netwerk;active;2027-12-31;;\r\ntelefonie;planned;;;\r\n")  # fmt: skip
    wrong = saved.replace(b"telefonie;planned", b"onbekend;planned")
    r = await client.post(url + "?dryRun=true", content=wrong, headers=_headers(tokens))
    assert [p["name"] for p in r.json()["invalidParams"]] == ["rows[3].facilityId"]
    # A column without a name but with values is not silently dropped.
    filled = saved.replace(b"2027-12-31;;", b"2027-12-31;;x")
    r = await client.post(url + "?dryRun=true", content=filled, headers=_headers(tokens))
    assert r.status_code == 400
    assert r.json()["invalidParams"] == [{"name": "rows[1].(empty)", "reason": "unknown column"}]
    r = await client.post(url, content=saved, headers=_headers(tokens))
    assert r.status_code == 201, r.text
    assert r.json()["rowCount"] == 2
    assert [u["contractEndDate"] for u in r.json()["usages"]] == ["2027-12-31", None]
