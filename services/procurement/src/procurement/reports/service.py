"""Demand totals and the OCDS release package, computed from enrollments in SQL."""

from __future__ import annotations

import csv
import io
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import metadata
from ..enrollments.models import Enrollment
from ..enrollments.service import fill_registry_details
from ..registry_client import RegistryClient
from ..schemas import MoneyOut
from ..tenders.models import Lot, Tender
from ..tenders.repository import TenderRepository
from ..tenders.terms import effective_status, lot_values
from .schemas import Demand, LotDemand, ProvinceDemand, ProvinceLotDemand

CENT = Decimal("0.01")
# Core columns: typed for SQL expressions (the model attributes are typed as values).
E = metadata.tables["enrollments"].c
L = metadata.tables["enrollment_lots"].c


async def _volumes(
    session: AsyncSession, tender_id: uuid.UUID
) -> list[tuple[uuid.UUID, str | None, int, int]]:
    """(lot, province, participants, volume) for active enrollments, grouped in SQL."""
    query = (
        select(
            L.lot_id,
            E.province,
            func.count(func.distinct(E.id)),
            func.coalesce(func.sum(L.expected_volume), 0),
        )
        .join(Enrollment, E.id == L.enrollment_id)
        .where(E.tender_id == tender_id, E.status == "enrolled")
        .group_by(L.lot_id, E.province)
    )
    return [(r[0], r[1], int(r[2]), int(r[3])) for r in await session.execute(query)]


async def _participants_by_province(
    session: AsyncSession, tender_id: uuid.UUID
) -> dict[str | None, int]:
    query = (
        select(E.province, func.count())
        .where(E.tender_id == tender_id, E.status == "enrolled")
        .group_by(E.province)
    )
    return {r[0]: int(r[1]) for r in await session.execute(query)}


async def demand(
    session: AsyncSession,
    tender_id: uuid.UUID,
    now: datetime,
    registry: RegistryClient | None = None,
) -> Demand:
    async with session.begin():
        tender = await TenderRepository(session).get(tender_id)
        lots = await TenderRepository(session).lots(tender_id)
        volumes = await _volumes(session, tender_id)
        by_province = await _participants_by_province(session, tender_id)
    # Participants without a province were enrolled while the registry was down: fill
    # in their registry details if it answers now, then count again.
    if (
        None in by_province
        and registry is not None
        and await fill_registry_details(session, registry, tender_id)
    ):
        return await demand(session, tender_id, now)
    values = lot_values(tender, lots)
    lot_totals: dict[uuid.UUID, list[int]] = defaultdict(lambda: [0, 0])
    provinces: dict[str | None, dict[uuid.UUID, tuple[int, int]]] = defaultdict(dict)
    for lot_id, province, participants, volume in volumes:
        lot_totals[lot_id][0] += participants
        lot_totals[lot_id][1] += volume
        provinces[province][lot_id] = (participants, volume)
    lot_out = [
        LotDemand(
            lot_id=lot.id,
            number=lot.number,
            title=lot.title,
            unit=lot.unit,
            participants=lot_totals[lot.id][0],
            total_volume=lot_totals[lot.id][1],
            estimated_value=MoneyOut(amount=values[lot.id], currency=tender.currency),
        )
        for lot in lots
    ]
    numbers = {lot.id: lot.number for lot in lots}
    province_out = []
    for province in sorted(set(by_province) | set(provinces), key=lambda p: (p is None, p or "")):
        lines = []
        total_share = Decimal(0)
        for lot_id, (participants, volume) in sorted(
            provinces[province].items(), key=lambda kv: numbers.get(kv[0], 0)
        ):
            lot_volume = lot_totals[lot_id][1]
            share = (
                (values.get(lot_id, Decimal(0)) * volume / lot_volume).quantize(CENT)
                if lot_volume
                else Decimal(0)
            )
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
    return Demand(
        tender_id=tender.id,
        status=effective_status(tender, now),
        participants=sum(by_province.values()),
        estimated_value=MoneyOut(amount=tender.estimated_value, currency=tender.currency),
        lots=lot_out,
        provinces=province_out,
        generated_at=now,
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


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    # Spreadsheet formula injection: a title like "=HYPERLINK(...)" must stay text.
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def demand_csv(result: Demand) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    lots = {lot.lot_id: lot for lot in result.lots}
    for lot in result.lots:
        writer.writerow(
            [
                _cell(x)
                for x in (
                    "lot",
                    "",
                    lot.number,
                    lot.title,
                    lot.unit,
                    lot.participants,
                    lot.total_volume,
                    lot.estimated_value.amount,
                )
            ]
        )
    for province in result.provinces:
        for line in province.lots:
            lot = lots[line.lot_id]
            writer.writerow(
                [
                    _cell(x)
                    for x in (
                        "province",
                        province.province or "",
                        line.number,
                        lot.title,
                        lot.unit,
                        line.participants,
                        line.volume,
                        line.estimated_value_share.amount,
                    )
                ]
            )
    return out.getvalue()


# --- OCDS ---------------------------------------------------------------------------

PROCUREMENT_METHOD = {
    "open": "open",
    "restricted": "selective",
    "competitive-dialogue": "selective",
    "negotiated": "limited",
}
PROCEDURE_DETAILS = {
    "open": "Openbare procedure (open procedure)",
    "restricted": "Niet-openbare procedure (restricted procedure)",
    "competitive-dialogue": "Concurrentiegerichte dialoog (competitive dialogue)",
    "negotiated": "Mededingingsprocedure met onderhandeling (negotiated procedure)",
}
TENDER_STATUS = {
    "draft": "planning",
    "open-for-enrollment": "planned",
    "enrollment-closed": "planned",
    "tendering": "active",
    "awarded": "complete",
    "contracted": "complete",
    "cancelled": "cancelled",
}
RELEASE_TAG = {
    "draft": "planning",
    "open-for-enrollment": "planning",
    "enrollment-closed": "planning",
    "tendering": "tender",
    "awarded": "award",
    "contracted": "contract",
    "cancelled": "tenderCancellation",
}
OIN_SCHEME = "NL-OIN"
LOTS_EXTENSION = (
    "https://raw.githubusercontent.com/open-contracting-extensions/ocds_lots_extension/"
    "v1.1.5/extension.json"
)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _date_time(value: date) -> str:
    return _iso(datetime.combine(value, time(0, 0), tzinfo=UTC))


def _add_months(start: date, months: int) -> date:
    month = start.month - 1 + months
    year, month = start.year + month // 12, month % 12 + 1
    # Clamp to the month's last day (31 January + 1 month = 28/29 February).
    for day in (start.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise ValueError("unreachable")


def _party_id(oin: str) -> str:
    return f"{OIN_SCHEME}-{oin}"


def _amount(value: Decimal) -> float | int:
    return int(value) if value == value.to_integral_value() else float(value)


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
    async with session.begin():
        tender = await TenderRepository(session).get(tender_id)
        lots = await TenderRepository(session).lots(tender_id)
        # Plain rows, not ORM objects: 342 buyers as tuples cost a fraction of the
        # identity-map bookkeeping. Withdrawn rows come along for the last change time.
        rows = (
            await session.execute(
                select(
                    E.municipality_oin,
                    E.municipality_name,
                    E.municipality_cbs_code,
                    E.province,
                    E.status,
                    E.updated_at,
                )
                .where(E.tender_id == tender_id)
                .order_by(E.municipality_oin)
            )
        ).all()
        totals = {
            r[0]: int(r[1])
            for r in await session.execute(
                select(L.lot_id, func.sum(L.expected_volume))
                .join(Enrollment, E.id == L.enrollment_id)
                .where(E.tender_id == tender_id, E.status == "enrolled")
                .group_by(L.lot_id)
            )
        }
    # Buyers enrolled while the registry was down: their names and regions.
    if (
        registry is not None
        and any(r[1] is None and r[4] == "enrolled" for r in rows)
        and await fill_registry_details(session, registry, tender_id)
    ):
        return await ocds_package(
            session, tender_id, now, ocid_prefix=ocid_prefix, publisher=publisher, base_url=base_url
        )
    status = effective_status(tender, now)
    changed = tender.updated_at
    buyers = []
    for oin, name, cbs_code, province, row_status, updated_at in rows:
        changed = max(changed, updated_at)
        if row_status == "enrolled":
            buyers.append(_buyer(oin, name, cbs_code, province))
    ocid = f"{ocid_prefix}-{tender.id}"
    release = _release(tender, lots, buyers, totals, status, changed, ocid, now)
    return {
        "uri": f"{base_url.rstrip('/')}/api/procurement/v1/tenders/{tender.id}/ocds",
        "version": "1.1",
        "extensions": [LOTS_EXTENSION],
        "publishedDate": _iso(now),
        "publisher": {"name": publisher, "uri": base_url},
        "releases": [release],
    }


def _buyer(
    oin: str, name: str | None, cbs_code: str | None, province: str | None
) -> dict[str, Any]:
    identifier = {"scheme": OIN_SCHEME, "id": oin}
    if name:
        identifier["legalName"] = name
    address = {"countryName": "Nederland"}
    if province:
        address["region"] = province
    party: dict[str, Any] = {
        "id": _party_id(oin),
        "name": name or f"Gemeente (OIN {oin})",
        "identifier": identifier,
        "roles": ["buyer"],
        "address": address,
    }
    if cbs_code:
        party["additionalIdentifiers"] = [{"scheme": "NL-CBS", "id": cbs_code}]
    return party


def _enrollment_milestones(tender: Tender, now: datetime) -> list[dict[str, Any]]:
    """The enrollment window as core OCDS milestones (OCDS has no field for the period in
    which buyers join a central purchasing body's procedure; ``tenderPeriod`` is the
    suppliers' bidding period and ``enquiryPeriod`` their questions)."""
    out = []
    for code, title, at in (
        ("enrollmentOpens", "Aanmelding gemeenten open", tender.enrollment_opens_at),
        ("enrollmentCloses", "Aanmelding gemeenten gesloten", tender.enrollment_closes_at),
    ):
        milestone: dict[str, Any] = {
            "id": f"{tender.id}-{code}",
            "title": title,
            "type": "preProcurement",
            "code": code,
            "description": (
                "Municipalities enroll in the joint tender (with a mandate for the lead "
                "party) between these two milestones."
            ),
            "dueDate": _iso(at),
            "status": "scheduled",
        }
        if tender.status != "draft" and at <= now:
            milestone["status"] = "met"
            milestone["dateMet"] = _iso(at)
        out.append(milestone)
    return out


def _release(
    tender: Tender,
    lots: list[Lot],
    buyers: list[dict[str, Any]],
    totals: dict[uuid.UUID, int],
    status: str,
    changed: datetime,
    ocid: str,
    now: datetime,
) -> dict[str, Any]:
    lead = {
        "id": _party_id(tender.lead_party_oin),
        "name": tender.lead_party_name,
        "identifier": {
            "scheme": OIN_SCHEME,
            "id": tender.lead_party_oin,
            "legalName": tender.lead_party_name,
        },
        "roles": ["procuringEntity", "centralPurchasingBody"],
    }
    parties = [lead, *buyers]
    values = lot_values(tender, lots)
    end = _add_months(tender.planned_start_date, tender.contract_duration_months)
    contract_period = {
        "startDate": _date_time(tender.planned_start_date),
        "endDate": _date_time(end),
        "durationInDays": (end - tender.planned_start_date).days,
    }
    lot_status = {"cancelled": "cancelled", "awarded": "complete", "contracted": "complete"}
    ocds_tender: dict[str, Any] = {
        "id": str(tender.id),
        "title": tender.title,
        "status": TENDER_STATUS[status],
        "procuringEntity": {"id": lead["id"], "name": lead["name"]},
        "value": {"amount": _amount(tender.estimated_value), "currency": tender.currency},
        "procurementMethod": PROCUREMENT_METHOD[tender.procedure],
        "procurementMethodDetails": PROCEDURE_DETAILS[tender.procedure],
        "contractPeriod": contract_period,
        "milestones": _enrollment_milestones(tender, now),
        "items": [
            {
                "id": f"{lot.id}-item",
                "description": lot.title,
                "quantity": totals.get(lot.id, 0),
                "unit": {"name": lot.unit},
                "relatedLot": str(lot.id),
            }
            for lot in lots
        ],
        "lots": [
            {
                "id": str(lot.id),
                "title": lot.title,
                "description": lot.description or lot.title,
                "value": {"amount": _amount(values[lot.id]), "currency": tender.currency},
                "status": lot_status.get(status, TENDER_STATUS[status]),
                "contractPeriod": contract_period,
            }
            for lot in lots
        ],
    }
    if tender.description:
        ocds_tender["description"] = tender.description
    return {
        "ocid": ocid,
        "id": f"{ocid}-{changed.strftime('%Y%m%dT%H%M%S%fZ')}",
        "date": _iso(changed),
        "tag": [RELEASE_TAG[status]],
        "initiationType": "tender",
        "language": "nl",
        "parties": parties,
        "tender": ocds_tender,
    }
