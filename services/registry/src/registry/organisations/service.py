"""Rules and transactions for organisations."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.actor import Actor
from servicekit.auth import Principal
from servicekit.clock import utcnow
from servicekit.errors import BadRequest, Conflict
from servicekit.http import IfMatch
from servicekit.pagination import PageParams
from servicekit.repository import etag_of

from ..auth import MUNICIPALITY, require_operator
from ..changes.service import record_out
from ..common import duplicate
from .models import Organisation
from .repository import OrganisationRepository
from .schemas import OrganisationCreate, OrganisationOut, OrganisationPatch

IDENTIFIER_FIELDS = {"cbs_code": "cbsCode", "oin": "oin", "kvk_number": "kvkNumber"}
# Which identifiers each type must have and which it may not have.
REQUIRED = {"municipality": {"cbs_code"}, "supplier": {"kvk_number"}, "operator": {"oin"}}
FORBIDDEN = {
    "municipality": {"kvk_number"},
    "supplier": {"cbs_code"},
    "cooperation": {"cbs_code"},
    "operator": {"cbs_code"},
}


async def municipality_of(
    session: AsyncSession, organisation_id: uuid.UUID, detail: str
) -> Organisation:
    """The municipality a per-municipality view (radar, costs, landscape) is of: 404 for an
    unknown organisation, 400 naming ``organisationId`` (``detail`` as the problem's
    detail) for an organisation of another type."""
    organisation = await OrganisationRepository(session).get(organisation_id)
    if organisation.type != MUNICIPALITY:
        raise BadRequest(
            detail, invalid_params=[{"name": "organisationId", "reason": "not a municipality"}]
        )
    return organisation


@dataclass(frozen=True)
class OrganisationFilter:
    type: str | None = None
    oin: str | None = None
    kvk_number: str | None = None
    cbs_code: str | None = None
    q: str | None = None
    ended: bool | None = None


async def member_ids_of(
    session: AsyncSession, cooperation_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    return await OrganisationRepository(session).member_ids(cooperation_ids)


def to_out(org: Organisation, member_ids: list[uuid.UUID]) -> OrganisationOut:
    return OrganisationOut.from_row(org, member_ids=member_ids)


def require_not_ended(org: Organisation) -> None:
    """An organisation ended by a merger takes no new writes: its successor does."""
    if org.ended_on is not None:
        raise Conflict(
            f"{org.name} ended on {org.ended_on.isoformat()}; its successor continues it.",
            slug="organisation-ended",
            extra={"endedOn": org.ended_on.isoformat(), "successorId": str(org.successor_id)},
        )


def etag(org: Organisation) -> str:
    return etag_of(org.id, org.revision)


async def list_organisations(
    session: AsyncSession, filters: OrganisationFilter, params: PageParams
) -> tuple[list[OrganisationOut], int]:
    repo = OrganisationRepository(session)
    orgs, total = await repo.list_page(filters, params)
    members = await repo.member_ids(o.id for o in orgs if o.type == "cooperation")
    return [to_out(o, members.get(o.id, [])) for o in orgs], total


async def get_organisation(session: AsyncSession, org_id: uuid.UUID) -> tuple[OrganisationOut, str]:
    repo = OrganisationRepository(session)
    org = await repo.get(org_id)
    members = await repo.member_ids([org.id])
    return to_out(org, members.get(org.id, [])), etag(org)


def _check_shape(org_type: str, values: dict[str, Any], has_members: bool) -> None:
    problems = []
    for field in sorted(REQUIRED.get(org_type, set())):
        if not values.get(field):
            problems.append(
                {"name": IDENTIFIER_FIELDS[field], "reason": f"required for a {org_type}"}
            )
    for field in sorted(FORBIDDEN.get(org_type, set())):
        if values.get(field):
            problems.append(
                {"name": IDENTIFIER_FIELDS[field], "reason": f"not allowed for a {org_type}"}
            )
    if has_members and org_type != "cooperation":
        problems.append({"name": "memberIds", "reason": "only cooperations have members"})
    if problems:
        raise BadRequest(
            f"The identifiers do not fit an organisation of type {org_type}.",
            invalid_params=problems,
        )


async def _check_unique(
    repo: OrganisationRepository, org_type: str, values: dict[str, Any], own_id: uuid.UUID | None
) -> None:
    for field, api_name in IDENTIFIER_FIELDS.items():
        value = values.get(field)
        if not value:
            continue
        existing = await repo.holder_of(org_type, field, value, own_id)
        if existing is not None:
            raise duplicate(
                f"A {org_type} with {api_name} {value} is already registered.",
                api_name,
                "already registered",
                existing,
            )


async def _check_members(repo: OrganisationRepository, member_ids: list[uuid.UUID]) -> None:
    if not member_ids:
        return
    found = await repo.types_of(member_ids)
    problems = []
    for index, member_id in enumerate(member_ids):
        if member_id not in found:
            problems.append({"name": f"memberIds[{index}]", "reason": "unknown organisation"})
        elif found[member_id][0] != "municipality":
            problems.append({"name": f"memberIds[{index}]", "reason": "not a municipality"})
        elif found[member_id][1]:
            problems.append({"name": f"memberIds[{index}]", "reason": "ended by a merger"})
    if problems:
        raise BadRequest(
            "Members of a cooperation must be registered municipalities.", invalid_params=problems
        )


DUPLICATE = "An organisation with these identifiers already exists."


async def create_organisation(
    session: AsyncSession, principal: Principal, data: OrganisationCreate
) -> tuple[OrganisationOut, str]:
    require_operator(principal, "register organisations")
    actor = Actor.of(principal)
    values = data.model_dump(exclude={"member_ids", "type"})
    member_ids = list(dict.fromkeys(data.member_ids))
    _check_shape(data.type, values, bool(member_ids))
    repo = OrganisationRepository(session)
    async with session.begin():
        await _check_unique(repo, data.type, values, None)
        await _check_members(repo, member_ids)
        now = utcnow()
        org = await repo.add(
            Organisation(type=data.type, created_at=now, updated_at=now, revision=1, **values),
            conflict=DUPLICATE,
        )
        repo.add_members(org.id, member_ids)
        out = to_out(org, sorted(member_ids))
        await record_out(session, actor, "organisation", "created", out)
    return out, repo.etag(org)


async def update_organisation(
    session: AsyncSession,
    principal: Principal,
    org_id: uuid.UUID,
    patch: OrganisationPatch,
    if_match: IfMatch,
) -> tuple[OrganisationOut, str]:
    require_operator(principal, "change organisations")
    actor = Actor.of(principal)
    changes = patch.model_dump(exclude_unset=True)
    repo = OrganisationRepository(session)
    async with session.begin():
        org = await repo.get_checked(org_id, if_match)
        if "name" in changes and changes["name"] is None:
            raise BadRequest(
                "name cannot be removed.", invalid_params=[{"name": "name", "reason": "required"}]
            )
        member_ids = changes.pop("member_ids", None)
        if member_ids is not None:
            member_ids = list(dict.fromkeys(member_ids))
        values = {
            field: getattr(org, field)
            for field in ("name", "cbs_code", "oin", "kvk_number", "province")
        }
        values.update(changes)
        _check_shape(org.type, values, bool(member_ids))
        await _check_unique(repo, org.type, values, org.id)
        if member_ids is not None:
            await _check_members(repo, member_ids)
            await repo.set_members(org.id, member_ids)
        await repo.save(org, changes, conflict=DUPLICATE)
        members = await repo.member_ids([org.id])
        out = to_out(org, members.get(org.id, []))
        await record_out(session, actor, "organisation", "updated", out, changes=patch)
    return out, repo.etag(org)


async def find_by_identifier(
    session: AsyncSession, org_type: str, field: str, value: str
) -> Organisation | None:
    return await OrganisationRepository(session).find_by_identifier(org_type, field, value)
