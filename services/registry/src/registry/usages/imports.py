"""A municipality's usages from a CSV file: every row valid, or nothing stored.

One row per usage; the header names the columns as the usage's JSON fields (in any
order and case, ``facilityId`` required). ``facilityId`` may be the facility's slug and
``versionId`` the version's label, as people know them. Rows are checked one by one
inside one transaction, each seeing the rows before it (two active contracts for one
facility in the same file conflict); every problem is reported as ``rows[N].column``,
N being the row as a spreadsheet numbers it (the header is row 1).
"""

from __future__ import annotations

import re
import uuid
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.actor import Actor
from servicekit.auth import Principal
from servicekit.db import transaction
from servicekit.errors import BadRequest, Conflict, NotFound
from servicekit.schemas import FROM_TEXT

from ..auth import MUNICIPALITY
from ..csvfile import file_problem, header_key, read_table
from ..facilities.repository import FacilityRepository
from ..offerings.repository import OfferingRepository
from . import service
from .repository import UsageRepository
from .schemas import UsageCreate, UsageImportReport, UsageOut

COLUMNS = (
    "facilityId",
    "offeringId",
    "versionId",
    "status",
    "startDate",
    "contractEndDate",
    "noticePeriodMonths",
    "contractValueBand",
    "annualCost",
)
EXAMPLE = (
    "facilityId,offeringId,versionId,status,startDate,contractEndDate,noticePeriodMonths,"
    "contractValueBand,annualCost\r\n"
    "ggi-netwerk,,,active,2024-01-01,2027-12-31,6,215k-750k,125000.00\r\n"
)
MAX_ROWS = 2000
MAX_PROBLEMS = 200
# An amount in euro as spreadsheets write it: a decimal point or comma with at most two
# decimals, no thousands separators ("10.000" would be ten to some and ten thousand to
# others, so it is refused rather than guessed).
_AMOUNT = re.compile(r"^[0-9]+([.,][0-9]{1,2})?$")
AMOUNT_REASON = "must be an amount in euro like 1250 or 1250,50 (no thousands separators)"


_COLUMN_KEYS = {header_key(name): name for name in COLUMNS}


def _columns(names: list[str], rows: list[tuple[int, list[str]]]) -> list[str]:
    """The header's columns by their API names (``FacilityId``, ``facility id`` and
    ``facilityId`` are one); "" for a column without name or values (the trailing ``;;``
    Excel writes: no column), "(empty)" for one without name but with values."""

    def empty(index: int) -> bool:
        return all(index >= len(cells) or not cells[index].strip() for _, cells in rows)

    return [
        _COLUMN_KEYS.get(header_key(name), name) if name else ("" if empty(i) else "(empty)")
        for i, name in enumerate(names)
    ]


def parse(body: bytes) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the data rows with their line numbers; the header names only
    known columns, ``facilityId`` among them ("" for a column without name and value)."""
    names, rows = read_table(body, MAX_ROWS)
    header = _columns(names, rows)
    problems = [
        {"name": f"rows[1].{name}", "reason": "unknown column"}
        for name in header
        if name and name not in COLUMNS
    ]
    problems += [
        {"name": f"rows[1].{name}", "reason": "column appears twice"}
        for name in sorted({n for n in header if header.count(n) > 1 and n in COLUMNS})
    ]
    if "facilityId" not in header:
        problems.append({"name": "rows[1].facilityId", "reason": "required column missing"})
    if problems:
        raise BadRequest(
            f"The header must name columns among: {', '.join(COLUMNS)}.",
            invalid_params=problems,
        )
    if not rows:
        raise file_problem("no data rows after the header")
    return header, rows


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


async def _row_values(
    repo: UsageRepository, municipality_id: uuid.UUID, fields: dict[str, str]
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The row as a validated ``UsageCreate`` dump, or the problems with its cells."""
    cells: dict[str, Any] = {name: value for name, value in fields.items() if value}
    problems: list[dict[str, str]] = []
    facility = cells.get("facilityId", "")
    if facility and _uuid(facility) is None:
        found = await FacilityRepository(repo.session).slug_taken(facility, None)
        if found is None:
            problems.append({"name": "facilityId", "reason": "unknown facility id or slug"})
        cells["facilityId"] = str(found)
    version, offering = cells.get("versionId", ""), _uuid(cells.get("offeringId", ""))
    if version and _uuid(version) is None and offering is not None:
        found = await OfferingRepository(repo.session).version_named(offering, version)
        if found is None:
            problems.append({"name": "versionId", "reason": "unknown version of this offering"})
        cells["versionId"] = str(found)
    cost = cells.get("annualCost")
    if cost is not None:
        if _AMOUNT.match(cost):
            cells["annualCost"] = Decimal(cost.replace(",", "."))
        else:
            problems.append({"name": "annualCost", "reason": AMOUNT_REASON})
            del cells["annualCost"]
    unknown = {problem["name"] for problem in problems}
    for name in unknown - {"annualCost"}:
        # A stand-in while the row's other cells are checked: every problem of the row is
        # reported at once, not one more after each correction.
        cells[name] = str(uuid.UUID(int=0))
    try:
        values = {**cells, "municipalityId": str(municipality_id)}
        data = UsageCreate.model_validate(values, context=FROM_TEXT)
    except ValidationError as exc:
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else "row"
            if name not in unknown:
                problems.append({"name": name, "reason": str(error["msg"])})
    if problems:
        return {}, problems
    values = data.model_dump()
    service.check_dates(values)
    return values, []


async def import_usages(
    session: AsyncSession,
    principal: Principal,
    municipality_id: uuid.UUID,
    body: bytes,
    *,
    dry_run: bool,
) -> UsageImportReport:
    header, rows = parse(body)
    repo = UsageRepository(session)
    actor = Actor.of(principal)
    problems: list[dict[str, str]] = []
    created: list[UsageOut] = []
    async with transaction(session, dry_run=dry_run):
        municipality = await repo.organisation(municipality_id)
        if municipality is None or municipality.type != MUNICIPALITY:
            raise NotFound(f"No municipality with id {municipality_id}.")
        service.require_municipality_staff(principal, municipality)
        for line, cells in rows:
            found = await _import_row(repo, actor, municipality_id, header, line, cells)
            if isinstance(found, UsageOut):
                created.append(found)
            else:
                problems += found
            if len(problems) >= MAX_PROBLEMS:
                break
        if problems:
            raise BadRequest(
                f"{len({p['name'].split('.')[0] for p in problems})} row(s) are invalid; "
                "nothing was stored.",
                invalid_params=problems[:MAX_PROBLEMS],
            )
    if dry_run:
        created = []
    return UsageImportReport(dry_run=dry_run, row_count=len(rows), usages=created)


async def _import_row(
    repo: UsageRepository,
    actor: Actor,
    municipality_id: uuid.UUID,
    header: list[str],
    line: int,
    cells: list[str],
) -> UsageOut | list[dict[str, str]]:
    """The usage made from one row (in the import's transaction), or its problems."""
    prefix = f"rows[{line}]."
    if len(cells) != len(header):
        reason = f"{len(cells)} cells where the header has {len(header)} columns"
        return [{"name": f"{prefix}{header[0]}", "reason": reason}]
    fields = {name: value.strip() for name, value in zip(header, cells, strict=True) if name}
    try:
        values, problems = await _row_values(repo, municipality_id, fields)
        if not problems:
            _row, out = await service.insert_usage(repo, actor, values)
            return out
    except BadRequest as exc:
        problems = list(exc.extra.get("invalidParams", []))
    except Conflict as exc:
        problems = [{"name": "facilityId", "reason": exc.detail}]
    return [{"name": prefix + p["name"], "reason": p["reason"]} for p in problems]
