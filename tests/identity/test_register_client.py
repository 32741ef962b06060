"""`python -m identity register-client`: how production registers its own machine clients
(samen-procurement with private_key_jwt) before any administrator token exists. Creates,
then replaces the registration (key rotation); the token endpoint follows."""

from __future__ import annotations

import argparse
import json
import uuid
from typing import Any

import httpx
import pytest
from idkit import RP, client_key, make_settings
from joserfc.jwk import KeySet

from identity.__main__ import _register_client
from servicekit.db import Database


def registration(client_id: str, slot: int, **extra: Any) -> str:
    return json.dumps(
        {
            "clientId": client_id,
            "name": "Samen procurement service",
            "grantType": "client_credentials",
            "tokenEndpointAuthMethod": "private_key_jwt",
            "allowedScopes": ["registry:read"],
            "jwks": dict(KeySet([client_key(slot)]).as_dict(private=False)),
            **extra,
        }
    )


async def run(database: Database, text: str, capsys: pytest.CaptureFixture[str]) -> Any:
    args = argparse.Namespace(json=text, file=None)
    await _register_client(make_settings(database.url), args)
    return json.loads(capsys.readouterr().out)


async def token_status(http: httpx.AsyncClient, rp: RP) -> int:
    data, _ = rp.auth({"grant_type": "client_credentials", "scope": "registry:read"})
    return (await http.post("/auth/token", data=data)).status_code


async def test_register_client_creates_then_replaces_keys(
    database: Database, app: Any, http: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    client_id = f"samen-procurement-{uuid.uuid4().hex[:8]}"
    created = await run(database, registration(client_id, 5), capsys)
    assert created["action"] == "created"
    assert created["clientId"] == client_id
    assert "clientSecret" not in created
    old, new = RP(client_id, key=client_key(5)), RP(client_id, key=client_key(6))
    assert await token_status(http, old) == 200
    assert await token_status(http, new) == 401

    # Rotation: the same clientId again, with the new public key, replaces the keys.
    replaced = await run(database, registration(client_id, 6), capsys)
    assert replaced == {**created, "action": "replaced"}
    assert await token_status(http, new) == 200
    assert await token_status(http, old) == 401


async def test_register_client_refuses_bad_registrations(
    database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    client_id = f"samen-bad-{uuid.uuid4().hex[:8]}"
    with pytest.raises(SystemExit, match="invalid registration"):
        await run(database, "{not json", capsys)
    private = json.dumps({"keys": [client_key(5).as_dict(private=True)]})
    with pytest.raises(SystemExit, match="public keys only"):
        await run(database, registration(client_id, 5, jwks=json.loads(private)), capsys)
    await run(database, registration(client_id, 5), capsys)
    # The authentication method of a registered client cannot change in place.
    with pytest.raises(SystemExit, match="cannot be changed"):
        await run(
            database,
            registration(client_id, 5, tokenEndpointAuthMethod="client_secret_basic", jwks=None),
            capsys,
        )


async def test_register_client_rotation_without_downtime(
    database: Database, app: Any, http: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    """deploy/README.md's rotation of procurement's key: register the old and the new public
    key, switch the pods to the new private key, then register the new key alone."""
    client_id = f"samen-procurement-{uuid.uuid4().hex[:8]}"
    await run(database, registration(client_id, 5), capsys)
    old, new = RP(client_id, key=client_key(5)), RP(client_id, key=client_key(6))
    both = json.loads(registration(client_id, 5))
    both["jwks"] = dict(KeySet([client_key(5), client_key(6)]).as_dict(private=False))
    assert (await run(database, json.dumps(both), capsys))["action"] == "replaced"
    # Meanwhile pods with either key get tokens: a rollout in progress never fails.
    assert await token_status(http, old) == 200
    assert await token_status(http, new) == 200
    await run(database, registration(client_id, 6), capsys)
    assert await token_status(http, new) == 200
    assert await token_status(http, old) == 401
