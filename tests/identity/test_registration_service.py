"""Dynamic registration rules without HTTP: an initial access token registers one client,
once and before it expires, and is not spent on metadata that fails the registry's
checks; a registration access token manages only its own client (service functions on a
real session)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import col, update

from identity.clients.models import Client
from identity.oauth.errors import OAuthError
from identity.registration import service
from identity.registration.models import InitialAccessToken
from identity.registration.schemas import ClientMetadata
from servicekit.actor import Actor
from servicekit.clock import utcnow
from servicekit.db import Database

METADATA = ClientMetadata(client_name="Parkeren", redirect_uris=["https://rp.example.nl/cb"],
                          token_endpoint_auth_method="client_secret_basic")  # fmt: skip


async def _initial(database: Database) -> tuple[Any, str]:
    async with database.sessionmaker() as session:
        return await service.issue_initial_token(session, Actor("admin"), 3600)


async def _register(database: Database, token: str, metadata: ClientMetadata = METADATA) -> Any:
    async with database.sessionmaker() as session:
        return await service.register(session, metadata, token)


async def test_an_initial_token_registers_one_client_once(database: Database) -> None:
    row, token = await _initial(database)
    with pytest.raises(OAuthError) as bad:  # plain http to a named host
        await _register(database, token, METADATA.model_copy(
            update={"redirect_uris": ["http://rp.example.nl/cb"]}))  # fmt: skip
    assert bad.value.error == "invalid_redirect_uri"
    client, secret, _ = await _register(database, token)  # the token was not spent above
    assert (client.client_id.startswith("dyn-"), secret is not None) == (True, True)
    with pytest.raises(OAuthError) as again:
        await _register(database, token)
    assert again.value.error == "invalid_token"
    async with database.sessionmaker() as session:
        used = await service.initial_token(session, row.id)
    assert used.used_for == client.client_id

    expired, late = await _initial(database)
    async with database.sessionmaker() as session, session.begin():
        await session.execute(update(InitialAccessToken)
            .where(col(InitialAccessToken.id) == expired.id)
            .values(expires_at=utcnow() - timedelta(seconds=1)))  # fmt: skip
    with pytest.raises(OAuthError) as stale:
        await _register(database, late)
    assert stale.value.error == "invalid_token"


async def test_a_registration_token_manages_only_its_own_client(database: Database) -> None:
    first, _, first_token = await _register(database, (await _initial(database))[1])
    second, _, second_token = await _register(database, (await _initial(database))[1])
    async with database.sessionmaker() as session:
        assert (await service.registered_client(session, first.client_id, first_token)).id == (
            first.id)  # fmt: skip
    for client_id, token in ((first.client_id, second_token), (second.client_id, "guess")):
        async with database.sessionmaker() as session:
            with pytest.raises(OAuthError) as refused:
                await service.registered_client(session, client_id, token)
        assert refused.value.error == "invalid_token"
    async with database.sessionmaker() as session:
        row = await service.registered_client(session, second.client_id, second_token)
        renamed = await service.update(session, row, METADATA.model_copy(
            update={"client_name": "Parkeren 2"}))  # fmt: skip
    assert (renamed.client_id, renamed.name, renamed.version) == (second.client_id, "Parkeren 2", 2)


async def test_a_client_registers_only_self_service_scopes(database: Database) -> None:
    _, token = await _initial(database)
    greedy = METADATA.model_copy(update={"scope": "openid registry:contracts"})
    with pytest.raises(OAuthError) as refused:
        await _register(database, token, greedy)
    assert refused.value.error == "invalid_client_metadata"
    assert "registry:contracts" in refused.value.description
    # Not spent: the same token registers a client within the self-service scopes.
    reader = METADATA.model_copy(update={"scope": "openid profile registry:read"})
    client, _, _ = await _register(database, token, reader)
    assert sorted(client.allowed_scopes) == ["openid", "profile", "registry:read"]

    async def replace(metadata: ClientMetadata) -> Any:
        async with database.sessionmaker() as session:
            stored = await session.get(Client, client.id)
            assert stored is not None
            return await service.update(session, stored, metadata)

    for scope in ("openid identity:admin", "openid registry:exposure procurement:manage"):
        with pytest.raises(OAuthError) as widened:
            await replace(reader.model_copy(update={"scope": scope}))
        assert widened.value.error == "invalid_client_metadata"
    machine = reader.model_copy(update={"grant_types": ["client_credentials"], "scope":
                                        "registry:read", "redirect_uris": []})  # fmt: skip
    with pytest.raises(OAuthError) as regranted:
        await replace(machine)
    assert "grant_types" in regranted.value.description
    async with database.sessionmaker() as session:
        unchanged = await session.get(Client, client.id)
    assert unchanged is not None
    assert (unchanged.grant_type, sorted(unchanged.allowed_scopes)) == (
        "authorization_code", ["openid", "profile", "registry:read"])  # fmt: skip

    # A scope an administrator granted (through /v1/clients) stays through an update.
    async with database.sessionmaker() as session, session.begin():
        await session.execute(update(Client).where(col(Client.id) == client.id).values(
            allowed_scopes=["openid", "profile", "registry:read", "registry:contracts"]))  # fmt: skip
    kept = await replace(reader.model_copy(
        update={"scope": "openid registry:contracts", "client_name": "Parkeren 3"}))  # fmt: skip
    assert (kept.name, sorted(kept.allowed_scopes)) == (
        "Parkeren 3",
        ["openid", "registry:contracts"],
    )
