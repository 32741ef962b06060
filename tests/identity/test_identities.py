"""The simulators' fixed test identities are well-formed (stdnum checks, OIN/KvK formats)."""

from __future__ import annotations

import re

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
