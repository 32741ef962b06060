"""What the registry tells about the enrolling municipality: its details (kept when the
registry is down, filled in later) and the start date proposed from its current contract."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from servicekit.errors import BadRequest

from ..registry_client import RegistryClient, RegistryUnavailable
from ..tenders.models import Tender
from .models import Enrollment
from .schemas import (
    EnrollmentLotIn,
)
from .terms import contract_end


@dataclass
class StartDate:
    value: date
    source: str
    explanation: str


@dataclass
class Municipality:
    oin: str
    id: uuid.UUID | None = None
    name: str | None = None
    cbs_code: str | None = None
    province: str | None = None
    ended_on: str | None = None  # a merger ended it (the registry's endedOn)

    @classmethod
    def from_registry(cls, oin: str, data: dict[str, Any] | None) -> Municipality:
        if not data:
            return cls(oin=oin)
        try:
            reg_id = uuid.UUID(str(data.get("id")))
        except ValueError:
            reg_id = None
        return cls(
            oin=oin,
            id=reg_id,
            name=data.get("name"),
            cbs_code=data.get("cbsCode"),
            province=data.get("province"),
            ended_on=data.get("endedOn"),
        )


async def municipality_of(
    registry: RegistryClient, oin: str, needed: bool
) -> tuple[Municipality, bool]:
    """Registry details of the caller's municipality; (details, registry_reached)."""
    try:
        data = await registry.municipality(oin)
        return Municipality.from_registry(oin, data), True
    except RegistryUnavailable:
        if needed:
            raise
        # Degraded: explicit start dates need no registry; keep what we cached earlier.
        # What is still missing is filled in later (fill_registry_details).
        return Municipality.from_registry(oin, registry.cached_municipality(oin)), False


async def proposed_start(
    registry: RegistryClient, tender: Tender, municipality: Municipality
) -> StartDate:
    planned = tender.planned_start_date
    if municipality.id is None:
        return StartDate(
            planned,
            "planned-start",
            f"The municipality is not in the registry, so no current contract for "
            f"{tender.facility_name} is known; the tender's planned start {planned} is used.",
        )
    usages = await registry.usages(str(municipality.id), str(tender.facility_id))
    ends = []
    for usage in usages:
        if usage.get("status") != "active" or not usage.get("contractEndDate"):
            continue
        try:
            ends.append(date.fromisoformat(str(usage["contractEndDate"])))
        except ValueError:
            continue
    if not ends:
        return StartDate(
            planned,
            "planned-start",
            f"The registry shows no active contract for {tender.facility_name}; the tender's "
            f"planned start {planned} is used.",
        )
    end = max(ends)
    if end == date.max:  # no day after it: the registry knows no end to this contract
        return StartDate(
            planned,
            "planned-start",
            f"The current contract for {tender.facility_name} runs to {end} (registry), "
            f"so no day after it can be proposed; the tender's planned start {planned} is used.",
        )
    proposed = end + timedelta(days=1)
    if proposed < planned:
        # No start before the joint contract exists.
        return StartDate(
            planned,
            "planned-start",
            f"The current contract for {tender.facility_name} ends on {end} (registry), "
            f"before the joint contract starts; its planned start {planned} is used.",
        )
    return StartDate(
        proposed,
        "registry-contract-end",
        f"The current contract for {tender.facility_name} ends on {end} (registry); the "
        f"proposed start is the day after.",
    )


async def start_dates(
    registry: RegistryClient,
    tender: Tender,
    municipality: Municipality,
    lines: list[EnrollmentLotIn],
) -> list[StartDate]:
    proposed: StartDate | None = None
    if any(line.desired_start_date is None for line in lines):
        proposed = await proposed_start(registry, tender, municipality)
    if proposed is not None and proposed.value > contract_end(tender):
        # The day after the current contract lies past the joint contract: no start can be
        # proposed, the municipality chooses one (or does not enroll).
        latest = contract_end(tender)
        raise BadRequest(
            f"{proposed.explanation} That is after the joint contract ends on {latest}: give "
            "a desiredStartDate within the joint contract.",
            invalid_params=[
                {
                    "name": f"lots[{i}].desiredStartDate",
                    "reason": f"outside the joint contract: from {tender.planned_start_date} "
                    f"to {latest}",
                }
                for i, line in enumerate(lines)
                if line.desired_start_date is None
            ],
        )
    out = []
    for line in lines:
        if line.desired_start_date is not None:
            out.append(StartDate(line.desired_start_date, "explicit", "Given by the municipality."))
        else:
            assert proposed is not None
            out.append(proposed)
    return out


def apply_municipality(enrollment: Enrollment, municipality: Municipality) -> None:
    """Fill registry details, never erase ones we had (an outage must not lose data)."""
    if municipality.id is not None:
        enrollment.municipality_id = municipality.id
    if municipality.name:
        enrollment.municipality_name = municipality.name
    if municipality.cbs_code:
        enrollment.municipality_cbs_code = municipality.cbs_code
    if municipality.province:
        enrollment.province = municipality.province
