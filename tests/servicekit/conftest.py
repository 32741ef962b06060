"""A small demo service built with create_service_app, to test the kit end to end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, Request, Security
from fastapi.responses import JSONResponse
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select, update

from servicekit.app import create_service_app
from servicekit.auth import Principal, make_auth, require_scopes
from servicekit.db import Database, SessionDep
from servicekit.errors import Conflict, NotFound, TooManyRequests
from servicekit.events import events_router, outbox_table, record_event
from servicekit.http import json_router, make_etag, require_if_match
from servicekit.idempotency import IdempotencyStore, idempotency_table
from servicekit.pagination import PageParams, make_page, page_params
from servicekit.schemas import ApiModel
from servicekit.settings import ServiceSettings
from servicekit.testing import TestIssuer, clear_tables, fresh_database_url

metadata = MetaData()
widgets = Table(
    "widgets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False),
    Column("version", Integer, nullable=False, default=1),
)
keys = idempotency_table(metadata)
outbox = outbox_table(metadata)

auth = make_auth("/auth/token", {"demo:read": "read", "demo:write": "write"})


class WidgetIn(ApiModel):
    name: str
    display_name: str | None = None


def demo_router() -> APIRouter:
    router = json_router("widgets")

    @router.get("/v1/widgets", operation_id="listWidgets", summary="List widgets")
    async def list_widgets(
        request: Request,
        session: SessionDep,
        params: Annotated[PageParams, Depends(page_params)],
        _p: Annotated[Principal, Security(auth, scopes=["demo:read"])],
        q: str | None = None,
    ) -> dict[str, Any]:
        query = select(widgets).order_by(widgets.c.id)
        if q:
            query = query.where(widgets.c.name.contains(q))
        total = (
            await session.execute(select(func.count()).select_from(query.subquery()))
        ).scalar_one()
        rows = (await session.execute(query.offset(params.offset).limit(params.page_size))).all()
        return make_page(request, [{"id": r.id, "name": r.name} for r in rows], total, params)

    @router.post(
        "/v1/widgets", operation_id="createWidget", summary="Create a widget", status_code=201
    )
    async def create_widget(
        request: Request,
        body: WidgetIn,
        principal: Annotated[Principal, Security(auth, scopes=["demo:write"])],
    ) -> JSONResponse:
        store: IdempotencyStore = request.app.state.idempotency

        async def handler() -> JSONResponse:
            gate: asyncio.Event | None = getattr(request.app.state, "gate", None)
            if gate is not None:
                await gate.wait()
            if body.name == "boom":
                raise Conflict("boom is taken")
            database: Database = request.app.state.database
            async with database.sessionmaker() as session, session.begin():
                result = await session.execute(insert(widgets).values(name=body.name, version=1))
                new_id = result.inserted_primary_key[0]
                await record_event(
                    session,
                    outbox,
                    type="nl.samen.demo.widget.created",
                    source="/demo",
                    subject=str(new_id),
                    data={"name": body.name},
                )
                if body.name == "rollback":
                    raise RuntimeError("database internals: secret")
            return JSONResponse(
                {"id": new_id, "name": body.name},
                status_code=201,
                headers={"Location": f"/v1/widgets/{new_id}", "ETag": make_etag(new_id, 1)},
            )

        return await store.run(request, principal.subject, handler)

    @router.get("/v1/widgets/{widget_id}", operation_id="getWidget", summary="Read a widget")
    async def get_widget(
        widget_id: int,
        session: SessionDep,
        _p: Annotated[Principal, Security(auth, scopes=["demo:read"])],
    ) -> JSONResponse:
        row = (
            await session.execute(select(widgets).where(widgets.c.id == widget_id))
        ).one_or_none()
        if row is None:
            raise NotFound(f"No widget {widget_id}")
        return JSONResponse(
            {"id": row.id, "name": row.name}, headers={"ETag": make_etag(row.id, row.version)}
        )

    @router.put("/v1/widgets/{widget_id}", operation_id="replaceWidget", summary="Replace a widget")
    async def replace_widget(
        widget_id: int,
        body: WidgetIn,
        request: Request,
        session: SessionDep,
        _p: Annotated[Principal, Security(auth, scopes=["demo:write"])],
    ) -> JSONResponse:
        async with session.begin():
            row = (
                await session.execute(select(widgets).where(widgets.c.id == widget_id))
            ).one_or_none()
            if row is None:
                raise NotFound(f"No widget {widget_id}")
            require_if_match(request, make_etag(row.id, row.version))
            await session.execute(
                update(widgets)
                .where(widgets.c.id == widget_id)
                .values(name=body.name, version=row.version + 1)
            )
        return JSONResponse(
            {"id": widget_id, "name": body.name},
            headers={"ETag": make_etag(widget_id, row.version + 1)},
        )

    @router.delete(
        "/v1/widgets/{widget_id}",
        operation_id="deleteWidget",
        summary="Delete a widget",
        status_code=204,
    )
    async def delete_widget(
        widget_id: int,
        session: SessionDep,
        _p: Principal = require_scopes(auth, "demo:write", "demo:delete"),
    ) -> None:
        async with session.begin():
            await session.execute(widgets.delete().where(widgets.c.id == widget_id))

    @router.get("/v1/crash", operation_id="crash", summary="Fails unexpectedly")
    async def crash() -> None:
        raise RuntimeError("password=hunter2 at db.internal:5432")

    @router.get("/v1/throttled", operation_id="throttled", summary="Always throttled")
    async def throttled() -> None:
        raise TooManyRequests("slow down", retry_after=7)

    return router


@pytest.fixture(scope="session")
async def demo_database(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    async with fresh_database_url("kit", tmp_path_factory.mktemp("kit")) as url:
        database = Database(url)
        async with database.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        yield database
        await database.dispose()


@pytest.fixture(scope="session")
def spans() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
async def demo_app(
    demo_database: Database, issuer: TestIssuer, spans: InMemorySpanExporter
) -> AsyncIterator[Any]:
    settings = ServiceSettings(environment="test", max_body_bytes=2048, log_json=True)
    app = create_service_app(
        service="demo",
        title="Demo API",
        version="1.2.3",
        description="Demo service for the kit's tests",
        settings=settings,
        routers=[demo_router(), events_router(outbox, auth, "demo:read")],
        database=demo_database,
        token_verifier=issuer.verifier(),
        span_processors=[SimpleSpanProcessor(spans)],
    )
    app.state.idempotency = IdempotencyStore(keys, demo_database.sessionmaker)
    yield app
    await clear_tables(demo_database, metadata)


@pytest.fixture
async def client(demo_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=demo_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://demo") as c:
        yield c


@pytest.fixture
def reader(issuer: TestIssuer) -> dict[str, str]:
    return issuer.headers(scopes=["demo:read"])


@pytest.fixture
def writer(issuer: TestIssuer) -> dict[str, str]:
    return issuer.headers(scopes=["demo:read", "demo:write"])
