"""Demand totals and the OCDS release package, computed from enrollments in SQL."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.auth import Principal
from servicekit.csvfiles import csv_text

from ..enrollments.reads import fill_registry_details
from ..registry_client import RegistryClient
from ..schemas import MoneyOut
from ..tenders.models import Lot, Tender
from ..tenders.repository import TenderRepository
from ..tenders.terms import allocate, effective_status, lot_values
from .ocds import LOTS_EXTENSION, STATUS_DETAILS_EXTENSION, buyer, iso, release
from .repository import DemandRepository
from .schemas import MIN_GROUP, Demand, LotDemand, ProvinceDemand, ProvinceLotDemand

Rows = TypeVar("Rows")


async def read_with_details(
    session: AsyncSession,
    registry: RegistryClient | None,
    tender_id: uuid.UUID,
    read: Callable[[DemandRepository, uuid.UUID], Awaitable[Rows]],
    lacks_details: Callable[[Rows], bool],
) -> tuple[Tender, list[Lot], Rows]:
    """The tender, its lots and what ``read`` gives, in one transaction. When
    ``lacks_details`` (enrollments made while the registry was down) and the registry
    answers now, their registry details are filled in and all is read once more."""
    async with session.begin():
        tender, lots = await TenderRepository(session).with_lots(tender_id)
        rows = await read(DemandRepository(session), tender_id)
    if (
        registry is not None
        and lacks_details(rows)
        and await fill_registry_details(session, registry, tender_id)
    ):
        return await read_with_details(session, None, tender_id, read, lacks_details)
    return tender, lots, rows


async def demand(
    session: AsyncSession,
    tender_id: uuid.UUID,
    now: datetime,
    reader: Principal,
    registry: RegistryClient | None = None,
) -> Demand:
    """The demand as ``reader`` may see it: all of it for the tender's lead party, for
    anyone else (:func:`lot_totals_only`) without what tells a municipality's volume."""
    # Participants without a province were enrolled while the registry was down.
    tender, lots, (volumes, by_province) = await read_with_details(
        session, registry, tender_id, DemandRepository.demand_rows, lambda rows: None in rows[1]
    )
    values = lot_values(tender, lots)
    lot_totals: dict[uuid.UUID, list[int]] = defaultdict(lambda: [0, 0])
    provinces: dict[str | None, dict[uuid.UUID, tuple[int, int]]] = defaultdict(dict)
    for lot_id, province, participants, volume in volumes:
        lot_totals[lot_id][0] += participants
        lot_totals[lot_id][1] += volume
        provinces[province][lot_id] = (participants, volume)
    lot_out = [
        LotDemand.from_row(
            lot,
            lot_id=lot.id,
            participants=lot_totals[lot.id][0],
            total_volume=lot_totals[lot.id][1],
            estimated_value=MoneyOut(amount=values[lot.id], currency=tender.currency),
            withheld=False,
        )
        for lot in lots
    ]
    numbers = {lot.id: lot.number for lot in lots}
    order = sorted(set(by_province) | set(provinces), key=lambda p: (p is None, p or ""))
    # Each lot's value split over the provinces by volume, so the shares add up to it.
    shares: dict[tuple[str | None, uuid.UUID], Decimal] = {}
    for lot_id in lot_totals:
        holders = [p for p in order if lot_id in provinces[p]]
        parts = allocate(values.get(lot_id, Decimal(0)), [provinces[p][lot_id][1] for p in holders])
        shares.update({(p, lot_id): part for p, part in zip(holders, parts, strict=True)})
    province_out = []
    for province in order:
        lines = []
        total_share = Decimal(0)
        for lot_id, (participants, volume) in sorted(
            provinces[province].items(), key=lambda kv: numbers.get(kv[0], 0)
        ):
            share = shares[(province, lot_id)]
            total_share += share
            lines.append(
                ProvinceLotDemand(
                    lot_id=lot_id,
                    number=numbers.get(lot_id, 0),
                    participants=participants,
                    volume=volume,
                    estimated_value_share=MoneyOut(amount=share, currency=tender.currency),
                )
            )
        province_out.append(
            ProvinceDemand(
                province=province,
                participants=by_province.get(province, 0),
                estimated_value_share=MoneyOut(amount=total_share, currency=tender.currency),
                lots=lines,
            )
        )
    result = Demand(
        tender_id=tender.id,
        status=effective_status(tender, now),
        participants=sum(by_province.values()),
        estimated_value=MoneyOut(amount=tender.estimated_value, currency=tender.currency),
        lots=lot_out,
        provinces=province_out,
        breakdown="full",
        withheld=False,
        withheld_explanation=None,
        generated_at=now,
    )
    return result if reader.org_id == tender.lead_party_oin else lot_totals_only(result)


WITHHELD_EXPLANATION = (
    "Demand per province is shown only to the tender's lead party, and a lot's participants "
    f"and volume only when at least {MIN_GROUP} municipalities enrolled in it: smaller groups "
    "would tell a municipality's own volume. A municipality reads its own figures in its "
    "enrollment."
)


def lot_totals_only(result: Demand) -> Demand:
    """The demand without provinces, and without the figures of lots with fewer than
    ``MIN_GROUP`` participants."""
    lots = [
        lot
        if not lot.participants or lot.participants >= MIN_GROUP
        else lot.model_copy(update={"participants": None, "total_volume": None, "withheld": True})
        for lot in result.lots
    ]
    withheld = bool(result.provinces) or any(lot.withheld for lot in lots)
    return result.model_copy(
        update={
            "lots": lots,
            "provinces": [],
            "breakdown": "lot-totals",
            "withheld": withheld,
            "withheld_explanation": WITHHELD_EXPLANATION if withheld else None,
        }
    )


CSV_COLUMNS = [
    "level",
    "province",
    "lotNumber",
    "lotTitle",
    "unit",
    "participants",
    "volume",
    "estimatedValueEur",
]


def demand_csv(result: Demand) -> str:
    lots = {lot.lot_id: lot for lot in result.lots}
    rows: list[tuple[Any, ...]] = [
        ("lot", "", lot.number, lot.title, lot.unit, lot.participants, lot.total_volume,
         lot.estimated_value.amount)
        for lot in result.lots
    ]  # fmt: skip
    for province in result.provinces:
        for line in province.lots:
            lot = lots[line.lot_id]
            rows.append(
                ("province", province.province or "", line.number, lot.title, lot.unit,
                 line.participants, line.volume, line.estimated_value_share.amount)
            )  # fmt: skip
    return csv_text(CSV_COLUMNS, rows)


# --- OCDS ---------------------------------------------------------------------------


async def ocds_package(
    session: AsyncSession,
    tender_id: uuid.UUID,
    now: datetime,
    *,
    ocid_prefix: str,
    publisher: str,
    base_url: str,
    registry: RegistryClient | None = None,
) -> dict[str, Any]:
    # Buyers enrolled while the registry was down lack their names and regions.
    tender, lots, (rows, totals) = await read_with_details(
        session,
        registry,
        tender_id,
        DemandRepository.ocds_rows,
        lambda read: any(r[1] is None and r[4] == "enrolled" for r in read[0]),
    )
    status = effective_status(tender, now)
    changed = tender.updated_at
    buyers = []
    for oin, name, cbs_code, province, row_status, updated_at in rows:
        changed = max(changed, updated_at)
        if row_status == "enrolled":
            buyers.append(buyer(oin, name, cbs_code, province))
    ocid = f"{ocid_prefix}-{tender.id}"
    published = tender.status != "draft"
    if tender.status == "cancelled":  # from a draft, or after it was opened?
        async with session.begin():
            published = await DemandRepository(session).was_published(tender.id)
    entry = release(tender, lots, buyers, totals, status, changed, ocid, now, published=published)
    return {
        "uri": f"{base_url.rstrip('/')}/api/procurement/v1/tenders/{tender.id}/ocds",
        "version": "1.1",
        "extensions": [
            LOTS_EXTENSION,
            *([STATUS_DETAILS_EXTENSION] if "statusDetails" in entry["tender"] else []),
        ],
        "publishedDate": iso(now),
        "publisher": {"name": publisher, "uri": base_url},
        "releases": [entry],
    }
