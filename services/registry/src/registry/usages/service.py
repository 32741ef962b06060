"""Rules and transactions for usages."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.actor import Actor
from servicekit.auth import Principal
from servicekit.clock import utcnow
from servicekit.db import Database
from servicekit.errors import BadRequest, Conflict, Forbidden
from servicekit.http import IfMatch
from servicekit.pagination import PageParams
from servicekit.repository import etag_of
from servicekit.schemas import patch_changes

from ..auth import MUNICIPALITY
from ..changes.service import record_out
from ..common import duplicate
from ..contracts import ContractView
from ..organisations.models import Organisation
from ..organisations.service import require_not_ended
from ..vulnerabilities import service as vulnerabilities
from .models import Usage
from .repository import CURRENT, READER, UsageRepository
from .schemas import UsageCreate, UsageOut, UsagePatch

# Status moves forward only: planned → active → ended (or planned → ended).
STATUS_ORDER = {"planned": 0, "active": 1, "ended": 2}


@dataclass(frozen=True)
class UsageFilter:
    municipality_id: uuid.UUID | None = None
    facility_id: uuid.UUID | None = None
    offering_id: uuid.UUID | None = None
    status: str | None = None


def to_out(row: Usage) -> UsageOut:
    return UsageOut.model_validate(row)


def require_municipality_staff(principal: Principal, municipality: Organisation) -> None:
    """Only the municipality's own staff (token org_type municipality, org_id its OIN),
    and only while it exists."""
    if principal.org_type != MUNICIPALITY or not municipality.oin:
        raise Forbidden("Only staff of the municipality may change its usages.")
    principal.require_org(municipality.oin, "this municipality's usages")
    require_not_ended(municipality)


async def list_usages(
    database: Database, filters: UsageFilter, params: PageParams, view: ContractView
) -> tuple[list[UsageOut], int]:
    rows, total = await READER.page(database, params, asdict(filters))
    return [view.usage(UsageOut.model_validate(dict(r))) for r in rows], total


async def get_usage(
    session: AsyncSession, view: ContractView, usage_id: uuid.UUID
) -> tuple[UsageOut, str]:
    row = await UsageRepository(session).get(usage_id)
    return view.usage(to_out(row)), etag_of(row.id, row.revision)


def check_dates(values: dict[str, Any]) -> None:
    start, end = values.get("start_date"), values.get("contract_end_date")
    if start is not None and end is not None and end < start:
        raise BadRequest(
            "The contract end date lies before the start date.",
            invalid_params=[{"name": "contractEndDate", "reason": "before startDate"}],
        )


async def _check_references(repo: UsageRepository, values: dict[str, Any]) -> None:
    """Offering must be for the usage's facility, version must be of that offering."""
    offering_id, version_id = values.get("offering_id"), values.get("version_id")
    if version_id is not None and offering_id is None:
        raise BadRequest(
            "A version needs its offering.",
            invalid_params=[{"name": "offeringId", "reason": "required with versionId"}],
        )
    if offering_id is not None:
        offering = await repo.offering(offering_id)
        if offering is None:
            raise BadRequest(
                "The offering does not exist.",
                invalid_params=[{"name": "offeringId", "reason": "unknown offering"}],
            )
        if offering.facility_id != values["facility_id"]:
            raise BadRequest(
                "The offering is not an offering for this facility.",
                invalid_params=[{"name": "offeringId", "reason": "offering of another facility"}],
            )
    if version_id is not None:
        version = await repo.version(version_id)
        if version is None or version.offering_id != offering_id:
            raise BadRequest(
                "The version does not belong to the offering.",
                invalid_params=[
                    {"name": "versionId", "reason": "unknown version of this offering"}
                ],
            )


def _overlaps(
    a_start: date | None, a_end: date | None, b_start: date | None, b_end: date | None
) -> bool:
    """Two contracts overlap unless one ends on or before the day the other starts (a
    follow-up may start on the day the current contract ends); open ends overlap."""
    a_before_b = a_end is not None and b_start is not None and a_end <= b_start
    b_before_a = b_end is not None and a_start is not None and b_end <= a_start
    return not (a_before_b or b_before_a)


async def _check_current_rule(
    repo: UsageRepository, values: dict[str, Any], own: uuid.UUID | None
) -> None:
    """One active usage per municipality and facility, plus planned ones (follow-up
    contracts) whose period does not overlap any other current usage of that facility.
    Contracts inherited in a merger are held to the rule among those of the same
    predecessor only: they run on beside the successor's own until they end.
    The municipality's row is locked so that two concurrent follow-ups cannot both pass."""
    if values["status"] not in CURRENT:
        return
    await repo.organisation(values["municipality_id"], lock=True)
    lineage = values.get("inherited_from_id")
    for other in await repo.current_of(values["municipality_id"], values["facility_id"], own):
        if other.inherited_from_id != lineage:
            continue
        if values["status"] == "active" and other.status == "active":
            raise duplicate(
                "The municipality already has an active usage of this facility; end it "
                "first, or record the new contract as planned.",
                "status",
                "an active usage exists",
                other.id,
            )
        if _overlaps(
            values.get("start_date"),
            values.get("contract_end_date"),
            other.start_date,
            other.contract_end_date,
        ):
            raise Conflict(
                "The municipality has a current usage of this facility in the same period: "
                "a follow-up must start on or after the day the other contract ends.",
                slug="overlapping-usage",
                extra={"existingId": str(other.id)},
            )


DUPLICATE = "The municipality already has an active usage of this facility."


async def create_usage(
    session: AsyncSession, principal: Principal, data: UsageCreate
) -> tuple[UsageOut, str]:
    values = data.model_dump()
    check_dates(values)
    repo = UsageRepository(session)
    async with session.begin():
        municipality = await repo.organisation(data.municipality_id)
        if municipality is None or municipality.type != MUNICIPALITY:
            raise BadRequest(
                "The municipality does not exist.",
                invalid_params=[{"name": "municipalityId", "reason": "unknown municipality"}],
            )
        require_municipality_staff(principal, municipality)
        row, out = await insert_usage(repo, Actor.of(principal), values)
    return out, etag_of(row.id, row.revision)


async def insert_usage(
    repo: UsageRepository, actor: Actor, values: dict[str, Any]
) -> tuple[Usage, UsageOut]:
    """In the caller's transaction, for a municipality whose staff the caller is: check
    the facility, the offering and version, and the one-current-contract rule, then add
    the usage and its event."""
    if await repo.facility(values["facility_id"]) is None:
        raise BadRequest(
            "The facility does not exist.",
            invalid_params=[{"name": "facilityId", "reason": "unknown facility"}],
        )
    await _check_references(repo, values)
    await _check_current_rule(repo, values, None)
    now = utcnow()
    row = await repo.add(
        Usage(**values, revision=1, created_at=now, updated_at=now), conflict=DUPLICATE
    )
    out = to_out(row)
    await record_out(repo.session, actor, "usage", "created", out)
    if row.version_id is not None:
        await vulnerabilities.announce_usage_change(repo.session, actor, {}, row.id)
    return row, out


async def update_usage(
    session: AsyncSession,
    principal: Principal,
    usage_id: uuid.UUID,
    patch: UsagePatch,
    if_match: IfMatch,
) -> tuple[UsageOut, str]:
    changes = patch_changes(patch, required=("status",))
    repo = UsageRepository(session)
    async with session.begin():
        row = await repo.get(usage_id, for_update=True)
        municipality = await repo.organisation(row.municipality_id)
        assert municipality is not None
        require_municipality_staff(principal, municipality)
        if_match(repo.etag(row))
        values = {c: getattr(row, c) for c in UsagePatch.model_fields}
        values["facility_id"] = row.facility_id
        values.update(changes)
        check_dates(values)
        if (
            "offering_id" in changes
            and "version_id" not in changes
            and changes["offering_id"] != row.offering_id
        ):
            values["version_id"] = changes["version_id"] = None
        await _check_references(repo, values)
        new_status = values["status"]
        if STATUS_ORDER[new_status] < STATUS_ORDER[row.status]:
            raise Conflict(
                f"A usage cannot go back from '{row.status}' to '{new_status}'.",
                slug="illegal-status-transition",
                extra={"currentStatus": row.status},
            )
        values["municipality_id"] = row.municipality_id
        values["inherited_from_id"] = row.inherited_from_id
        await _check_current_rule(repo, values, row.id)
        exposed = (
            await vulnerabilities.exposures_of_usage(session, row.id) if row.version_id else {}
        )
        await repo.save(row, changes, conflict=DUPLICATE)
        out = to_out(row)
        actor = Actor.of(principal)
        await record_out(session, actor, "usage", "updated", out, changes=patch)
        if exposed or row.version_id is not None:
            await vulnerabilities.announce_usage_change(session, actor, exposed, row.id)
    return out, etag_of(row.id, row.revision)
