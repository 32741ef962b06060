"""Seed and municipality import: complete, valid, idempotent, all-or-nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from registry.seed.commands import (
    ImportError_,
    demo_organisations,
    import_municipalities,
    read_municipalities,
    seed,
)
from servicekit.db import Database


async def test_seed_is_complete_and_idempotent(
    client: httpx.AsyncClient, registry_db: Database, tokens: Any
) -> None:
    async with registry_db.sessionmaker() as session:
        municipalities, demo = await seed(session)
    assert municipalities.created == 342
    assert demo.created > 0
    async with registry_db.sessionmaker() as session:
        municipalities, demo = await seed(session)
    assert (municipalities.created, municipalities.updated) == (0, 0)
    assert (demo.created, demo.updated) == (0, 0)

    r = await client.get("/v1/organisations?type=municipality&pageSize=1", headers=tokens.reader())
    assert r.json()["total"] == 342
    data = demo_organisations()
    for item in data["municipalities"] + [data["operator"]] + data["cooperations"]:
        r = await client.get(f"/v1/organisations?oin={item['oin']}", headers=tokens.reader())
        assert r.json()["total"] == 1, item
    coop = (await client.get(f"/v1/organisations?oin={data['cooperations'][0]['oin']}",
                             headers=tokens.reader())).json()["items"][0]  # fmt: skip
    assert len(coop["memberIds"]) == 3
    for supplier in data["suppliers"]:
        r = await client.get(
            f"/v1/organisations?kvkNumber={supplier['kvkNumber']}", headers=tokens.reader()
        )
        assert r.json()["items"][0]["type"] == "supplier"
    for slug in ("ggi-netwerk", "ibd", "gemeentelijke-telecommunicatie", "haal-centraal",
                 "digid", "eherkenning"):  # fmt: skip
        r = await client.get(f"/v1/facilities?slug={slug}", headers=tokens.reader())
        assert r.json()["total"] == 1, slug
    # The seeded operator OIN in the demo file is what test tokens use.
    assert data["operator"]["oin"] == tokens.OPERATOR_OIN
    assert data["municipalities"][0]["oin"] == tokens.UTRECHT_OIN
    # The demo landscape: Utrecht runs two fictitiously vulnerable versions, integrated.
    utrecht = (await client.get(f"/v1/organisations?oin={tokens.UTRECHT_OIN}",
                                headers=tokens.reader())).json()["items"][0]  # fmt: skip
    r = await client.get(
        f"/v1/organisations/{utrecht['id']}/exposures", headers=tokens.municipality()
    )
    assert sorted(e["cveId"] for e in r.json()["items"]) == ["CVE-2099-0001", "CVE-2099-0002"]
    r = await client.get(
        f"/v1/organisations/{utrecht['id']}/landscape", headers=tokens.municipality()
    )
    assert sorted(i["status"] for i in r.json()["integrations"]) == ["active", "planned"]


async def test_import_validates_all_rows_first(
    client: httpx.AsyncClient, registry_db: Database
) -> None:
    with pytest.raises(ImportError_) as info:
        read_municipalities(
            ["cbs_code,name,province", "GM12,X,Utrecht", "GM0001,Y,Texas", "GM0002,,Utrecht"]
        )
    message = str(info.value)
    assert "line 2" in message
    assert "line 3" in message
    assert "line 4" in message
    with pytest.raises(ImportError_):
        read_municipalities(["code,name", "GM0001,X"])
    with pytest.raises(ImportError_):
        read_municipalities(["cbs_code,name,province", "GM0001,X,Utrecht", "GM0001,Y,Utrecht"])
    rows = read_municipalities(["cbs_code,name,province", "gm0001,Eerste,Utrecht"])
    async with registry_db.sessionmaker() as session:
        counts = await import_municipalities(session, rows)
    assert counts.created == 1
    rows = read_municipalities(["cbs_code,name,province", "GM0001,Hernoemd,Utrecht"])
    async with registry_db.sessionmaker() as session:
        counts = await import_municipalities(session, rows)
    assert (counts.created, counts.updated) == (0, 1)
