"""Population figures from a CSV file: the operator uploads one row per municipality and
year; every wrong cell is reported by row and column and nothing is stored unless every
row is valid; a dry run checks without storing; the change feed says what was loaded."""

from __future__ import annotations

from typing import Any

import httpx

Maker = Any
URL = "/v1/population-figure-imports"


def csv_headers(tokens: Any, **extra: str) -> dict[str, str]:
    return {**tokens.operator(), "Content-Type": "text/csv; charset=utf-8", **extra}


async def _municipalities(make_org: Maker) -> None:
    await make_org("municipality", name="Utrecht", cbsCode="GM0344")
    await make_org("municipality", name="Amersfoort", cbsCode="GM0307")


async def _figures(client: httpx.AsyncClient, tokens: Any) -> list[tuple[str, int, int, str]]:
    page = (await client.get("/v1/population-figures", headers=tokens.reader())).json()
    return [(f["cbsCode"], f["year"], f["inhabitants"], f["source"]) for f in page["items"]]


async def test_a_valid_file_is_stored_with_its_events(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker
) -> None:
    await _municipalities(make_org)
    # A spreadsheet's export: BOM, semicolons, Dutch headers, an extra column, CRLF.
    body = (
        "\ufeffGemeentecode;Gemeente;Inwoners;Jaar;Bron\r\n"
        "GM0344;Utrecht;367984;2024;CBS StatLine 03759ned\r\n"
        "GM0307;Amersfoort;160000;2024;CBS StatLine 03759ned\r\n"
        "GM0344;Utrecht;361966;2023;CBS StatLine 03759ned\r\n"
        "\r\n"
    ).encode()
    dry = await client.post(f"{URL}?dryRun=true", content=body, headers=csv_headers(tokens))
    assert dry.status_code == 200, dry.text
    assert dry.json() == {
        "dryRun": True,
        "rows": 3,
        "stored": 0,
        "loads": [
            {"year": 2023, "source": "CBS StatLine 03759ned", "loaded": 1},
            {"year": 2024, "source": "CBS StatLine 03759ned", "loaded": 2},
        ],
    }
    assert await _figures(client, tokens) == []

    r = await client.post(
        URL, content=body, headers=csv_headers(tokens, **{"Idempotency-Key": "k1"})
    )
    assert r.status_code == 201, r.text
    assert r.headers["location"] == "/v1/population-figures"
    assert (r.json()["dryRun"], r.json()["stored"]) == (False, 3)
    again = await client.post(
        URL, content=body, headers=csv_headers(tokens, **{"Idempotency-Key": "k1"})
    )
    assert again.status_code == 201
    assert again.headers.get("idempotent-replayed") == "true"
    assert await _figures(client, tokens) == [
        ("GM0307", 2024, 160000, "CBS StatLine 03759ned"),
        ("GM0344", 2024, 367984, "CBS StatLine 03759ned"),
        ("GM0344", 2023, 361966, "CBS StatLine 03759ned"),
    ]
    feed = (await client.get("/v1/events?limit=100", headers=tokens.reader())).json()["items"]
    loaded = [e["data"] for e in feed if e["type"].endswith("population-figures.loaded")]
    assert loaded == [
        {"year": 2023, "source": "CBS StatLine 03759ned", "loaded": 1},
        {"year": 2024, "source": "CBS StatLine 03759ned", "loaded": 2},
    ]

    # A newer file replaces that year's figure of the municipality named, and only that.
    newer = b"code,inhabitants,year,source\nGM0344,368000,2024,CBS StatLine (herzien)\n"
    assert (await client.post(URL, content=newer, headers=csv_headers(tokens))).status_code == 201
    assert ("GM0344", 2024, 368000, "CBS StatLine (herzien)") in await _figures(client, tokens)
    assert ("GM0307", 2024, 160000, "CBS StatLine 03759ned") in await _figures(client, tokens)


async def test_every_wrong_cell_is_reported_and_nothing_is_stored(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker
) -> None:
    await _municipalities(make_org)
    body = (
        b"code,inhabitants,year,source\n"
        b"GM0344,367984,2024,CBS\n"  # row 2: fine
        b"GM9999,10,2024,CBS\n"  # row 3: unknown municipality
        b"0344,veel,1800,CBS\n"  # row 4: three wrong cells
        b"GM0307,,2024,\n"  # row 5: two empty cells
        b"GM0344,1,2024,CBS\n"  # row 6: Utrecht 2024 again
    )
    for dry_run in ("?dryRun=true", ""):
        r = await client.post(f"{URL}{dry_run}", content=body, headers=csv_headers(tokens))
        assert r.status_code == 400, r.text
        problem = r.json()
        assert problem["detail"] == "4 of 5 rows cannot be stored; none were."
        params = {p["name"]: p["reason"] for p in problem["invalidParams"]}
        assert list(params) == [
            "rows[3].code",
            "rows[4].code",
            "rows[4].inhabitants",
            "rows[4].year",
            "rows[5].inhabitants",
            "rows[5].source",
            "rows[6].code",
        ]
        assert params["rows[3].code"] == "unknown municipality"
        assert params["rows[5].source"] == "field required"
        assert params["rows[6].code"] == "listed twice (row 2)"
        assert "integer" in params["rows[4].inhabitants"]
        assert "greater than or equal" in params["rows[4].year"]
    assert await _figures(client, tokens) == []
    feed = (await client.get("/v1/events?limit=100", headers=tokens.reader())).json()["items"]
    assert not [e for e in feed if e["type"].endswith("population-figures.loaded")]


async def test_unreadable_files_and_who_may_upload(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker
) -> None:
    await _municipalities(make_org)

    async def post(body: bytes, **headers: str) -> httpx.Response:
        return await client.post(URL, content=body, headers={**csv_headers(tokens), **headers})

    cases = [
        (b"", "body"),
        (b"code,inhabitants,year,source\n", "body"),
        (b"code,inhabitants\nGM0344,5\n", "rows[1].year"),
        ("code,inwoners,jaar,bron\nGM0344,5,2024,Gemeente\xeb\n".encode("latin-1"), "body"),
    ]
    for body, name in cases:
        r = await post(body)
        assert r.status_code == 400, (body, r.text)
        assert name in [p["name"] for p in r.json()["invalidParams"]], r.text
    good = b"code,inhabitants,year,source\nGM0344,367984,2024,CBS\n"
    r = await post(good, **tokens.municipality())
    assert r.status_code == 403
    r = await client.post(URL, json={"code": "GM0344"}, headers=tokens.operator())
    assert r.status_code == 415
    assert await _figures(client, tokens) == []
