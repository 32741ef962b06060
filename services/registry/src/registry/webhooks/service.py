"""Rules and transactions for webhook subscriptions."""

from __future__ import annotations

import ipaddress
import uuid
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.actor import Actor
from servicekit.auth import Principal
from servicekit.clock import utcnow
from servicekit.errors import BadRequest, Forbidden, NotFound
from servicekit.http import IfMatch
from servicekit.pagination import PageParams
from servicekit.repository import etag_of
from servicekit.schemas import patch_changes

from ..auth import is_operator
from ..changes.service import record_change
from ..config import Settings
from .models import Subscription
from .repository import SubscriptionRepository
from .schemas import (
    DeliveryOut,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionOut,
    SubscriptionPatch,
)
from .secretbox import secret_box
from .signing import new_secret


def to_out(row: Subscription) -> SubscriptionOut:
    return SubscriptionOut.from_row(row, owner_organisation=row.owner_org)


def _internal_address(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return not address.is_global


def check_url(url: str, settings: Settings) -> None:
    parts = urlsplit(url)
    if parts.username or parts.password:
        raise BadRequest(
            "The webhook URL must not contain credentials.",
            invalid_params=[{"name": "url", "reason": "credentials in URL"}],
        )
    production = settings.environment == "production"
    if production and _internal_address(parts.hostname or ""):
        # Literal internal addresses only; names that resolve inward need egress rules.
        raise BadRequest(
            "The webhook URL points to an internal address.",
            invalid_params=[{"name": "url", "reason": "internal address"}],
        )
    allow_http = settings.webhook_allow_http or not production
    if parts.scheme != "https" and not (parts.scheme == "http" and allow_http):
        raise BadRequest(
            "The webhook URL must use https.",
            invalid_params=[{"name": "url", "reason": "https required"}],
        )


def _require_owner(principal: Principal, row: Subscription) -> None:
    if is_operator(principal):
        return
    if not principal.org_id or principal.org_id != row.owner_org:
        # Someone else's subscription is not even visible.
        raise NotFound(f"No subscription with id {row.id}.")


async def create_subscription(
    session: AsyncSession, principal: Principal, data: SubscriptionCreate, settings: Settings
) -> tuple[SubscriptionCreated, str]:
    if not principal.org_id:
        raise Forbidden("Only callers acting for an organisation may subscribe.")
    check_url(data.url, settings)
    secret = new_secret()
    repo = SubscriptionRepository(session)
    async with session.begin():
        # New subscribers receive changes from now on; the past is in GET /v1/events.
        latest = await repo.latest_event()
        now = utcnow()
        row = Subscription(
            owner_org=principal.org_id,
            owner_subject=principal.subject[:200],
            url=data.url,
            secret=secret_box(settings).seal(secret),
            event_types=data.event_types,
            active=True,
            cursor=latest,
            failure_count=0,
            revision=1,
            created_at=now,
            updated_at=now,
        )
        await repo.add(row)
        out = to_out(row)
        await record_change(
            session, Actor.of(principal), entity="subscription", entity_id=row.id,
            action="created", data={"id": str(row.id), "eventTypes": row.event_types},
            publish=False,
        )  # fmt: skip
    created = SubscriptionCreated(**out.model_dump(), secret=secret)
    return created, etag_of(row.id, row.revision)


async def _owned(
    repo: SubscriptionRepository,
    principal: Principal,
    sub_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> Subscription:
    row = await repo.get(sub_id, for_update=for_update)
    _require_owner(principal, row)
    return row


async def get_subscription(
    session: AsyncSession, principal: Principal, sub_id: uuid.UUID
) -> tuple[SubscriptionOut, str]:
    row = await _owned(SubscriptionRepository(session), principal, sub_id)
    return to_out(row), etag_of(row.id, row.revision)


async def list_subscriptions(
    session: AsyncSession, principal: Principal, params: PageParams
) -> tuple[list[SubscriptionOut], int]:
    owner = None if is_operator(principal) else principal.org_id or ""
    rows, total = await SubscriptionRepository(session).list_page(owner, params)
    return [to_out(r) for r in rows], total


async def update_subscription(
    session: AsyncSession,
    principal: Principal,
    sub_id: uuid.UUID,
    patch: SubscriptionPatch,
    if_match: IfMatch,
    settings: Settings,
) -> tuple[SubscriptionOut, str]:
    changes = patch_changes(patch, required=("url", "active"), empty={"event_types": []})
    if "url" in changes:
        check_url(changes["url"], settings)
    if changes.get("active") is True:
        # Re-activating retries right away instead of waiting out the backoff.
        changes["next_attempt_at"] = None
    repo = SubscriptionRepository(session)
    async with session.begin():
        row = await _owned(repo, principal, sub_id, for_update=True)
        if_match(repo.etag(row))
        await repo.save(row, changes)
        out = to_out(row)
        await record_change(
            session, Actor.of(principal), entity="subscription", entity_id=row.id,
            action="updated", data={"id": str(row.id), "active": row.active, "eventTypes": row.event_types},
            publish=False,
        )  # fmt: skip
    return out, etag_of(row.id, row.revision)


async def delete_subscription(
    session: AsyncSession, principal: Principal, sub_id: uuid.UUID
) -> None:
    repo = SubscriptionRepository(session)
    async with session.begin():
        row = await _owned(repo, principal, sub_id, for_update=True)
        await repo.delete(row)
        await record_change(
            session, Actor.of(principal), entity="subscription", entity_id=sub_id,
            action="deleted", data={"id": str(sub_id)},
            publish=False,
        )  # fmt: skip


async def list_deliveries(
    session: AsyncSession, principal: Principal, sub_id: uuid.UUID, params: PageParams
) -> tuple[list[DeliveryOut], int]:
    repo = SubscriptionRepository(session)
    await _owned(repo, principal, sub_id)
    rows, total = await repo.deliveries(sub_id, params)
    return [DeliveryOut.model_validate(r) for r in rows], total
