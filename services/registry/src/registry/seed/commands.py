"""``python -m registry import-municipalities FILE`` and ``python -m registry seed``.

Both are idempotent: organisations are matched on their natural key (CBS code, KvK
number, OIN, facility slug …), created when missing, updated when changed and left alone
otherwise. Every change gets its history row and change-feed event in the same
transaction, like a change through the API (actor ``system:registry``).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.clock import utcnow
from servicekit.db import Database, opened
from servicekit.migrations import upgrade

from .. import identifiers
from ..changes.service import SYSTEM, record_change
from ..config import Settings
from ..db import load_models
from ..organisations.models import Organisation, OrganisationMember
from ..organisations.schemas import OrganisationOut
from ..organisations.service import member_ids_of
from ..organisations.service import to_out as org_out
from .catalogue import Counts, seed_catalogue
from .landscape import seed_landscape

PROVINCES = {
    "Drenthe", "Flevoland", "Fryslân", "Gelderland", "Groningen", "Limburg", "Noord-Brabant",
    "Noord-Holland", "Overijssel", "Utrecht", "Zeeland", "Zuid-Holland",
}  # fmt: skip


class ImportError_(ValueError):
    """The input file has invalid rows; nothing was written."""


def read_municipalities(lines: list[str]) -> list[dict[str, str]]:
    """Parse and validate the CSV (columns cbs_code, name, province); all rows or none."""
    reader = csv.DictReader(lines)
    missing = {"cbs_code", "name", "province"} - set(reader.fieldnames or [])
    if missing:
        raise ImportError_(f"missing columns: {', '.join(sorted(missing))}")
    rows, problems, seen = [], [], set()
    for number, raw in enumerate(reader, start=2):
        try:
            code = identifiers.cbs_code(raw.get("cbs_code") or "")
        except identifiers.InvalidIdentifier as exc:
            problems.append(f"line {number}: cbs_code: {exc}")
            continue
        name = (raw.get("name") or "").strip()
        province = (raw.get("province") or "").strip()
        if not name or len(name) > 200:
            problems.append(f"line {number}: name: 1 to 200 characters")
        if province not in PROVINCES:
            problems.append(f"line {number}: province: unknown province {province!r}")
        if code in seen:
            problems.append(f"line {number}: cbs_code: {code} appears twice")
        seen.add(code)
        rows.append({"cbs_code": code, "name": name, "province": province})
    if problems:
        raise ImportError_("; ".join(problems[:20]))
    return rows


async def _upsert_org(
    session: AsyncSession, key: tuple[str, str], values: dict[str, Any], counts: Counts
) -> Organisation:
    """Find the organisation of this type by its natural key; create or update it."""
    org_type = values["type"]
    column = getattr(Organisation, key[0])
    org = (
        await session.execute(
            select(Organisation).where(Organisation.type == org_type, column == key[1])
        )
    ).scalar_one_or_none()
    now = utcnow()
    if org is None:
        org = Organisation(**values, revision=1, created_at=now, updated_at=now)
        session.add(org)
        await session.flush()
        action = "created"
        counts.created += 1
    else:
        changed = {k: v for k, v in values.items() if getattr(org, k) != v}
        if not changed:
            counts.unchanged += 1
            return org
        for k, v in changed.items():
            setattr(org, k, v)
        org.revision += 1
        org.updated_at = now
        await session.flush()
        action = "updated"
        counts.updated += 1
    members = await member_ids_of(session, [org.id])
    out: OrganisationOut = org_out(org, members.get(org.id, []))
    await record_change(
        session,
        SYSTEM,
        entity="organisation",
        entity_id=org.id,
        action=action,
        data=out.model_dump(mode="json", by_alias=True),
    )
    return org


async def import_municipalities(session: AsyncSession, rows: list[dict[str, str]]) -> Counts:
    counts = Counts()
    async with session.begin():
        for row in rows:
            await _upsert_org(
                session, ("cbs_code", row["cbs_code"]), {"type": "municipality", **row}, counts
            )
    return counts


def _org_values(item: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {"type": item["type"], "name": item["name"]}
    if "cbsCode" in item:
        values["cbs_code"] = identifiers.cbs_code(item["cbsCode"])
    if "oin" in item:
        values["oin"] = identifiers.oin(item["oin"])
    if "kvkNumber" in item:
        values["kvk_number"] = identifiers.kvk_number(item["kvkNumber"])
    if "province" in item:
        values["province"] = item["province"]
    return values


async def _seed_organisations(session: AsyncSession, demo: dict[str, Any], counts: Counts) -> None:
    operator = demo["operator"]
    await _upsert_org(session, ("oin", operator["oin"]), _org_values(operator), counts)
    for item in demo["municipalities"]:
        await _upsert_org(session, ("cbs_code", item["cbsCode"]), _org_values(item), counts)
    for item in demo["suppliers"]:
        await _upsert_org(session, ("kvk_number", item["kvkNumber"]), _org_values(item), counts)
    for item in demo["cooperations"]:
        coop = await _upsert_org(session, ("oin", item["oin"]), _org_values(item), counts)
        wanted = set(
            (
                await session.execute(
                    select(Organisation.id).where(
                        Organisation.type == "municipality",
                        Organisation.cbs_code.in_(item["memberCbsCodes"]),
                    )
                )
            ).scalars()
        )
        current = set((await member_ids_of(session, [coop.id])).get(coop.id, []))
        if wanted != current:
            await session.execute(
                delete(OrganisationMember).where(OrganisationMember.cooperation_id == coop.id)
            )
            for member_id in sorted(wanted):
                session.add(OrganisationMember(cooperation_id=coop.id, member_id=member_id))
            await session.flush()
            out = org_out(coop, sorted(wanted))
            await record_change(
                session,
                SYSTEM,
                entity="organisation",
                entity_id=coop.id,
                action="updated",
                data=out.model_dump(mode="json", by_alias=True),
                changes={"memberIds": [str(m) for m in sorted(wanted)]},
            )


def _data(name: str) -> str:
    return resources.files("registry.seed").joinpath(name).read_text(encoding="utf-8")


def demo_organisations() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(_data("demo_organisations.json"))
    return data


async def seed(session: AsyncSession) -> tuple[Counts, Counts]:
    """All 342 municipalities, then the demo organisations and catalogue (one transaction)."""
    municipalities = await import_municipalities(
        session, read_municipalities(_data("municipalities.csv").splitlines())
    )
    counts = Counts()
    catalogue = json.loads(_data("catalogue.json"))
    landscape = json.loads(_data("landscape.json"))
    for part in ("offerings", "usages"):
        catalogue[part] += landscape[part]
    async with session.begin():
        await _seed_organisations(session, demo_organisations(), counts)
        offerings = await seed_catalogue(session, demo_organisations(), catalogue, counts)
        await seed_landscape(session, landscape, offerings, counts)
    return municipalities, counts


@asynccontextmanager
async def migrated(settings: Settings) -> AsyncIterator[Database]:
    """The registry's database, migrated to head, for one command."""
    load_models()
    url = settings.database_url_of("registry")
    # Alembic's env runs its own event loop, so migrate from a worker thread.
    await asyncio.to_thread(upgrade, "registry.migrations", url)
    async with opened(url) as database:
        yield database


async def import_command(settings: Any, args: argparse.Namespace) -> None:
    path = Path(args.file)
    try:
        text = await asyncio.to_thread(path.read_text, encoding="utf-8-sig")
        rows = read_municipalities(text.splitlines())
    except (OSError, ImportError_) as exc:
        print(f"registry: import failed, nothing written: {exc}", file=sys.stderr)
        raise SystemExit(1) from exc
    async with migrated(settings) as database, database.sessionmaker() as session:
        counts = await import_municipalities(session, rows)
    print(f"registry: municipalities imported from {path}: {counts}")


async def seed_command(settings: Any, _args: argparse.Namespace) -> None:
    async with migrated(settings) as database, database.sessionmaker() as session:
        municipalities, demo = await seed(session)
    print(f"registry: seeded municipalities ({municipalities}); demo data ({demo})")


async def _rotate_webhook_key(settings: Any, args: argparse.Namespace) -> None:
    from ..webhooks.rotation import rotate_webhook_key_command

    await rotate_webhook_key_command(settings, args)


def configure_import(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="CSV with columns cbs_code,name,province")


COMMANDS = {
    "import-municipalities": (
        "load municipalities from a CSV file (cbs_code,name,province); idempotent",
        import_command,
        configure_import,
    ),
    "seed": (
        "load the 342 municipalities and the demo organisations and catalogue; idempotent",
        seed_command,
        None,
    ),
    "rotate-webhook-key": (
        "re-seal every stored webhook secret with REGISTRY_WEBHOOK_SECRET_KEY (all or nothing)",
        _rotate_webhook_key,
        None,
    ),
}
