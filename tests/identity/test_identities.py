"""The simulators' fixed test identities are well-formed (stdnum checks, OIN/KvK formats)."""

from __future__ import annotations

import json
import re
from importlib import resources

from stdnum.nl import bsn

from identity.broker.means import MACHTIGING_ROLES
from identity.broker.means import test_identities as load_identities


def test_test_identities_are_valid() -> None:
    ids = load_identities()
    assert set(ids) == {"digid", "eherkenning", "eidas", "yivi"}
    all_ids = [i["id"] for group in ids.values() for i in group]
    assert len(all_ids) == len(set(all_ids))
    for person in ids["digid"]:
        assert bsn.is_valid(person["bsn"]), person["id"]
        assert person["bsn"].startswith("9999")
        if "represents" in person:
            assert bsn.is_valid(person["represents"]["bsn"])
    for user in ids["eherkenning"]:
        org = user["org"]
        if org["id_type"] == "OIN":
            assert re.fullmatch(r"00000001\d{9}000", org["id"]), org
        else:
            assert re.fullmatch(r"\d{8}", org["id"]), org
        assert org["type"] in {"municipality", "supplier", "cooperation", "operator"}
        assert all(m in MACHTIGING_ROLES for m in user["machtigingen"])
    assert any(
        "deelname gezamenlijke aanbesteding" in u["machtigingen"] for u in ids["eherkenning"]
    )


def test_enough_enrolling_municipalities_for_a_tender_across_three_provinces() -> None:
    """A joint tender of five municipalities in three provinces can be played through with
    the simulator: each has staff with the enrollment machtiging, and each is a demo
    municipality of the registry (same OIN and CBS code)."""
    registry_orgs = json.loads(
        resources.files("registry.seed").joinpath("demo_organisations.json").read_text("utf-8")
    )
    province_of = {m["oin"]: (m["cbsCode"], m["province"]) for m in registry_orgs["municipalities"]}
    enrolling = {
        u["org"]["id"]
        for u in load_identities()["eherkenning"]
        if u["org"]["type"] == "municipality"
        and "deelname gezamenlijke aanbesteding" in u["machtigingen"]
    }
    for user in load_identities()["eherkenning"]:
        if user["org"]["id"] in enrolling:
            assert province_of[user["org"]["id"]][0] == user["org"]["cbs_code"], user["id"]
    assert len(enrolling) >= 5
    assert len({province_of[oin][1] for oin in enrolling}) >= 3
