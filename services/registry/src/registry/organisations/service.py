"""Rules and transactions for organisations."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.actor import Actor
from servicekit.clock import utcnow
from servicekit.errors import BadRequest, Conflict, NotFound
from servicekit.pagination import PageParams
from servicekit.repository import etag_of

from ..changes.service import record_change
from .models import Organisation, OrganisationMember
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


@dataclass(frozen=True)
class OrganisationFilter:
    type: str | None = None
    oin: str | None = None
    kvk_number: str | None = None
    cbs_code: str | None = None
    q: str | None = None


async def member_ids_of(
    session: AsyncSession, cooperation_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    ids = list(cooperation_ids)
    members: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    if not ids:
        return members
    rows = await session.execute(
        select(OrganisationMember.cooperation_id, OrganisationMember.member_id)
        .where(OrganisationMember.cooperation_id.in_(ids))
        .order_by(OrganisationMember.cooperation_id, OrganisationMember.member_id)
    )
    for cooperation_id, member_id in rows:
        members[cooperation_id].append(member_id)
    return members


def to_out(org: Organisation, member_ids: list[uuid.UUID]) -> OrganisationOut:
    return OrganisationOut(
        id=org.id,
        type=org.type,
        name=org.name,
        cbs_code=org.cbs_code,
        oin=org.oin,
        kvk_number=org.kvk_number,
        province=org.province,
        member_ids=member_ids,
        created_at=org.created_at,
        updated_at=org.updated_at,
    )


def etag(org: Organisation) -> str:
    return etag_of(org.id, org.revision)


async def list_organisations(
    session: AsyncSession, filters: OrganisationFilter, params: PageParams
) -> tuple[list[OrganisationOut], int]:
    query = select(Organisation)
    if filters.type:
        query = query.where(Organisation.type == filters.type)
    if filters.oin:
        query = query.where(Organisation.oin == filters.oin)
    if filters.kvk_number:
        query = query.where(Organisation.kvk_number == filters.kvk_number)
    if filters.cbs_code:
        query = query.where(Organisation.cbs_code == filters.cbs_code)
    if filters.q:
        needle = filters.q.lower()
        query = query.where(
            or_(
                func.lower(Organisation.name).contains(needle, autoescape=True),
                Organisation.cbs_code == filters.q.upper(),
            )
        )
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    rows = (
        await session.execute(
            query.order_by(Organisation.name, Organisation.id)
            .offset(params.offset)
            .limit(params.page_size)
        )
    ).scalars()
    orgs = list(rows)
    members = await member_ids_of(session, [o.id for o in orgs if o.type == "cooperation"])
    return [to_out(o, members.get(o.id, [])) for o in orgs], int(total)


async def load(
    session: AsyncSession, org_id: uuid.UUID, *, for_update: bool = False
) -> Organisation:
    query = select(Organisation).where(Organisation.id == org_id)
    if for_update:
        query = query.with_for_update()
    org = (await session.execute(query)).scalar_one_or_none()
    if org is None:
        raise NotFound(f"No organisation with id {org_id}.")
    return org


async def get_organisation(session: AsyncSession, org_id: uuid.UUID) -> tuple[OrganisationOut, str]:
    org = await load(session, org_id)
    members = await member_ids_of(session, [org.id])
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
    session: AsyncSession, org_type: str, values: dict[str, Any], own_id: uuid.UUID | None
) -> None:
    for field, api_name in IDENTIFIER_FIELDS.items():
        value = values.get(field)
        if not value:
            continue
        column = getattr(Organisation, field)
        query = select(Organisation.id).where(Organisation.type == org_type, column == value)
        if own_id is not None:
            query = query.where(Organisation.id != own_id)
        existing = (await session.execute(query.limit(1))).scalar_one_or_none()
        if existing is not None:
            raise Conflict(
                f"A {org_type} with {api_name} {value} is already registered.",
                slug="duplicate",
                extra={"existingId": str(existing)},
            )


async def _check_members(session: AsyncSession, member_ids: list[uuid.UUID]) -> None:
    if not member_ids:
        return
    found = dict(
        (
            await session.execute(
                select(Organisation.id, Organisation.type).where(Organisation.id.in_(member_ids))
            )
        )
        .tuples()
        .all()
    )
    problems = []
    for index, member_id in enumerate(member_ids):
        if member_id not in found:
            problems.append({"name": f"memberIds[{index}]", "reason": "unknown organisation"})
        elif found[member_id] != "municipality":
            problems.append({"name": f"memberIds[{index}]", "reason": "not a municipality"})
    if problems:
        raise BadRequest(
            "Members of a cooperation must be registered municipalities.", invalid_params=problems
        )


async def _flush(session: AsyncSession, detail: str) -> None:
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(detail, slug="duplicate") from exc


async def create_organisation(
    session: AsyncSession, actor: Actor, data: OrganisationCreate
) -> tuple[OrganisationOut, str]:
    values = data.model_dump(exclude={"member_ids", "type"})
    member_ids = list(dict.fromkeys(data.member_ids))
    _check_shape(data.type, values, bool(member_ids))
    async with session.begin():
        await _check_unique(session, data.type, values, None)
        await _check_members(session, member_ids)
        now = utcnow()
        org = Organisation(type=data.type, created_at=now, updated_at=now, revision=1, **values)
        session.add(org)
        await _flush(session, "An organisation with these identifiers already exists.")
        for member_id in member_ids:
            session.add(OrganisationMember(cooperation_id=org.id, member_id=member_id))
        out = to_out(org, sorted(member_ids))
        await record_change(
            session,
            actor,
            entity="organisation",
            entity_id=org.id,
            action="created",
            data=out.model_dump(mode="json", by_alias=True),
        )
    return out, etag(org)


async def update_organisation(
    session: AsyncSession,
    actor: Actor,
    org_id: uuid.UUID,
    patch: OrganisationPatch,
    check_etag: Callable[[str], None],
) -> tuple[OrganisationOut, str]:
    changes = patch.model_dump(exclude_unset=True)
    async with session.begin():
        org = await load(session, org_id, for_update=True)
        check_etag(etag(org))
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
        await _check_unique(session, org.type, values, org.id)
        if member_ids is not None:
            await _check_members(session, member_ids)
            await session.execute(
                delete(OrganisationMember).where(OrganisationMember.cooperation_id == org.id)
            )
            for member_id in member_ids:
                session.add(OrganisationMember(cooperation_id=org.id, member_id=member_id))
        for field, value in changes.items():
            setattr(org, field, value)
        org.revision += 1
        org.updated_at = utcnow()
        await _flush(session, "An organisation with these identifiers already exists.")
        members = await member_ids_of(session, [org.id])
        out = to_out(org, members.get(org.id, []))
        history = {
            k: v
            for k, v in patch.model_dump(mode="json", by_alias=True, exclude_unset=True).items()
        }
        await record_change(
            session,
            actor,
            entity="organisation",
            entity_id=org.id,
            action="updated",
            data=out.model_dump(mode="json", by_alias=True),
            changes=history,
        )
    return out, etag(org)


async def find_by_identifier(
    session: AsyncSession, org_type: str, field: str, value: str
) -> Organisation | None:
    column = getattr(Organisation, field)
    query = select(Organisation).where(Organisation.type == org_type, column == value)
    return (await session.execute(query)).scalar_one_or_none()
