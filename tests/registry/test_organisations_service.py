"""Organisation rules without HTTP: only the operator registers and changes them, each type
has its own identifiers, an identifier belongs to one organisation of a type, cooperations
have registered municipalities as members, changes need the current ETag (service
functions on a real session)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from registry.organisations import service
from registry.organisations.schemas import OrganisationCreate, OrganisationPatch
from servicekit.auth import Principal
from servicekit.db import Database
from servicekit.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
)
from servicekit.http import IfMatch

OPERATOR_OIN = "00000001009876543000"
OPERATOR = Principal(subject="vng-admin", org_id=OPERATOR_OIN, org_type="operator")
UTRECHT = Principal(subject="civil-servant", org_id="00000001001234567000",
                    org_type="municipality")  # fmt: skip


async def _create(registry_db: Database, principal: Principal = OPERATOR, **fields: Any) -> Any:
    async with registry_db.sessionmaker() as session:
        return await service.create_organisation(
            session, principal, OrganisationCreate.model_validate(fields)
        )


def _reasons(exc: pytest.ExceptionInfo[BadRequest]) -> dict[str, str]:
    return {p["name"]: p["reason"] for p in exc.value.extra["invalidParams"]}


async def test_identifiers_fit_the_type_and_belong_to_one_organisation(
    client: httpx.AsyncClient, registry_db: Database,
) -> None:  # fmt: skip
    with pytest.raises(Forbidden):
        await _create(registry_db, UTRECHT, type="municipality", name="Utrecht", cbsCode="GM0344")
    with pytest.raises(BadRequest) as shape:
        await _create(registry_db, type="municipality", name="Utrecht", kvkNumber="90000001")
    assert _reasons(shape) == {"cbsCode": "required for a municipality",
                               "kvkNumber": "not allowed for a municipality"}  # fmt: skip
    utrecht, _ = await _create(registry_db, type="municipality", name="Utrecht", cbsCode="GM0344")
    with pytest.raises(Conflict) as taken:
        await _create(registry_db, type="municipality", name="Utrecht 2", cbsCode="GM0344")
    assert (taken.value.slug, taken.value.extra["existingId"]) == ("duplicate", str(utrecht.id))
    supplier, _ = await _create(registry_db, type="supplier", name="Leverancier",
                                kvkNumber="90000001")  # fmt: skip
    with pytest.raises(BadRequest) as members:
        await _create(registry_db, type="cooperation", name="Samen",
                      memberIds=[str(utrecht.id), str(supplier.id), str(uuid.uuid4())])  # fmt: skip
    assert _reasons(members) == {"memberIds[1]": "not a municipality",
                                 "memberIds[2]": "unknown organisation"}  # fmt: skip
    coop, _ = await _create(registry_db, type="cooperation", name="Samen",
                            memberIds=[str(utrecht.id), str(utrecht.id)])  # fmt: skip
    assert coop.member_ids == [utrecht.id]  # listed twice, a member once


async def test_changes_need_the_operator_and_the_current_etag(
    client: httpx.AsyncClient, registry_db: Database, history: Any,
) -> None:  # fmt: skip
    utrecht, etag = await _create(registry_db, type="municipality", name="Utrecht",
                                  cbsCode="GM0344")  # fmt: skip
    await _create(registry_db, type="municipality", name="Zeist", cbsCode="GM0355")

    async def update(patch: OrganisationPatch, if_match: str | None,
                     principal: Principal = OPERATOR) -> Any:  # fmt: skip
        async with registry_db.sessionmaker() as session:
            return await service.update_organisation(
                session, principal, utrecht.id, patch, IfMatch(if_match)
            )

    rename = OrganisationPatch(name="Gemeente Utrecht")
    with pytest.raises(Forbidden):
        await update(rename, etag, UTRECHT)  # not even its own record
    with pytest.raises(PreconditionRequired):
        await update(rename, None)
    with pytest.raises(PreconditionFailed):
        await update(rename, '"stale"')
    with pytest.raises(Conflict):  # Zeist's CBS code
        await update(OrganisationPatch(cbs_code="GM0355"), etag)
    with pytest.raises(BadRequest):  # a municipality keeps its CBS code
        await update(OrganisationPatch.model_validate({"cbsCode": None}), etag)
    out, new_etag = await update(rename, etag)
    assert (out.name, out.cbs_code, new_etag != etag) == ("Gemeente Utrecht", "GM0344", True)
    async with registry_db.sessionmaker() as session:
        assert (await service.get_organisation(session, utrecht.id))[1] == new_etag
        with pytest.raises(NotFound):
            await service.get_organisation(session, uuid.uuid4())
    assert await history(utrecht.id) == [("created", OPERATOR_OIN), ("updated", OPERATOR_OIN)]
