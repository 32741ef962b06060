"""Liveness, readiness and details (``/health/live``, ``/health/ready``, ``/health/details``).

Ready means this process can serve: its own database answers (and its schema is current).
It never depends on another service or on Redis: a failing dependency would otherwise take
every replica of this part out of the load balancer at once. The state of the dependencies
(other services, identity's keys, the revocation feed) is in ``/health/details`` and in the
``service_dependency_up`` metric, probed in the background; neither is reachable through the
public ingress (deploy/README.md)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

logger = logging.getLogger("servicekit.health")

ReadyCheck = Callable[[], Awaitable[None]]
HEALTH_JSON = "application/health+json"
# Seconds between two background probes of the dependencies (for the metric).
PROBE_INTERVAL = 30.0


class DependencyDown(Exception):
    """A dependency answered, but not with success."""


def http_check(url: str, timeout: float = 2.0) -> ReadyCheck:
    """A dependency check: ``GET url`` answers 2xx within ``timeout`` seconds."""

    async def check() -> None:
        async with httpx.AsyncClient(timeout=timeout) as client:
            response = await client.get(url)
        if not response.is_success:
            raise DependencyDown(f"HTTP {response.status_code}")

    return check


async def run_checks(
    checks: dict[str, ReadyCheck], seconds_each: float
) -> dict[str, dict[str, str]]:
    """Every check at once; each ``pass`` or ``fail`` with the error's type (never its
    message: a driver's message can quote a URL with its password)."""
    results: dict[str, dict[str, str]] = {}

    async def run(name: str, check: ReadyCheck) -> None:
        try:
            await asyncio.wait_for(check(), seconds_each)
            results[name] = {"status": "pass"}
        except DependencyDown as exc:
            results[name] = {"status": "fail", "output": str(exc)}
        except Exception as exc:  # any failure counts; say which, not why
            results[name] = {"status": "fail", "output": type(exc).__name__}

    await asyncio.gather(*(run(n, c) for n, c in checks.items()))
    return results


class Dependencies:
    """The other parts this one calls: probed for ``/health/details`` and in the background
    (every ``PROBE_INTERVAL`` s) for the ``service_dependency_up`` gauge."""

    def __init__(self, checks: dict[str, ReadyCheck], timeout: float = 3.0) -> None:
        self.checks = dict(checks)
        self.timeout = timeout
        self.last: dict[str, dict[str, str]] = {}

    async def probe(self) -> dict[str, dict[str, str]]:
        results = await run_checks(self.checks, self.timeout)
        self.last = results
        for name, result in results.items():
            if result["status"] != "pass":
                logger.info("dependency %s is down: %s", name, result.get("output"))
        return results

    async def run_forever(self, interval: float = PROBE_INTERVAL) -> None:
        while True:
            await self.probe()
            await asyncio.sleep(interval)

    def collector(self) -> Collector:
        dependencies = self

        class DependencyCollector(Collector):
            def collect(self) -> Iterator[GaugeMetricFamily]:
                gauge = GaugeMetricFamily(
                    "service_dependency_up",
                    "1 when the dependency answered the last background probe, else 0",
                    labels=["dependency"],
                )
                for name in dependencies.checks:
                    status = dependencies.last.get(name, {}).get("status")
                    if status is not None:
                        gauge.add_metric([name], 1.0 if status == "pass" else 0.0)
                yield gauge

        return DependencyCollector()


def health_router(
    checks: dict[str, ReadyCheck],
    version: str,
    timeout: float = 3.0,
    dependencies: Dependencies | None = None,
    details: Callable[[], dict[str, dict[str, Any]]] | None = None,
) -> APIRouter:
    """``checks``: what readiness needs (this process's own database); ``dependencies`` and
    ``details`` (extra entries, e.g. the revocation feed) only inform ``/health/details``."""
    router = APIRouter(include_in_schema=False)

    async def readiness(request: Request) -> dict[str, dict[str, str]]:
        all_checks = dict(checks)
        all_checks.update(getattr(request.app.state, "ready_checks", {}))
        results = await run_checks(all_checks, timeout)
        for name, result in results.items():
            if result["status"] != "pass":
                logger.warning("readiness check %s failed: %s", name, result.get("output"))
        return results

    @router.get("/health/live")
    async def live() -> JSONResponse:
        return JSONResponse({"status": "pass", "version": version}, media_type=HEALTH_JSON)

    @router.get("/health/ready")
    async def ready(request: Request) -> JSONResponse:
        results = await readiness(request)
        ok = all(r["status"] == "pass" for r in results.values())
        return JSONResponse(
            {"status": "pass" if ok else "fail", "version": version, "checks": results},
            status_code=200 if ok else 503,
            media_type=HEALTH_JSON,
        )

    @router.get("/health/details")
    async def health_details(request: Request) -> JSONResponse:
        """Readiness plus the dependencies: 200 while ready (``warn`` when a dependency
        is down), 503 when not ready."""
        own, others = await asyncio.gather(
            readiness(request),
            dependencies.probe() if dependencies else asyncio.sleep(0, result={}),
        )
        ok = all(r["status"] == "pass" for r in own.values())
        entries: dict[str, dict[str, Any]] = {**own}
        entries.update({f"dependency:{name}": result for name, result in others.items()})
        entries.update(details() if details else {})
        degraded = any(e.get("status") != "pass" for e in entries.values())
        status = "fail" if not ok else "warn" if degraded else "pass"
        return JSONResponse(
            {"status": status, "version": version, "checks": entries},
            status_code=200 if ok else 503,
            media_type=HEALTH_JSON,
        )

    return router
