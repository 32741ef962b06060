"""Rules and transactions for offerings and versions (supplier-owned data)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.actor import Actor
from servicekit.auth import Principal
from servicekit.clock import utcnow
from servicekit.db import Database
from servicekit.errors import BadRequest, Conflict, Forbidden, NotFound
from servicekit.pagination import PageParams
from servicekit.repository import etag_of

from ..auth import SUPPLIER
from ..changes.service import record_change
from ..common import table_reader
from ..facilities.models import Facility
from ..organisations.models import Organisation
from .models import Offering, OfferingVersion
from .schemas import (
    OfferingCreate,
    OfferingOut,
    OfferingPatch,
    VersionCreate,
    VersionOut,
    VersionPatch,
)

_READER = table_reader(Offering.__table__, "offering", counted=True)


@dataclass(frozen=True)
class OfferingFilter:
    facility_id: uuid.UUID | None = None
    supplier_id: uuid.UUID | None = None
    q: str | None = None


def to_out(row: Offering) -> OfferingOut:
    return OfferingOut.model_validate(row)


def version_out(row: OfferingVersion) -> VersionOut:
    return VersionOut.model_validate(row)


def _require_supplier_staff(principal: Principal, supplier: Organisation) -> None:
    """Only the supplier's own staff: token org_type supplier and org_id its KvK number."""
    if principal.org_type != SUPPLIER or not supplier.kvk_number:
        raise Forbidden("Only staff of the supplier that owns an offering may change it.")
    principal.require_org(supplier.kvk_number, "this supplier's offerings")


def _dates(release: object, end: object) -> None:
    if release is not None and end is not None and end < release:  # type: ignore[operator]
        raise BadRequest(
            "The end-of-support date lies before the release date.",
            invalid_params=[{"name": "endOfSupportDate", "reason": "before releaseDate"}],
        )


async def list_offerings(
    database: Database, filters: OfferingFilter, params: PageParams
) -> tuple[list[OfferingOut], int]:
    rows, total = await _READER.page(
        database,
        params,
        order_by=("name", "id"),
        equal={"facility_id": filters.facility_id, "supplier_id": filters.supplier_id},
        text=filters.q,
        text_columns=("name", "description"),
    )
    return [OfferingOut.model_validate(dict(r)) for r in rows], total


async def load(
    session: AsyncSession, offering_id: uuid.UUID, *, for_update: bool = False
) -> Offering:
    query = select(Offering).where(Offering.id == offering_id)
    if for_update:
        query = query.with_for_update()
    row = (await session.execute(query)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"No offering with id {offering_id}.")
    return row


async def get_offering(database: Database, offering_id: uuid.UUID) -> tuple[OfferingOut, str]:
    row = await _READER.get(database, offering_id)
    return OfferingOut.model_validate(dict(row)), etag_of(row["id"], row["revision"])


async def _supplier(session: AsyncSession, supplier_id: uuid.UUID) -> Organisation:
    supplier = await session.get(Organisation, supplier_id)
    if supplier is None or supplier.type != SUPPLIER:
        raise BadRequest(
            "The supplier does not exist.",
            invalid_params=[{"name": "supplierId", "reason": "unknown supplier"}],
        )
    return supplier


async def create_offering(
    session: AsyncSession, principal: Principal, data: OfferingCreate
) -> tuple[OfferingOut, str]:
    async with session.begin():
        if data.supplier_id is not None:
            supplier = await _supplier(session, data.supplier_id)
        else:
            if principal.org_type != SUPPLIER or not principal.org_id:
                raise Forbidden("Only supplier staff may register offerings.")
            found = (
                await session.execute(
                    select(Organisation).where(
                        Organisation.type == SUPPLIER, Organisation.kvk_number == principal.org_id
                    )
                )
            ).scalar_one_or_none()
            if found is None:
                raise Forbidden("Your organisation is not registered as a supplier.")
            supplier = found
        _require_supplier_staff(principal, supplier)
        if await session.get(Facility, data.facility_id) is None:
            raise BadRequest(
                "The facility does not exist.",
                invalid_params=[{"name": "facilityId", "reason": "unknown facility"}],
            )
        now = utcnow()
        values = data.model_dump(exclude={"supplier_id"})
        row = Offering(
            **values, supplier_id=supplier.id, revision=1, created_at=now, updated_at=now
        )
        session.add(row)
        await session.flush()
        out = to_out(row)
        await record_change(
            session,
            Actor.of(principal),
            entity="offering",
            entity_id=row.id,
            action="created",
            data=out.model_dump(mode="json", by_alias=True),
        )
    return out, etag_of(row.id, row.revision)


async def _owned(
    session: AsyncSession, principal: Principal, offering_id: uuid.UUID, *, for_update: bool
) -> Offering:
    row = await load(session, offering_id, for_update=for_update)
    supplier = await session.get(Organisation, row.supplier_id)
    assert supplier is not None
    _require_supplier_staff(principal, supplier)
    return row


async def update_offering(
    session: AsyncSession,
    principal: Principal,
    offering_id: uuid.UUID,
    patch: OfferingPatch,
    check_etag: Callable[[str], None],
) -> tuple[OfferingOut, str]:
    changes = patch.model_dump(exclude_unset=True)
    for key in ("name", "price_model"):
        if key in changes and changes[key] is None:
            raise BadRequest(
                f"{key} cannot be removed.", invalid_params=[{"name": key, "reason": "required"}]
            )
    for key, empty in (("standards", []), ("certifications", []), ("description", "")):
        if key in changes and changes[key] is None:
            changes[key] = empty
    async with session.begin():
        row = await _owned(session, principal, offering_id, for_update=True)
        check_etag(etag_of(row.id, row.revision))
        for field, value in changes.items():
            setattr(row, field, value)
        row.revision += 1
        row.updated_at = utcnow()
        await session.flush()
        out = to_out(row)
        await record_change(
            session,
            Actor.of(principal),
            entity="offering",
            entity_id=row.id,
            action="updated",
            data=out.model_dump(mode="json", by_alias=True),
            changes=patch.model_dump(mode="json", by_alias=True, exclude_unset=True),
        )
    return out, etag_of(row.id, row.revision)


async def create_version(
    session: AsyncSession, principal: Principal, offering_id: uuid.UUID, data: VersionCreate
) -> tuple[VersionOut, str]:
    _dates(data.release_date, data.end_of_support_date)
    async with session.begin():
        offering = await _owned(session, principal, offering_id, for_update=True)
        existing = (
            await session.execute(
                select(OfferingVersion.id).where(
                    OfferingVersion.offering_id == offering.id,
                    OfferingVersion.version == data.version,
                )
            )
        ).scalar_one_or_none()
        if existing is not None:
            raise Conflict(
                f"Version {data.version} of this offering is already registered.",
                slug="duplicate",
                extra={"existingId": str(existing)},
            )
        now = utcnow()
        row = OfferingVersion(
            offering_id=offering.id, **data.model_dump(), revision=1, created_at=now, updated_at=now
        )
        session.add(row)
        try:
            await session.flush()
        except IntegrityError as exc:
            raise Conflict("This version is already registered.", slug="duplicate") from exc
        out = version_out(row)
        await record_change(
            session,
            Actor.of(principal),
            entity="offering-version",
            entity_id=row.id,
            action="created",
            data=out.model_dump(mode="json", by_alias=True),
            subject_path=f"offerings/{offering.id}/versions/{row.id}",
        )
    return out, etag_of(row.id, row.revision)


async def _load_version(
    session: AsyncSession,
    offering_id: uuid.UUID,
    version_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> OfferingVersion:
    query = select(OfferingVersion).where(
        OfferingVersion.id == version_id, OfferingVersion.offering_id == offering_id
    )
    if for_update:
        query = query.with_for_update()
    row = (await session.execute(query)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"No version {version_id} of offering {offering_id}.")
    return row


async def get_version(
    session: AsyncSession, offering_id: uuid.UUID, version_id: uuid.UUID
) -> tuple[VersionOut, str]:
    row = await _load_version(session, offering_id, version_id)
    return version_out(row), etag_of(row.id, row.revision)


async def list_versions(
    session: AsyncSession, offering_id: uuid.UUID, params: PageParams
) -> tuple[list[VersionOut], int]:
    await load(session, offering_id)
    base = select(OfferingVersion).where(OfferingVersion.offering_id == offering_id)
    total = (await session.execute(select(func.count()).select_from(base.subquery()))).scalar_one()
    rows = await session.execute(
        base.order_by(OfferingVersion.release_date.desc(), OfferingVersion.version)
        .offset(params.offset)
        .limit(params.page_size)
    )
    return [version_out(r) for r in rows.scalars()], int(total)


async def update_version(
    session: AsyncSession,
    principal: Principal,
    offering_id: uuid.UUID,
    version_id: uuid.UUID,
    patch: VersionPatch,
    check_etag: Callable[[str], None],
) -> tuple[VersionOut, str]:
    changes = patch.model_dump(exclude_unset=True)
    if "release_date" in changes and changes["release_date"] is None:
        raise BadRequest(
            "releaseDate cannot be removed.",
            invalid_params=[{"name": "releaseDate", "reason": "required"}],
        )
    for key, empty in (("standards", []), ("notes", "")):
        if key in changes and changes[key] is None:
            changes[key] = empty
    async with session.begin():
        await _owned(session, principal, offering_id, for_update=False)
        row = await _load_version(session, offering_id, version_id, for_update=True)
        check_etag(etag_of(row.id, row.revision))
        _dates(
            changes.get("release_date", row.release_date),
            changes.get("end_of_support_date", row.end_of_support_date),
        )
        for field, value in changes.items():
            setattr(row, field, value)
        row.revision += 1
        row.updated_at = utcnow()
        await session.flush()
        out = version_out(row)
        await record_change(
            session,
            Actor.of(principal),
            entity="offering-version",
            entity_id=row.id,
            action="updated",
            data=out.model_dump(mode="json", by_alias=True),
            changes=patch.model_dump(mode="json", by_alias=True, exclude_unset=True),
            subject_path=f"offerings/{offering_id}/versions/{row.id}",
        )
    return out, etag_of(row.id, row.revision)
