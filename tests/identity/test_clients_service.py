"""Client registry rules without HTTP: a registration is checked as a whole, its client id
is unique, a secret exists only for client_secret_basic and is stored hashed; a
replacement needs the current ETag and version and keeps the client id and its
authentication method; every change is audited (service functions on a real session)."""

from __future__ import annotations

import uuid
from typing import Any
from unittest.mock import ANY

import pytest
from sqlmodel import select

from identity.audit.models import AuditEvent
from identity.clients import service
from identity.clients.schemas import ClientIn
from servicekit.actor import Actor
from servicekit.db import Database
from servicekit.errors import BadRequest, Conflict, NotFound, PreconditionFailed
from servicekit.http import IfMatch

ADMIN = Actor("admin")


def _registration(client_id: str, **fields: Any) -> ClientIn:
    values: dict[str, Any] = {
        "client_id": client_id, "name": "Parkeren", "grant_type": "authorization_code",
        "token_endpoint_auth_method": "client_secret_basic",
        "redirect_uris": ["https://rp.example.nl/callback"],
        "allowed_scopes": ["profile", "openid", "openid"],
    }  # fmt: skip
    return ClientIn.model_validate({**values, **fields})


async def _audit(database: Database, client_uuid: uuid.UUID) -> list[str]:
    query = select(AuditEvent.action).where(AuditEvent.subject == str(client_uuid))
    async with database.sessionmaker() as session:
        return sorted((await session.execute(query)).scalars())


@pytest.mark.parametrize(
    ("fields", "name"),
    [
        ({"allowed_scopes": ["profile"]}, "allowedScopes"),
        ({"allowed_scopes": ["openid", "bsn"]}, "bsnLegalBasis"),
        ({"grant_type": "client_credentials", "allowed_scopes": ["registry:read"]}, "redirectUris"),
        ({"org_id": "00000001001234567000", "org_type": "municipality"}, "orgId"),
        ({"token_endpoint_auth_method": "private_key_jwt"}, "jwks"),
    ],
)
async def test_a_registration_is_checked_as_a_whole(
    database: Database, fields: dict[str, Any], name: str
) -> None:
    async with database.sessionmaker() as session:
        with pytest.raises(BadRequest) as bad:
            await service.create_client(session, _registration("rp-bad", **fields), ADMIN)
    assert bad.value.extra["invalidParams"][0]["name"] == name


async def test_unique_client_id_and_a_hashed_secret(database: Database) -> None:
    client_id = f"rp-{uuid.uuid4().hex[:10]}"
    async with database.sessionmaker() as session:
        row, secret = await service.create_client(session, _registration(client_id), ADMIN)
    assert secret is not None
    assert row.secret_hash != secret
    assert (service.secret_matches(row, secret), service.secret_matches(row, secret + "x")) == (
        True, False)  # fmt: skip
    assert (row.sector, row.allowed_scopes, row.version) == (client_id, ["openid", "profile"], 1)
    async with database.sessionmaker() as session:
        with pytest.raises(Conflict):
            await service.create_client(session, _registration(client_id), ADMIN)
    assert await _audit(database, row.id) == ["client.created"]


async def test_a_replacement_needs_the_etag_and_keeps_the_identity(database: Database) -> None:
    client_id = f"rp-{uuid.uuid4().hex[:10]}"
    async with database.sessionmaker() as session:
        row, _ = await service.create_client(session, _registration(client_id), ADMIN)
    etag = service.etag(row)

    async def replace(data: ClientIn, **kw: Any) -> Any:
        async with database.sessionmaker() as session:
            return await service.replace_client(session, row.id, data, ADMIN, **kw)

    renamed = _registration(client_id, name="Parkeren 2")
    with pytest.raises(PreconditionFailed):
        await replace(renamed, precondition=IfMatch('"stale"'))
    with pytest.raises(Conflict):
        await replace(renamed, expected_version=2)
    for other, name in ((_registration("rp-other-id"), "clientId"),
                        (_registration(client_id, token_endpoint_auth_method="none"),
                         "tokenEndpointAuthMethod")):  # fmt: skip
        with pytest.raises(BadRequest) as kept:
            await replace(other, precondition=IfMatch(etag))
        assert kept.value.extra["invalidParams"][0] == {"name": name, "reason": ANY}
    replaced = await replace(renamed, precondition=IfMatch(etag), expected_version=1)
    assert (replaced.name, replaced.version, replaced.secret_hash) == (
        "Parkeren 2", 2, row.secret_hash)  # fmt: skip
    assert service.etag(replaced) != etag
    async with database.sessionmaker() as session:
        await service.delete_client(session, row.id, ADMIN)
    async with database.sessionmaker() as session:
        with pytest.raises(NotFound):
            await service.get_client(session, row.id)
    assert await _audit(database, row.id) == ["client.created", "client.deleted", "client.updated"]
