"""Liveness and readiness (``/health/live``, ``/health/ready``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

logger = logging.getLogger("servicekit.health")

ReadyCheck = Callable[[], Awaitable[None]]
HEALTH_JSON = "application/health+json"


def health_router(checks: dict[str, ReadyCheck], version: str, timeout: float = 3.0) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/health/live")
    async def live() -> JSONResponse:
        return JSONResponse({"status": "pass", "version": version}, media_type=HEALTH_JSON)

    @router.get("/health/ready")
    async def ready(request: Request) -> JSONResponse:
        results: dict[str, dict[str, str]] = {}

        async def run(name: str, check: ReadyCheck) -> None:
            try:
                await asyncio.wait_for(check(), timeout)
                results[name] = {"status": "pass"}
            except Exception as exc:  # any failure means not ready; say which, not why
                logger.warning("readiness check %s failed: %s", name, type(exc).__name__)
                results[name] = {"status": "fail", "output": type(exc).__name__}

        all_checks = dict(checks)
        all_checks.update(getattr(request.app.state, "ready_checks", {}))
        await asyncio.gather(*(run(n, c) for n, c in all_checks.items()))
        ok = all(r["status"] == "pass" for r in results.values())
        return JSONResponse(
            {"status": "pass" if ok else "fail", "version": version, "checks": results},
            status_code=200 if ok else 503,
            media_type=HEALTH_JSON,
        )

    return router
