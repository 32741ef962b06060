"""Every query of webhook subscriptions and their deliveries (the dispatcher's own
statements stay with it)."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from servicekit.pagination import PageParams
from servicekit.repository import Repository

from ..db import event_outbox
from .models import Delivery, Subscription


class SubscriptionRepository(Repository[Subscription]):
    model = Subscription
    label = "subscription"

    async def latest_event(self) -> int:
        """The change feed's newest sequence number (0 when empty)."""
        latest = (await self.session.execute(select(func.max(event_outbox.c.sequence)))).scalar()
        return int(latest or 0)

    async def list_page(
        self, owner_org: str | None, params: PageParams
    ) -> tuple[list[Subscription], int]:
        """Subscriptions, oldest first; ``owner_org``: only that organisation's."""
        query = select(Subscription)
        if owner_org is not None:
            query = query.where(Subscription.owner_org == owner_org)
        return await self.page(query, params, Subscription.created_at, Subscription.id)

    async def deliveries(self, sub_id: uuid.UUID, params: PageParams) -> tuple[list[Delivery], int]:
        query = select(Delivery).where(Delivery.subscription_id == sub_id)
        return await self.page(
            query,
            params,
            Delivery.at.desc(),
            Delivery.event_sequence.desc(),
            Delivery.attempt.desc(),
        )
