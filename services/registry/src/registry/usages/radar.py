"""The contract-expiry radar: contracts ending soon, and who could join what."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.clock import add_months
from servicekit.errors import BadRequest, NotFound

from ..durations import DateDuration
from ..organisations.schemas import JoinOption, OrganisationRadarItem
from ..organisations.service import municipality_of
from .repository import UsageRepository
from .schemas import RadarItem

JOINABLE_STAGES = ("implementation", "operational")


@dataclass(frozen=True)
class Horizon:
    """How far the radar looks: contracts ending from ``today`` up to ``within`` later."""

    within: DateDuration
    today: date

    def __post_init__(self) -> None:
        try:
            self.within.after(self.today)
        except (ValueError, OverflowError):
            raise BadRequest(
                "The radar cannot look past 9999-12-31.",
                invalid_params=[{"name": "asOf", "reason": "asOf plus within is after 9999-12-31"}],
            ) from None

    @property
    def end(self) -> date:
        return self.within.after(self.today)


@lru_cache(maxsize=8192)  # contract ends cluster on a few dates; the radar sorts thousands
def notice_deadline(contract_end: date, notice_months: int | None) -> date:
    """The last day to give notice; 0001-01-01 when it would lie before that (a contract
    recorded as ending in year 1 with a notice period: long passed either way)."""
    try:
        return add_months(contract_end, -(notice_months or 0))
    except ValueError:
        return date.min


async def facility_radar(
    session: AsyncSession,
    facility_id: uuid.UUID,
    horizon: Horizon,
    offering_id: uuid.UUID | None,
    offset: int = 0,
    limit: int | None = None,
) -> tuple[list[RadarItem], int]:
    """Municipalities that could join ``facility_id``: they do not use it (or use it through
    a competing offering than ``offering_id``) and their current contract for something in
    the same theme ends within the horizon, with no follow-up of it contracted yet;
    soonest notice deadline first.

    Works in a transaction or in autocommit (each statement sees committed data)."""
    repo = UsageRepository(session)
    theme = await repo.facility_theme(facility_id)
    if theme is None:
        raise NotFound(f"No facility with id {facility_id}.")
    if offering_id is not None and await repo.offering_facility(offering_id) != facility_id:
        raise BadRequest(
            "The offering is not an offering for this facility.",
            invalid_params=[{"name": "offeringId", "reason": "offering of another facility"}],
        )
    values: dict[str, Any] = {
        "facility_id": facility_id,
        "theme": theme,
        "today": horizon.today,
        "horizon": horizon.end,
    }
    if offering_id is not None:
        values["offering_id"] = offering_id
    rows, total, ranked = await repo.radar_rows(values, offering_id is not None, offset, limit)
    pairs: list[tuple[date, Any]]
    if ranked:
        pairs = [(row.deadline, row) for row in rows]
    else:
        found = [(notice_deadline(r.contract_end_date, r.notice_period_months), r) for r in rows]
        found.sort(key=lambda pair: (pair[0], pair[1].municipality_name, str(pair[1].id)))
        pairs = found[offset : None if limit is None else offset + limit]
    # Schemas only for the requested page: the window can hold thousands of contracts.
    items = [
        RadarItem.from_row(
            row,
            usage_id=row.id,
            current_facility_id=row.facility_id,
            current_facility_name=row.facility_name,
            **_notice(row.notice_period_months, deadline, horizon.today),
        )
        for deadline, row in pairs
    ]
    return items, total


def _notice(months: int | None, deadline: date, today: date) -> dict[str, Any]:
    """A radar item's notice members: the period, the last day to give notice, whether
    that day has passed."""
    return {
        "notice_period_months": months or 0,
        "notice_deadline": deadline,
        "notice_deadline_passed": deadline < today,
    }


async def organisation_radar(
    session: AsyncSession, organisation_id: uuid.UUID, horizon: Horizon
) -> list[OrganisationRadarItem]:
    """One municipality's contracts ending in the window that have no follow-up yet, each
    with the collective facilities of the same theme it could join instead."""
    repo = UsageRepository(session)
    await municipality_of(
        session, organisation_id, "The radar of an organisation is for municipalities."
    )
    rows = await repo.ending_contracts(organisation_id, horizon.today, horizon.end)
    used = await repo.used_facilities(organisation_id)
    themes = {facility.theme for _usage, facility in rows}
    options: dict[str, list[JoinOption]] = {theme: [] for theme in themes}
    if themes:
        for facility in await repo.facilities_in(themes, JOINABLE_STAGES):
            if facility.id not in used:
                options[facility.theme].append(
                    JoinOption.from_row(facility, facility_id=facility.id)
                )
    items = []
    for usage, facility in rows:
        assert usage.contract_end_date is not None
        deadline = notice_deadline(usage.contract_end_date, usage.notice_period_months)
        items.append(
            OrganisationRadarItem.from_row(
                usage,
                usage_id=usage.id,
                facility_id=facility.id,
                facility_name=facility.name,
                theme=facility.theme,
                **_notice(usage.notice_period_months, deadline, horizon.today),
                alternatives=[o for o in options[facility.theme] if o.facility_id != facility.id],
            )
        )
    items.sort(key=lambda i: (i.notice_deadline, i.facility_name, str(i.usage_id)))
    return items
