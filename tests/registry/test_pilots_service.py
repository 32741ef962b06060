"""Pilot rules without HTTP: the impact analysis that gates implementation (service
functions on a real session)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import httpx
import pytest

from registry.pilots.schemas import ImpactAnalysisCreate
from registry.pilots.service import record_analysis, require_analysis
from servicekit.auth import Principal
from servicekit.db import Database
from servicekit.errors import Conflict, Forbidden

Maker = Any
OPERATOR = Principal(subject="vng-admin", org_id="00000001009876543000", org_type="operator")


async def test_the_latest_analysis_decides(
    client: httpx.AsyncClient, registry_db: Database, make_facility: Maker
) -> None:
    facility = uuid.UUID((await make_facility(stage="pilot"))["id"])

    async def gate(from_stage: str, to_stage: str) -> None:
        async with registry_db.sessionmaker() as session:
            await require_analysis(session, facility, from_stage, to_stage)

    async def record(outcome: str) -> None:
        body = ImpactAnalysisCreate(outcome=outcome, summary="s", completed_on=date(2026, 11, 1))  # type: ignore[arg-type]
        async with registry_db.sessionmaker() as session:
            await record_analysis(session, OPERATOR, facility, body)

    await gate("initiative", "pilot")  # not gated
    await gate("implementation", "operational")  # already past the gate
    await gate("pilot", "retired")
    with pytest.raises(Conflict):
        await gate("pilot", "implementation")
    with pytest.raises(Conflict):
        await gate("initiative", "operational")
    await record("positive")
    await gate("pilot", "implementation")
    await record("negative")
    with pytest.raises(Conflict) as exc:
        await gate("impact-analysis", "implementation")
    assert exc.value.extra["latestOutcome"] == "negative"
    body = ImpactAnalysisCreate(outcome="positive", summary="s", completed_on=date(2026, 1, 1))
    municipality = Principal(subject="x", org_id="00000001001234567000", org_type="municipality")
    async with registry_db.sessionmaker() as session:
        with pytest.raises(Forbidden):
            await record_analysis(session, municipality, facility, body)
