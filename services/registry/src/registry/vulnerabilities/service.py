"""Rules and transactions for vulnerabilities, and who is exposed to them.

Exposure is derived, never stored: a municipality is exposed to a published
vulnerability while one of its current usages (planned or active) names an affected
version. It is not public: the lists answer only to the municipality itself, the
offering's supplier (per vulnerability) and the platform operator. When a change of a
vulnerability makes municipalities exposed (or no longer), each of them gets a
``nl.samen.registry.exposure.*`` event addressed to it (``audience``: its OIN); the public
feed leaves those out and webhooks deliver them to that municipality's subscriptions only.
A usage added or changed onto (or off) an affected version is announced the same way.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.actor import Actor
from servicekit.auth import Principal
from servicekit.errors import BadRequest, Conflict, Forbidden, NotFound
from servicekit.http import IfMatch
from servicekit.pagination import PageParams
from servicekit.repository import etag_of
from servicekit.schemas import patch_changes

from ..auth import MUNICIPALITY, SUPPLIER, is_operator
from ..changes.service import record_change, record_out
from ..common import duplicate
from ..offerings.service import require_supplier_or_operator
from .cvss import severity, vector_score
from .models import Vulnerability
from .repository import VulnerabilityRepository
from .schemas import (
    AffectedVersionOut,
    ExposureOut,
    VulnerabilityCreate,
    VulnerabilityOut,
    VulnerabilityPatch,
)


@dataclass(frozen=True)
class VulnerabilityFilter:
    offering_id: uuid.UUID | None = None
    cve_id: str | None = None
    status: str | None = None


def to_out(row: Vulnerability, affected: Sequence[tuple[uuid.UUID, str]]) -> VulnerabilityOut:
    return VulnerabilityOut.from_row(
        row,
        severity=severity(row.cvss_score),
        affected_versions=[
            AffectedVersionOut(version_id=v, version=label) for v, label in affected
        ],
    )


async def _owned(
    repo: VulnerabilityRepository, principal: Principal, offering_id: uuid.UUID
) -> None:
    offering = await repo.offering(offering_id)
    if offering is None:
        raise BadRequest(
            "The offering does not exist.",
            invalid_params=[{"name": "offeringId", "reason": "unknown offering"}],
        )
    supplier = await repo.organisation(offering.supplier_id)
    assert supplier is not None
    require_supplier_or_operator(principal, supplier)


async def _versions(
    repo: VulnerabilityRepository, offering_id: uuid.UUID, version_ids: Sequence[uuid.UUID]
) -> list[uuid.UUID]:
    wanted = list(dict.fromkeys(version_ids))
    known = await repo.version_labels(offering_id, wanted)
    unknown = [str(v) for v in wanted if v not in known]
    if unknown:
        raise BadRequest(
            f"Not versions of this offering: {', '.join(unknown)}.",
            invalid_params=[
                {"name": "affectedVersionIds", "reason": "unknown version of this offering"}
            ],
        )
    return wanted


async def _exposed(repo: VulnerabilityRepository, vulnerability_id: uuid.UUID) -> dict[Any, list]:
    """The exposed municipalities (id, OIN) and their exposures."""
    found: dict[Any, list] = defaultdict(list)
    for row in await repo.exposures(vulnerability_id=vulnerability_id):
        found[(row["municipality_id"], row["oin"])].append(row)
    return found


async def _announce(
    session: AsyncSession,
    actor: Actor,
    out: VulnerabilityOut,
    before: dict[Any, list],
    after: dict[Any, list],
) -> None:
    """One addressed event per municipality that became exposed, or is no longer."""
    for action, added, other in (("detected", after, before), ("ended", before, after)):
        for (municipality_id, oin), rows in added.items():
            if (municipality_id, oin) in other:
                continue
            await record_change(
                session, actor, entity="exposure", entity_id=municipality_id, action=action,
                subject_path=f"organisations/{municipality_id}/exposures",
                data={
                    "audience": oin,
                    "municipalityId": str(municipality_id),
                    "vulnerabilityId": str(out.id),
                    "cveId": out.cve_id,
                    "cvssScore": float(out.cvss_score),
                    "severity": out.severity,
                    "offeringId": str(out.offering_id),
                    "fixedInVersion": out.fixed_in_version,
                    "usages": [{"usageId": str(r["usage_id"]), "versionId": str(r["version_id"]),
                                "version": r["version"]} for r in rows],
                },
            )  # fmt: skip


async def _output(repo: VulnerabilityRepository, row: Vulnerability) -> VulnerabilityOut:
    return to_out(row, (await repo.affected([row.id]))[row.id])


def check_score(score: Decimal, vector: str) -> None:
    """The score must be the one its vector gives: a free score could rate a critical
    vector "none" (and ``severity`` follows the score)."""
    expected = vector_score(vector)
    if score != expected:
        raise BadRequest(
            f"cvssScore {score} is not the score of cvssVector ({expected}).",
            invalid_params=[
                {"name": "cvssScore", "reason": f"not the vector's score ({expected})"}
            ],
        )


async def create_vulnerability(
    session: AsyncSession, principal: Principal, data: VulnerabilityCreate
) -> tuple[VulnerabilityOut, str]:
    repo = VulnerabilityRepository(session)
    actor = Actor.of(principal)
    check_score(data.cvss_score, data.cvss_vector)
    async with session.begin():
        await _owned(repo, principal, data.offering_id)
        versions = await _versions(repo, data.offering_id, data.affected_version_ids)
        existing = await repo.published_cve(data.offering_id, data.cve_id)
        if existing is not None:
            raise duplicate(
                f"{data.cve_id} is already recorded for this offering.",
                "cveId",
                "already recorded",
                existing,
            )
        row = await repo.add(
            Vulnerability(**data.model_dump(exclude={"affected_version_ids"}), status="published"),
            conflict=f"{data.cve_id} is already recorded for this offering.",
        )
        await repo.set_affected(row.id, versions)
        out = await _output(repo, row)
        await record_out(session, actor, "vulnerability", "created", out)
        await _announce(session, actor, out, {}, await _exposed(repo, row.id))
    return out, etag_of(row.id, row.revision)


async def get_vulnerability(
    session: AsyncSession, vulnerability_id: uuid.UUID
) -> tuple[VulnerabilityOut, str]:
    repo = VulnerabilityRepository(session)
    row = await repo.get(vulnerability_id)
    return await _output(repo, row), etag_of(row.id, row.revision)


async def list_vulnerabilities(
    session: AsyncSession, filters: VulnerabilityFilter, params: PageParams
) -> tuple[list[VulnerabilityOut], int]:
    repo = VulnerabilityRepository(session)
    rows, total = await repo.list_page(
        {"offering_id": filters.offering_id, "cve_id": filters.cve_id, "status": filters.status},
        params,
    )
    affected = await repo.affected([r.id for r in rows])
    return [to_out(r, affected[r.id]) for r in rows], total


async def _change(
    session: AsyncSession,
    principal: Principal,
    vulnerability_id: uuid.UUID,
    if_match: IfMatch,
    action: str,
    changes: dict[str, Any],
    history: dict[str, Any] | VulnerabilityPatch,
    versions: Sequence[uuid.UUID] | None = None,
) -> tuple[VulnerabilityOut, str]:
    """Apply ``changes`` (and new affected versions) to a published vulnerability, record
    the change and announce whom it exposes or no longer exposes."""
    repo = VulnerabilityRepository(session)
    actor = Actor.of(principal)
    async with session.begin():
        row = await repo.get(vulnerability_id, for_update=True)
        await _owned(repo, principal, row.offering_id)
        if_match(repo.etag(row))
        if row.status == "withdrawn":
            raise Conflict(
                "The vulnerability was withdrawn; record it anew instead.",
                slug="withdrawn",
            )
        if "cvss_score" in changes or "cvss_vector" in changes:
            check_score(
                changes.get("cvss_score", row.cvss_score),
                changes.get("cvss_vector", row.cvss_vector),
            )
        before = await _exposed(repo, row.id)
        if versions is not None:
            await repo.set_affected(row.id, await _versions(repo, row.offering_id, versions))
        await repo.save(row, changes)
        out = await _output(repo, row)
        await record_out(session, actor, "vulnerability", action, out, changes=history)
        await _announce(session, actor, out, before, await _exposed(repo, row.id))
    return out, etag_of(row.id, row.revision)


async def update_vulnerability(
    session: AsyncSession,
    principal: Principal,
    vulnerability_id: uuid.UUID,
    patch: VulnerabilityPatch,
    if_match: IfMatch,
) -> tuple[VulnerabilityOut, str]:
    changes = patch_changes(
        patch, required=("cvss_score", "cvss_vector", "description", "affected_version_ids")
    )
    versions = changes.pop("affected_version_ids", None)
    return await _change(
        session, principal, vulnerability_id, if_match, "updated", changes, patch, versions
    )


async def withdraw_vulnerability(
    session: AsyncSession,
    principal: Principal,
    vulnerability_id: uuid.UUID,
    reason: str,
    if_match: IfMatch,
) -> tuple[VulnerabilityOut, str]:
    return await _change(
        session,
        principal,
        vulnerability_id,
        if_match,
        "withdrawn",
        {"status": "withdrawn", "withdrawal_reason": reason},
        {"status": "withdrawn", "withdrawalReason": reason},
    )


async def exposures_of_usage(session: AsyncSession, usage_id: uuid.UUID) -> dict[Any, list]:
    """The published vulnerabilities a usage is exposed to, with its exposure rows."""
    found: dict[Any, list] = defaultdict(list)
    for row in await VulnerabilityRepository(session).exposures(usage_id=usage_id):
        found[row["vulnerability_id"]].append(row)
    return found


async def exposure_of_municipalities(
    session: AsyncSession, municipality_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, dict[Any, list]]:
    """Per published vulnerability, which of these municipalities (id, OIN) are exposed
    to it, with their exposures."""
    repo = VulnerabilityRepository(session)
    found: dict[uuid.UUID, dict[Any, list]] = defaultdict(lambda: defaultdict(list))
    for municipality_id in municipality_ids:
        for row in await repo.exposures(municipality_id=municipality_id):
            found[row["vulnerability_id"]][(row["municipality_id"], row["oin"])].append(row)
    return found


async def announce_moved_usages(
    session: AsyncSession,
    actor: Actor,
    before: dict[uuid.UUID, dict[Any, list]],
    municipality_ids: Iterable[uuid.UUID],
) -> None:
    """After usages passed between these municipalities (a merger, in the caller's
    transaction), given :func:`exposure_of_municipalities` from before: each hears of the
    vulnerabilities it is now exposed to, or no longer is."""
    repo = VulnerabilityRepository(session)
    after = await exposure_of_municipalities(session, municipality_ids)
    for vulnerability_id in sorted(before.keys() | after.keys()):
        out = await _output(repo, await repo.get(vulnerability_id))
        await _announce(
            session, actor, out, before.get(vulnerability_id, {}), after.get(vulnerability_id, {})
        )


async def announce_usage_change(
    session: AsyncSession, actor: Actor, before: dict[Any, list], usage_id: uuid.UUID
) -> None:
    """After a usage was added or changed (in the caller's transaction): its municipality
    hears of each vulnerability the usage is now exposed to, or no longer is."""
    repo = VulnerabilityRepository(session)
    after = await exposures_of_usage(session, usage_id)
    for vulnerability_id in sorted(before.keys() ^ after.keys()):
        rows = before.get(vulnerability_id) or after[vulnerability_id]
        municipality = {(rows[0]["municipality_id"], rows[0]["oin"]): rows}
        out = await _output(repo, await repo.get(vulnerability_id))
        was = municipality if vulnerability_id in before else {}
        await _announce(session, actor, out, was, municipality if vulnerability_id in after else {})


def _exposure_out(row: Any) -> ExposureOut:
    return ExposureOut.model_validate({**row, "severity": severity(row["cvss_score"])})


async def exposures_of_vulnerability(
    session: AsyncSession, principal: Principal, vulnerability_id: uuid.UUID, params: PageParams
) -> tuple[Sequence[ExposureOut], int]:
    """Everyone exposed, for the operator and the offering's supplier; a municipality
    sees only itself. Read whole (one row per exposed usage), answered a page at a time."""
    repo = VulnerabilityRepository(session)
    row = await repo.get(vulnerability_id)
    only: uuid.UUID | None = None
    if principal.org_type == MUNICIPALITY and principal.org_id:
        municipality = await repo.municipality_by_oin(principal.org_id)
        if municipality is None:
            raise Forbidden("Your organisation is not registered as a municipality.")
        only = municipality.id
    elif principal.org_type == SUPPLIER or is_operator(principal):
        await _owned(repo, principal, row.offering_id)
    else:
        raise Forbidden("Exposure is shown to the municipality, the supplier and the operator.")
    rows = await repo.exposures(vulnerability_id=row.id, municipality_id=only)
    return params.window([_exposure_out(r) for r in rows]), len(rows)


async def exposures_of_municipality(
    session: AsyncSession, principal: Principal, organisation_id: uuid.UUID, params: PageParams
) -> tuple[Sequence[ExposureOut], int]:
    """ "Am I exposed?": for the municipality's own staff and the operator. Read whole,
    answered a page at a time."""
    repo = VulnerabilityRepository(session)
    municipality = await repo.organisation(organisation_id)
    if municipality is None:
        raise NotFound(f"No organisation with id {organisation_id}.")
    if not is_operator(principal):
        own = municipality.type == MUNICIPALITY and principal.acts_for(
            MUNICIPALITY, municipality.oin
        )
        if not own:
            raise Forbidden("Only the municipality itself and the operator see its exposure.")
    rows = await repo.exposures(municipality_id=municipality.id)
    return params.window([_exposure_out(r) for r in rows]), len(rows)
