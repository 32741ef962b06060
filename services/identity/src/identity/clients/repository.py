"""Every query of the client registry and of client authentication's one-time ids."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, bindparam, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from servicekit.db import Database

from .models import Client, UsedJti

CLIENTS: Table = Client.__table__  # type: ignore[attr-defined]
USED_JTIS: Table = UsedJti.__table__  # type: ignore[attr-defined]
_REDIRECT_URIS = select(CLIENTS.c.redirect_uris)
_BY_CLIENT_ID = select(CLIENTS).where(CLIENTS.c.client_id == bindparam("client_id"))


def insert_ignoring_duplicates(table: Table, dialect: str) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING`` in the database's dialect (same SQL on both)."""
    module: Any = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table).on_conflict_do_nothing()


async def by_client_id(database: Database, client_id: str) -> Client | None:
    rows = await database.fetch(_BY_CLIENT_ID, {"client_id": client_id})
    return Client(**dict(rows[0])) if rows else None


async def redirect_uris(database: Database) -> list[list[str]]:
    """Every client's redirect URIs (the OP's CORS origins derive from them)."""
    rows = await database.fetch(_REDIRECT_URIS)
    # asyncpg hands JSON over as text.
    values = [r["redirect_uris"] for r in rows]
    return [json.loads(v) if isinstance(v, str) else list(v or []) for v in values]


async def by_client_id_in(session: AsyncSession, client_id: str) -> Client | None:
    query = select(Client).where(col(Client.client_id) == client_id)
    return (await session.execute(query)).scalar_one_or_none()


async def get(session: AsyncSession, client_uuid: uuid.UUID, lock: bool = False) -> Client | None:
    return await session.get(Client, client_uuid, with_for_update=lock)


async def page(
    session: AsyncSession, offset: int, limit: int, grant_type: str | None
) -> tuple[list[Client], int]:
    query = select(Client)
    count = select(func.count()).select_from(Client)
    if grant_type:
        query = query.where(col(Client.grant_type) == grant_type)
        count = count.where(col(Client.grant_type) == grant_type)
    total = (await session.execute(count)).scalar_one()
    ordered = query.order_by(col(Client.client_id)).offset(offset).limit(limit)
    rows = (await session.execute(ordered)).scalars().all()
    return list(rows), int(total)


async def record_jtis(
    database: Database, rows: Sequence[dict[str, Any]]
) -> set[tuple[str, str, str]]:
    """Insert one-time ids in one statement; the (kind, issuer, jti) of those that were
    new. One not returned was recorded before: the unique constraint decides, in the
    database every worker shares."""
    if database.engine.dialect.name == "postgresql":
        # One prepared statement for any batch size (a multi-row VALUES is another
        # statement per size).
        columns: dict[str, list[Any]] = {name: [] for name in _JTI_COLUMNS}
        for row in rows:
            for name in _JTI_COLUMNS:
                columns[name].append(row[name])
        records = await database.execute(_INSERT_JTIS, columns)
    else:
        statement = (
            insert_ignoring_duplicates(USED_JTIS, "sqlite")
            .values(list(rows))
            .returning(USED_JTIS.c.kind, USED_JTIS.c.issuer, USED_JTIS.c.jti)
        )
        records = await database.execute(statement)
    return {(r["kind"], r["issuer"], r["jti"]) for r in records}


_JTI_COLUMNS = ("id", "kind", "issuer", "jti", "expires_at")
_INSERT_JTIS = text(
    "INSERT INTO used_jtis (id, kind, issuer, jti, expires_at) "
    "SELECT * FROM unnest(CAST(:id AS uuid[]), CAST(:kind AS varchar[]), "
    "CAST(:issuer AS varchar[]), CAST(:jti AS varchar[]), CAST(:expires_at AS timestamptz[])) "
    "ON CONFLICT DO NOTHING RETURNING kind, issuer, jti"
)
