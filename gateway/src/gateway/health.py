"""The gateway's own pages: health and metrics.

``/health/ready`` says whether this process can serve: it is started and not shutting
down. It never asks an upstream or Redis, so one failing service cannot take every
gateway replica out of the load balancer (and with them every other service).
``/health/details`` reports each dependency (upstream liveness and circuit breaker, the
rate-limit store, identity's revocation feed) for people and monitoring; it is not meant
for the public ingress.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from servicekit.errors import NotFound

from . import API_VERSION
from .exchange import Exchange, Send
from .metrics import GatewayMetrics
from .respond import NO_RESOURCE, Responder
from .upstream import Upstream

HEALTH_JSON = b"application/health+json"
LOCAL_PATHS = ("/health/", "/metrics")
Check = Callable[[], Awaitable[None]]
CHECK_SECONDS = 2.0


class LocalPages:
    def __init__(
        self,
        responder: Responder,
        metrics: GatewayMetrics,
        upstreams: dict[str, Upstream],
        dependencies: dict[str, Check],
        states: Callable[[], dict[str, dict[str, Any]]] = dict,
    ) -> None:
        self.responder = responder
        self.metrics = metrics
        self.upstreams = upstreams
        self.dependencies = dependencies
        # States this process already knows (the revocation feed's), not probed per request.
        self.states = states
        self.serving = False  # between start-up and shut-down

    async def handle(self, ex: Exchange, send: Send) -> None:
        ex.route_name = "local"
        respond = self.responder
        if ex.method not in ("GET", "HEAD"):
            await respond.not_allowed(ex, send, ["GET", "HEAD"])
        elif ex.path == "/health/live":
            await respond.json(ex, send, 200, HEALTH_JSON, status_doc(True))
        elif ex.path == "/health/ready":
            ready = self.serving
            await respond.json(ex, send, 200 if ready else 503, HEALTH_JSON, status_doc(ready))
        elif ex.path == "/health/details":
            checks = await self.details()
            overall = overall_status(checks)
            doc = {"status": overall, "version": API_VERSION, "checks": checks}
            await respond.json(ex, send, 503 if overall == "fail" else 200, HEALTH_JSON, doc)
        elif ex.path == "/metrics":
            ctype = self.metrics.content_type.encode()
            await respond.send(ex, send, 200, [(b"content-type", ctype)], self.metrics.render())
        else:
            await respond.problem(ex, send, NotFound(NO_RESOURCE))

    async def details(self) -> dict[str, dict[str, Any]]:
        """Every upstream's and dependency's state, checked at once."""
        names = [*self.upstreams, *self.dependencies]
        results = await asyncio.gather(
            *(u.probe() for u in self.upstreams.values()),
            *(run_check(c) for c in self.dependencies.values()),
        )
        return {**dict(zip(names, results, strict=True)), **self.states()}


def overall_status(checks: dict[str, dict[str, Any]]) -> str:
    """A failed check fails the whole (503); a warning (the revocation feed working on its
    last list) is reported as such, with 200, as the services do."""
    states = {check["status"] for check in checks.values()}
    return "fail" if "fail" in states else "warn" if "warn" in states else "pass"


def status_doc(ok: bool) -> dict[str, str]:
    return {"status": "pass" if ok else "fail", "version": API_VERSION}


async def run_check(check: Check) -> dict[str, str]:
    try:
        await asyncio.wait_for(check(), CHECK_SECONDS)
    except Exception as exc:  # any failure is a failed check; say which, not why
        return {"status": "fail", "output": type(exc).__name__}
    return {"status": "pass"}
