"""`python -m registry rotate-webhook-key`: re-seal every stored webhook secret with the
current ``REGISTRY_WEBHOOK_SECRET_KEY``, so the previous keys can be dropped afterwards.

All or nothing: one transaction; a secret that no configured key opens stops the command
before anything is written.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Subscription
from .secretbox import SecretBox, SecretUnreadable, secret_box


async def reseal_all(session: AsyncSession, box: SecretBox) -> int:
    """Re-seal every subscription's secret in the session's transaction; returns how many."""
    rows = (await session.execute(select(Subscription.id, Subscription.secret))).all()
    resealed = [(row_id, box.reseal(stored)) for row_id, stored in rows]
    for row_id, sealed in resealed:
        await session.execute(
            update(Subscription).where(Subscription.id == row_id).values(secret=sealed)
        )
    return len(resealed)


async def rotate_webhook_key_command(settings: Any, _args: argparse.Namespace) -> None:
    from ..seed.commands import migrated

    try:
        async with (
            migrated(settings) as database,
            database.sessionmaker() as session,
            session.begin(),
        ):
            count = await reseal_all(session, secret_box(settings))
    except SecretUnreadable as exc:
        print(
            f"registry: nothing changed: a webhook secret cannot be opened ({exc})", file=sys.stderr
        )
        raise SystemExit(1) from exc
    print(f"registry: {count} webhook secrets sealed with the current key")
