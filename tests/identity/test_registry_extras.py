"""Client keys by jwks_uri, append-only history rows, and the purge of expired state."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from idkit import RP, client_key
from joserfc.jwk import KeySet
from sqlalchemy import insert, select, update
from sqlmodel import col

from identity.audit.models import AuditEvent
from identity.authorization.models import AuthorizationRequest
from identity.clients.models import Client, UsedJti
from identity.db import idempotency_keys
from identity.maintenance import purge_expired
from servicekit.clock import utcnow
from servicekit.idempotency import TTL as IDEMPOTENCY_TTL


async def test_private_key_jwt_with_jwks_uri(
    http: httpx.AsyncClient, register: Any, app: Any
) -> None:
    key = client_key(2)
    fetches: list[str] = []

    def serve(request: httpx.Request) -> httpx.Response:
        fetches.append(str(request.url))
        if request.url.host == "keys.example.nl":
            return httpx.Response(200, json=dict(KeySet([key]).as_dict(private=False)))
        return httpx.Response(404)

    authenticator = app.state.identity.client_auth
    original = authenticator.http
    authenticator.http = httpx.AsyncClient(transport=httpx.MockTransport(serve))
    try:
        rp: RP = await register(
            grant_type="client_credentials", jwks_uri="https://keys.example.nl/jwks.json"
        )
        rp.key = key
        for _ in range(2):
            data, _ = rp.auth({"grant_type": "client_credentials"})
            response = await http.post("/auth/token", data=data)
            assert response.status_code == 200, response.text
        assert fetches == ["https://keys.example.nl/jwks.json"]  # cached
        broken: RP = await register(
            grant_type="client_credentials", jwks_uri="https://down.example.nl/jwks.json"
        )
        broken.key = key
        data, _ = broken.auth({"grant_type": "client_credentials"})
        response = await http.post("/auth/token", data=data)
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"
    finally:
        await authenticator.http.aclose()
        authenticator.http = original


async def test_client_changes_leave_history(register: Any, database: Any) -> None:
    rp = await register(grant_type="client_credentials")
    async with database.sessionmaker() as session:
        client = (
            await session.execute(select(Client).where(col(Client.client_id) == rp.client_id))
        ).scalar_one()
        events = (
            (
                await session.execute(
                    select(AuditEvent).where(col(AuditEvent.subject) == str(client.id))
                )
            )
            .scalars()
            .all()
        )
    assert [e.action for e in events] == ["client.created"]
    assert events[0].actor == "test"
    assert events[0].detail["clientId"] == rp.client_id


async def test_purge_removes_only_expired_state(
    database: Any, http: httpx.AsyncClient, register: Any
) -> None:
    rp = await register(grant_type="client_credentials")
    data, _ = rp.auth({"grant_type": "client_credentials"})
    assert (await http.post("/auth/token", data=data)).status_code == 200
    async with database.sessionmaker() as session, session.begin():
        await session.execute(
            update(UsedJti)
            .where(col(UsedJti.issuer) == rp.client_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        await session.execute(
            update(AuthorizationRequest).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    counts = await purge_expired(database.sessionmaker, actor="test")
    assert counts["used_jtis"] >= 1
    async with database.sessionmaker() as session:
        left = (
            (await session.execute(select(UsedJti).where(col(UsedJti.issuer) == rp.client_id)))
            .scalars()
            .all()
        )
        requests = (await session.execute(select(AuthorizationRequest))).scalars().all()
    assert left == []
    assert requests == []


async def test_purge_removes_expired_idempotency_keys(database: Any) -> None:
    old = utcnow() - IDEMPOTENCY_TTL - timedelta(minutes=1)
    row = {"owner": "purge|test", "request_hash": "0" * 64, "state": "done"}
    async with database.sessionmaker() as session, session.begin():
        await session.execute(
            insert(idempotency_keys),
            [
                {**row, "key": "expired", "created_at": old},
                {**row, "key": "live", "created_at": utcnow()},
            ],
        )
    counts = await purge_expired(database.sessionmaker, actor="test")
    assert counts["idempotency_keys"] == 1
    async with database.sessionmaker() as session:
        left = (
            (
                await session.execute(
                    select(idempotency_keys.c.key).where(idempotency_keys.c.owner == "purge|test")
                )
            )
            .scalars()
            .all()
        )
    assert left == ["live"]
