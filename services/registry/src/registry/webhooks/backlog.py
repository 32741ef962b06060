"""How far webhook deliveries are behind the outbox, for the registry's /metrics: the
events the furthest-behind active subscription has yet to get, and how many active
subscriptions are failing. Measured every ``interval`` seconds by the dispatcher's
process (alerts: deploy/k8s/overlays/production/monitoring/prometheusrule.yaml)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from servicekit.db import Database

from ..db import event_outbox
from .models import Subscription

logger = logging.getLogger("registry.webhooks")


@dataclass
class WebhookBacklog:
    events: int = 0
    failing: int = 0
    measured: bool = False

    async def measure(self, database: Database) -> None:
        async with database.sessionmaker() as session:
            latest = (await session.execute(select(func.max(event_outbox.c.sequence)))).scalar()
            oldest, failing = (
                await session.execute(
                    select(
                        func.min(Subscription.cursor),
                        func.count().filter(Subscription.failure_count > 0),
                    ).where(Subscription.active.is_(True))
                )
            ).one()
        self.events = max(0, int(latest or 0) - int(oldest)) if oldest is not None else 0
        self.failing = int(failing or 0)
        self.measured = True

    async def watch(self, database: Database, stop: asyncio.Event, interval: float) -> None:
        while not stop.is_set():
            try:
                await self.measure(database)
            except Exception as exc:  # a failed measurement keeps the last figures
                logger.warning("webhook backlog not measured: %s", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)


class WebhookBacklogCollector(Collector):
    def __init__(self, backlog: WebhookBacklog) -> None:
        self.backlog = backlog

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if not self.backlog.measured:
            return
        yield GaugeMetricFamily(
            "registry_webhook_backlog_events",
            "Outbox events the furthest-behind active webhook subscription has yet to get",
            value=self.backlog.events,
        )
        yield GaugeMetricFamily(
            "registry_webhook_failing_subscriptions",
            "Active webhook subscriptions whose last delivery failed",
            value=self.backlog.failing,
        )
