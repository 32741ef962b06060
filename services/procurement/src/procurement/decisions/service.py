"""Decisions ahead: for each of a municipality's coming notice deadlines (the registry's
organisation radar, over HTTP), the collective facilities and the planned or open joint
tenders (this service's own) that could replace the contract."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.auth import Principal
from servicekit.errors import BadRequest, Forbidden, NotFound

from ..registry_client import RegistryClient
from ..tenders.models import Tender
from ..tenders.terms import effective_status
from . import repository
from .schemas import CollectiveFacility, DecisionAhead, TenderOption

# ISO 8601 date durations the registry's radar accepts (at most 20 years).
DURATION = re.compile(r"^P(?:(\d{1,3})Y)?(?:(\d{1,4})M)?(?:(\d{1,4})W)?(?:(\d{1,5})D)?$")
MAX_DAYS = 20 * 366


def check_within(within: str) -> str:
    match = DURATION.fullmatch(within)
    if within == "P" or match is None:
        raise BadRequest(
            "within is an ISO 8601 date duration such as P18M.",
            invalid_params=[{"name": "within", "reason": "not a date duration like P18M"}],
        )
    years, months, weeks, days = (int(g or 0) for g in match.groups())
    if years * 366 + months * 31 + weeks * 7 + days > MAX_DAYS:
        raise BadRequest(
            "within is at most 20 years.",
            invalid_params=[{"name": "within", "reason": "longer than 20 years"}],
        )
    return within


def _tender_option(tender: Tender, now: datetime) -> TenderOption:
    return TenderOption.from_row(tender, tender_id=tender.id, status=effective_status(tender, now))


def _decision(item: dict[str, Any], tenders: list[Tender], now: datetime) -> DecisionAhead:
    alternatives = [
        CollectiveFacility(
            facility_id=a["facilityId"], slug=a["slug"], name=a["name"], stage=a["stage"]
        )
        for a in item.get("alternatives", [])
    ]
    wanted = {str(item["facilityId"]), *(str(a.facility_id) for a in alternatives)}
    return DecisionAhead(
        usage_id=item["usageId"],
        facility_id=item["facilityId"],
        facility_name=item["facilityName"],
        theme=item["theme"],
        offering_id=item.get("offeringId"),
        contract_end_date=item["contractEndDate"],
        notice_period_months=item["noticePeriodMonths"],
        notice_deadline=item["noticeDeadline"],
        notice_deadline_passed=item["noticeDeadlinePassed"],
        collective_facilities=alternatives,
        tenders=[_tender_option(t, now) for t in tenders if str(t.facility_id) in wanted],
    )


# The registry's scope for every municipality's contract details (this service reads the
# radar with it, so it must not hand the radar to a caller who could not read it there).
CONTRACTS_SCOPE = "registry:contracts"


def require_contract_reader(principal: Principal, organisation: dict[str, Any]) -> None:
    """The municipality's own staff, the operator or a holder of registry:contracts (a lead
    party) may see a municipality's contracts, as in the registry."""
    if CONTRACTS_SCOPE in principal.scopes or principal.is_operator:
        return
    if principal.acts_for("municipality", organisation.get("oin")):
        return
    raise Forbidden(
        "Only the municipality's own staff, the operator or a holder of "
        f"{CONTRACTS_SCOPE} may read its decisions ahead."
    )


async def decisions_ahead(
    session: AsyncSession,
    registry: RegistryClient,
    principal: Principal,
    municipality_id: uuid.UUID,
    within: str,
    today: date,
    now: datetime,
) -> list[DecisionAhead]:
    """Soonest notice deadline first, as the registry's radar orders them."""
    organisation = await registry.organisation(str(municipality_id))
    if organisation is None:
        raise NotFound(f"The registry knows no organisation {municipality_id}.")
    if organisation.get("type") != "municipality":
        raise BadRequest(
            "Decisions ahead are a municipality's.",
            invalid_params=[{"name": "municipalityId", "reason": "not a municipality"}],
        )
    require_contract_reader(principal, organisation)
    radar = await registry.organisation_radar(str(municipality_id), within, today.isoformat())
    if radar is None:
        raise registry.unavailable("the radar changed while it was read")
    facility_ids: set[uuid.UUID] = set()
    for item in radar:
        facility_ids.add(uuid.UUID(str(item["facilityId"])))
        facility_ids.update(uuid.UUID(str(a["facilityId"])) for a in item.get("alternatives", []))
    tenders = await repository.joinable_tenders(session, facility_ids, now)
    return [_decision(item, tenders, now) for item in radar]
