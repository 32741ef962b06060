"""Rules and transactions for usages, and the contract-expiry radar."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Date,
    Integer,
    String,
    Uuid,
    and_,
    bindparam,
    cast,
    exists,
    false,
    func,
    or_,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from servicekit.actor import Actor
from servicekit.auth import Principal
from servicekit.clock import utcnow
from servicekit.db import Database
from servicekit.errors import BadRequest, Conflict, Forbidden, NotFound
from servicekit.pagination import PageParams
from servicekit.repository import etag_of

from ..auth import MUNICIPALITY
from ..changes.service import record_change
from ..common import table_reader
from ..durations import DateDuration, add_months
from ..facilities.models import Facility
from ..offerings.models import Offering, OfferingVersion
from ..organisations.models import Organisation
from ..organisations.schemas import JoinOption, OrganisationRadarItem
from .models import Usage
from .schemas import RadarItem, UsageCreate, UsageOut, UsagePatch

CURRENT = ("planned", "active")
# "Current" written as the partial indexes' own predicate, so PostgreSQL can use them.
ENDED = "ended"
# Status moves forward only: planned → active → ended (or planned → ended).
STATUS_ORDER = {"planned": 0, "active": 1, "ended": 2}
JOINABLE_STAGES = ("implementation", "operational")


_READER = table_reader(Usage.__table__, "usage", counted=True)


@dataclass(frozen=True)
class UsageFilter:
    municipality_id: uuid.UUID | None = None
    facility_id: uuid.UUID | None = None
    offering_id: uuid.UUID | None = None
    status: str | None = None


def to_out(row: Usage) -> UsageOut:
    return UsageOut.model_validate(row)


@lru_cache(maxsize=8192)  # contract ends cluster on a few dates; the radar sorts thousands
def notice_deadline(contract_end: date, notice_months: int | None) -> date:
    return add_months(contract_end, -(notice_months or 0))


def _require_municipality_staff(principal: Principal, municipality: Organisation) -> None:
    """Only the municipality's own staff: token org_type municipality, org_id its OIN."""
    if principal.org_type != MUNICIPALITY or not municipality.oin:
        raise Forbidden("Only staff of the municipality may change its usages.")
    principal.require_org(municipality.oin, "this municipality's usages")


async def list_usages(
    database: Database, filters: UsageFilter, params: PageParams
) -> tuple[list[UsageOut], int]:
    rows, total = await _READER.page(
        database,
        params,
        order_by=("created_at", "id"),
        equal={
            "municipality_id": filters.municipality_id,
            "facility_id": filters.facility_id,
            "offering_id": filters.offering_id,
            "status": filters.status,
        },
    )
    return [UsageOut.model_validate(dict(r)) for r in rows], total


async def load(session: AsyncSession, usage_id: uuid.UUID, *, for_update: bool = False) -> Usage:
    query = select(Usage).where(Usage.id == usage_id)
    if for_update:
        query = query.with_for_update()
    row = (await session.execute(query)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"No usage with id {usage_id}.")
    return row


async def get_usage(session: AsyncSession, usage_id: uuid.UUID) -> tuple[UsageOut, str]:
    row = await load(session, usage_id)
    return to_out(row), etag_of(row.id, row.revision)


def _check_dates(values: dict[str, Any]) -> None:
    start, end = values.get("start_date"), values.get("contract_end_date")
    if start is not None and end is not None and end < start:
        raise BadRequest(
            "The contract end date lies before the start date.",
            invalid_params=[{"name": "contractEndDate", "reason": "before startDate"}],
        )


async def _check_references(session: AsyncSession, values: dict[str, Any]) -> None:
    """Offering must be for the usage's facility, version must be of that offering."""
    offering_id, version_id = values.get("offering_id"), values.get("version_id")
    if version_id is not None and offering_id is None:
        raise BadRequest(
            "A version needs its offering.",
            invalid_params=[{"name": "offeringId", "reason": "required with versionId"}],
        )
    if offering_id is not None:
        offering = await session.get(Offering, offering_id)
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
        version = await session.get(OfferingVersion, version_id)
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
    session: AsyncSession, values: dict[str, Any], own: uuid.UUID | None
) -> None:
    """One active usage per municipality and facility, plus planned ones (follow-up
    contracts) whose period does not overlap any other current usage of that facility.
    The municipality's row is locked so that two concurrent follow-ups cannot both pass."""
    if values["status"] not in CURRENT:
        return
    await session.get(Organisation, values["municipality_id"], with_for_update=True)
    query = select(Usage.id, Usage.status, Usage.start_date, Usage.contract_end_date).where(
        Usage.municipality_id == values["municipality_id"],
        Usage.facility_id == values["facility_id"],
        Usage.status.in_(CURRENT),
    )
    if own is not None:
        query = query.where(Usage.id != own)
    for other in (await session.execute(query)).all():
        if values["status"] == "active" and other.status == "active":
            raise Conflict(
                "The municipality already has an active usage of this facility; end it "
                "first, or record the new contract as planned.",
                slug="duplicate",
                extra={"existingId": str(other.id)},
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


async def _flush(session: AsyncSession) -> None:
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(
            "The municipality already has an active usage of this facility.", slug="duplicate"
        ) from exc


async def create_usage(
    session: AsyncSession, principal: Principal, data: UsageCreate
) -> tuple[UsageOut, str]:
    values = data.model_dump()
    _check_dates(values)
    async with session.begin():
        municipality = await session.get(Organisation, data.municipality_id)
        if municipality is None or municipality.type != MUNICIPALITY:
            raise BadRequest(
                "The municipality does not exist.",
                invalid_params=[{"name": "municipalityId", "reason": "unknown municipality"}],
            )
        _require_municipality_staff(principal, municipality)
        if await session.get(Facility, data.facility_id) is None:
            raise BadRequest(
                "The facility does not exist.",
                invalid_params=[{"name": "facilityId", "reason": "unknown facility"}],
            )
        await _check_references(session, values)
        await _check_current_rule(session, values, None)
        now = utcnow()
        row = Usage(**values, revision=1, created_at=now, updated_at=now)
        session.add(row)
        await _flush(session)
        out = to_out(row)
        await record_change(
            session,
            Actor.of(principal),
            entity="usage",
            entity_id=row.id,
            action="created",
            data=out.model_dump(mode="json", by_alias=True),
        )
    return out, etag_of(row.id, row.revision)


async def update_usage(
    session: AsyncSession,
    principal: Principal,
    usage_id: uuid.UUID,
    patch: UsagePatch,
    check_etag: Callable[[str], None],
) -> tuple[UsageOut, str]:
    changes = patch.model_dump(exclude_unset=True)
    if "status" in changes and changes["status"] is None:
        raise BadRequest(
            "status cannot be removed.", invalid_params=[{"name": "status", "reason": "required"}]
        )
    async with session.begin():
        row = await load(session, usage_id, for_update=True)
        municipality = await session.get(Organisation, row.municipality_id)
        assert municipality is not None
        _require_municipality_staff(principal, municipality)
        check_etag(etag_of(row.id, row.revision))
        values = {c: getattr(row, c) for c in UsagePatch.model_fields}
        values["facility_id"] = row.facility_id
        values.update(changes)
        _check_dates(values)
        if (
            "offering_id" in changes
            and "version_id" not in changes
            and changes["offering_id"] != row.offering_id
        ):
            values["version_id"] = changes["version_id"] = None
        await _check_references(session, values)
        new_status = values["status"]
        if STATUS_ORDER[new_status] < STATUS_ORDER[row.status]:
            raise Conflict(
                f"A usage cannot go back from '{row.status}' to '{new_status}'.",
                slug="illegal-status-transition",
                extra={"currentStatus": row.status},
            )
        values["municipality_id"] = row.municipality_id
        await _check_current_rule(session, values, row.id)
        for field, value in changes.items():
            setattr(row, field, value)
        row.revision += 1
        row.updated_at = utcnow()
        await _flush(session)
        out = to_out(row)
        await record_change(
            session,
            Actor.of(principal),
            entity="usage",
            entity_id=row.id,
            action="updated",
            data=out.model_dump(mode="json", by_alias=True),
            changes=patch.model_dump(mode="json", by_alias=True, exclude_unset=True),
        )
    return out, etag_of(row.id, row.revision)


@lru_cache(maxsize=2)
def _radar_statements(with_offering: bool) -> tuple[Any, Any, Any]:
    """The radar's statements, built once (building and cache-keying a statement of this
    size costs more than running it): everything request-specific is a bound parameter
    (``facility_id``, ``theme``, ``today``, ``horizon``, ``offering_id``, ``offset``,
    ``limit``). Returns (all matching contracts, one ranked page with its total on
    PostgreSQL, the number of matching contracts)."""
    facility_id = bindparam("facility_id", type_=Uuid())
    offering_id = bindparam("offering_id", type_=Uuid())
    current = aliased(Usage)
    # A municipality already on board: a current usage of the target (through the
    # collective offering when one is named).
    on_board = exists().where(
        current.municipality_id == Usage.municipality_id,
        current.facility_id == facility_id,
        current.status != ENDED,
        *([current.offering_id == offering_id] if with_offering else []),
    )
    same_facility_competing = (
        and_(Usage.facility_id == facility_id, Usage.offering_id.is_distinct_from(offering_id))
        if with_offering
        else false()
    )
    # Plain columns, not ORM entities: a theme can hold thousands of contracts.
    query = (
        select(
            Usage.id,
            Usage.offering_id,
            Usage.contract_end_date,
            Usage.notice_period_months,
            Organisation.id.label("municipality_id"),
            Organisation.name.label("municipality_name"),
            Organisation.cbs_code,
            Organisation.province,
            Facility.id.label("facility_id"),
            Facility.name.label("facility_name"),
        )
        .join(Facility, Facility.id == Usage.facility_id)
        .join(Organisation, Organisation.id == Usage.municipality_id)
        .where(
            Usage.status != ENDED,
            Usage.contract_end_date.is_not(None),
            Usage.contract_end_date >= bindparam("today", type_=Date()),
            Usage.contract_end_date <= bindparam("horizon", type_=Date()),
            or_(
                and_(
                    Facility.theme == bindparam("theme", type_=String()),
                    Facility.id != facility_id,
                ),
                same_facility_competing,
            ),
            ~on_board,
        )
    )
    # PostgreSQL: deadline, order, page and total in the database, so only the page's
    # rows travel. ``date - make_interval(months => n)`` clamps to the month's end like
    # add_months; names in code-point order (collation "C", as Python sorts them); uuid
    # order is the order of its text form.
    deadline = cast(
        Usage.contract_end_date
        - func.make_interval(0, func.coalesce(Usage.notice_period_months, 0)),
        Date,
    ).label("deadline")
    ranked = (
        query.add_columns(deadline, func.count().over().label("total_count"))
        .order_by(deadline, Organisation.name.collate("C"), Usage.id)
        .offset(bindparam("offset", type_=Integer()))
        .limit(bindparam("limit", type_=Integer()))
    )
    count = select(func.count()).select_from(query.subquery())
    return query, ranked, count


_FACILITY_THEME = select(Facility.theme).where(
    Facility.id == bindparam("facility_id", type_=Uuid())
)
_OFFERING_FACILITY = select(Offering.facility_id).where(
    Offering.id == bindparam("offering_id", type_=Uuid())
)


async def facility_radar(
    session: AsyncSession,
    facility_id: uuid.UUID,
    within: DateDuration,
    today: date,
    offering_id: uuid.UUID | None,
    offset: int = 0,
    limit: int | None = None,
) -> tuple[list[RadarItem], int]:
    """Municipalities that could join ``facility_id``: they do not use it (or use it through
    a competing offering than ``offering_id``) and their current contract for something in
    the same theme ends in [today, today + within]; soonest notice deadline first.

    Works in a transaction or in autocommit (each statement sees committed data)."""
    theme = (
        await session.execute(_FACILITY_THEME, {"facility_id": facility_id})
    ).scalar_one_or_none()
    if theme is None:
        raise NotFound(f"No facility with id {facility_id}.")
    if offering_id is not None:
        of_facility = (
            await session.execute(_OFFERING_FACILITY, {"offering_id": offering_id})
        ).scalar_one_or_none()
        if of_facility != facility_id:
            raise BadRequest(
                "The offering is not an offering for this facility.",
                invalid_params=[{"name": "offeringId", "reason": "offering of another facility"}],
            )
    query, ranked, count = _radar_statements(offering_id is not None)
    values: dict[str, Any] = {
        "facility_id": facility_id,
        "theme": theme,
        "today": today,
        "horizon": within.after(today),
    }
    if offering_id is not None:
        values["offering_id"] = offering_id
    assert session.bind is not None
    pairs: list[tuple[date, Any]]
    if session.bind.dialect.name == "postgresql" and limit is not None:
        page = (await session.execute(ranked, {**values, "offset": offset, "limit": limit})).all()
        if page:
            total = int(page[0].total_count)
        elif offset == 0:
            total = 0
        else:
            total = int((await session.execute(count, values)).scalar_one())
        pairs = [(row.deadline, row) for row in page]
    else:
        rows = [
            (notice_deadline(row.contract_end_date, row.notice_period_months), row)
            for row in (await session.execute(query, values)).all()
        ]
        rows.sort(key=lambda pair: (pair[0], pair[1].municipality_name, str(pair[1].id)))
        end = None if limit is None else offset + limit
        pairs, total = rows[offset:end], len(rows)
    # Schemas only for the requested page: the window can hold thousands of contracts.
    items = [
        RadarItem(
            municipality_id=row.municipality_id,
            municipality_name=row.municipality_name,
            cbs_code=row.cbs_code,
            province=row.province,
            usage_id=row.id,
            current_facility_id=row.facility_id,
            current_facility_name=row.facility_name,
            offering_id=row.offering_id,
            contract_end_date=row.contract_end_date,
            notice_period_months=row.notice_period_months or 0,
            notice_deadline=deadline,
            notice_deadline_passed=deadline < today,
        )
        for deadline, row in pairs
    ]
    return items, total


async def organisation_radar(
    session: AsyncSession, organisation_id: uuid.UUID, within: DateDuration, today: date
) -> list[OrganisationRadarItem]:
    """One municipality's contracts ending in the window, each with the collective
    facilities of the same theme it could join instead."""
    municipality = await session.get(Organisation, organisation_id)
    if municipality is None:
        raise NotFound(f"No organisation with id {organisation_id}.")
    if municipality.type != MUNICIPALITY:
        raise BadRequest(
            "The radar of an organisation is for municipalities.",
            invalid_params=[{"name": "organisationId", "reason": "not a municipality"}],
        )
    horizon = within.after(today)
    rows = (
        (
            await session.execute(
                select(Usage, Facility)
                .join(Facility, Facility.id == Usage.facility_id)
                .where(
                    Usage.municipality_id == organisation_id,
                    Usage.status.in_(CURRENT),
                    Usage.contract_end_date.is_not(None),
                    Usage.contract_end_date >= today,
                    Usage.contract_end_date <= horizon,
                )
            )
        )
        .tuples()
        .all()
    )
    used = set(
        (
            await session.execute(
                select(Usage.facility_id).where(
                    Usage.municipality_id == organisation_id, Usage.status.in_(CURRENT)
                )
            )
        ).scalars()
    )
    themes = {facility.theme for _usage, facility in rows}
    options: dict[str, list[JoinOption]] = {theme: [] for theme in themes}
    if themes:
        candidates = await session.execute(
            select(Facility)
            .where(Facility.theme.in_(themes), Facility.stage.in_(JOINABLE_STAGES))
            .order_by(Facility.name)
        )
        for facility in candidates.scalars():
            if facility.id not in used:
                options[facility.theme].append(
                    JoinOption(
                        facility_id=facility.id,
                        slug=facility.slug,
                        name=facility.name,
                        stage=facility.stage,
                    )
                )
    items = []
    for usage, facility in rows:
        assert usage.contract_end_date is not None
        deadline = notice_deadline(usage.contract_end_date, usage.notice_period_months)
        items.append(
            OrganisationRadarItem(
                usage_id=usage.id,
                facility_id=facility.id,
                facility_name=facility.name,
                theme=facility.theme,
                offering_id=usage.offering_id,
                contract_end_date=usage.contract_end_date,
                notice_period_months=usage.notice_period_months or 0,
                notice_deadline=deadline,
                notice_deadline_passed=deadline < today,
                alternatives=[o for o in options[facility.theme] if o.facility_id != facility.id],
            )
        )
    items.sort(key=lambda i: (i.notice_deadline, i.facility_name, str(i.usage_id)))
    return items
