"""A FastAPI app around a router of servicekit.routes declarations, for its tests: problem
answers as in the services, a session that is only a marker, no Idempotency-Key store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
from fastapi import APIRouter, FastAPI, Request, Response

from servicekit.db import get_session
from servicekit.errors import install_problem_handlers


class PassThroughStore:
    """No Idempotency-Key is sent in these tests; the store only runs the handler."""

    async def run(
        self, request: Request, owner: str, handler: Callable[[], Awaitable[Response]]
    ) -> Response:
        return await handler()


@asynccontextmanager
async def serve(router: APIRouter) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app holding ``router``; the service functions get "the-session"."""
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(router)
    app.state.idempotency = PassThroughStore()

    async def session() -> AsyncIterator[str]:
        yield "the-session"

    app.dependency_overrides[get_session] = session
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as http:
        http.app = app  # type: ignore[attr-defined]
        yield http
