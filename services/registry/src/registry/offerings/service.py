"""Rules and transactions for offerings and versions (supplier-owned data)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.actor import Actor
from servicekit.auth import Principal
from servicekit.clock import utcnow
from servicekit.db import Database
from servicekit.errors import BadRequest, Forbidden
from servicekit.http import IfMatch
from servicekit.pagination import PageParams
from servicekit.repository import etag_of
from servicekit.schemas import patch_changes

from ..auth import SUPPLIER, is_operator
from ..changes.service import record_out
from ..common import duplicate
from ..organisations.models import Organisation
from . import repository
from .models import Offering, OfferingVersion
from .repository import OfferingRepository
from .schemas import (
    OfferingCreate,
    OfferingOut,
    OfferingPatch,
    VersionCreate,
    VersionOut,
    VersionPatch,
)


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


def require_supplier_or_operator(principal: Principal, supplier: Organisation) -> None:
    """Facts about an offering that others rely on (its vulnerabilities, its integrations)
    are recorded by the supplier's own staff or by the platform operator."""
    if not is_operator(principal):
        _require_supplier_staff(principal, supplier)


def _dates(release: object, end: object) -> None:
    if release is not None and end is not None and end < release:  # type: ignore[operator]
        raise BadRequest(
            "The end-of-support date lies before the release date.",
            invalid_params=[{"name": "endOfSupportDate", "reason": "before releaseDate"}],
        )


async def list_offerings(
    database: Database, filters: OfferingFilter, params: PageParams
) -> tuple[list[OfferingOut], int]:
    equal = {"facility_id": filters.facility_id, "supplier_id": filters.supplier_id}
    rows, total = await repository.READER.page(database, params, equal, filters.q)
    return [OfferingOut.model_validate(dict(r)) for r in rows], total


async def get_offering(database: Database, offering_id: uuid.UUID) -> tuple[OfferingOut, str]:
    row = await repository.READER.get(database, offering_id)
    return OfferingOut.model_validate(dict(row)), etag_of(row["id"], row["revision"])


async def _supplier(repo: OfferingRepository, supplier_id: uuid.UUID) -> Organisation:
    supplier = await repo.organisation(supplier_id)
    if supplier is None or supplier.type != SUPPLIER:
        raise BadRequest(
            "The supplier does not exist.",
            invalid_params=[{"name": "supplierId", "reason": "unknown supplier"}],
        )
    return supplier


async def create_offering(
    session: AsyncSession, principal: Principal, data: OfferingCreate
) -> tuple[OfferingOut, str]:
    repo = OfferingRepository(session)
    async with session.begin():
        if data.supplier_id is not None:
            supplier = await _supplier(repo, data.supplier_id)
        else:
            if principal.org_type != SUPPLIER or not principal.org_id:
                raise Forbidden("Only supplier staff may register offerings.")
            found = await repo.supplier_by_kvk(principal.org_id)
            if found is None:
                raise Forbidden("Your organisation is not registered as a supplier.")
            supplier = found
        _require_supplier_staff(principal, supplier)
        if not await repo.facility_exists(data.facility_id):
            raise BadRequest(
                "The facility does not exist.",
                invalid_params=[{"name": "facilityId", "reason": "unknown facility"}],
            )
        now = utcnow()
        values = data.model_dump(exclude={"supplier_id"})
        row = await repo.add(
            Offering(**values, supplier_id=supplier.id, revision=1, created_at=now, updated_at=now)
        )
        out = to_out(row)
        await record_out(session, Actor.of(principal), "offering", "created", out)
    return out, etag_of(row.id, row.revision)


async def _owned(
    repo: OfferingRepository, principal: Principal, offering_id: uuid.UUID, *, for_update: bool
) -> Offering:
    row = await repo.get(offering_id, for_update=for_update)
    supplier = await repo.organisation(row.supplier_id)
    assert supplier is not None
    _require_supplier_staff(principal, supplier)
    return row


async def update_offering(
    session: AsyncSession,
    principal: Principal,
    offering_id: uuid.UUID,
    patch: OfferingPatch,
    if_match: IfMatch,
) -> tuple[OfferingOut, str]:
    changes = patch_changes(
        patch,
        required=("name", "price_model"),
        empty={"standards": [], "certifications": [], "description": ""},
    )
    repo = OfferingRepository(session)
    async with session.begin():
        row = await _owned(repo, principal, offering_id, for_update=True)
        if_match(repo.etag(row))
        await repo.save(row, changes)
        out = to_out(row)
        await record_out(session, Actor.of(principal), "offering", "updated", out, changes=patch)
    return out, etag_of(row.id, row.revision)


async def create_version(
    session: AsyncSession, principal: Principal, offering_id: uuid.UUID, data: VersionCreate
) -> tuple[VersionOut, str]:
    _dates(data.release_date, data.end_of_support_date)
    repo = OfferingRepository(session)
    async with session.begin():
        offering = await _owned(repo, principal, offering_id, for_update=True)
        existing = await repo.version_named(offering.id, data.version)
        if existing is not None:
            raise duplicate(
                f"Version {data.version} of this offering is already registered.",
                "version",
                "already registered",
                existing,
            )
        now = utcnow()
        row = await repo.add(
            OfferingVersion(
                offering_id=offering.id,
                **data.model_dump(),
                revision=1,
                created_at=now,
                updated_at=now,
            ),
            conflict="This version is already registered.",
        )
        out = version_out(row)
        path = f"offerings/{offering.id}/versions/{row.id}"
        await record_out(
            session, Actor.of(principal), "offering-version", "created", out, subject_path=path
        )
    return out, etag_of(row.id, row.revision)


async def get_version(
    session: AsyncSession, offering_id: uuid.UUID, version_id: uuid.UUID
) -> tuple[VersionOut, str]:
    row = await OfferingRepository(session).version(offering_id, version_id)
    return version_out(row), etag_of(row.id, row.revision)


async def list_versions(
    session: AsyncSession, offering_id: uuid.UUID, params: PageParams
) -> tuple[list[VersionOut], int]:
    repo = OfferingRepository(session)
    await repo.get(offering_id)
    rows, total = await repo.versions(offering_id, params)
    return [version_out(r) for r in rows], total


async def update_version(
    session: AsyncSession,
    principal: Principal,
    offering_id: uuid.UUID,
    version_id: uuid.UUID,
    patch: VersionPatch,
    if_match: IfMatch,
) -> tuple[VersionOut, str]:
    changes = patch_changes(patch, required=("release_date",), empty={"standards": [], "notes": ""})
    repo = OfferingRepository(session)
    async with session.begin():
        await _owned(repo, principal, offering_id, for_update=False)
        row = await repo.version(offering_id, version_id, for_update=True)
        if_match(repo.etag(row))
        _dates(
            changes.get("release_date", row.release_date),
            changes.get("end_of_support_date", row.end_of_support_date),
        )
        await repo.save(row, changes)
        out = version_out(row)
        await record_out(
            session,
            Actor.of(principal),
            "offering-version",
            "updated",
            out,
            changes=patch,
            subject_path=f"offerings/{offering_id}/versions/{row.id}",
        )
    return out, etag_of(row.id, row.revision)
