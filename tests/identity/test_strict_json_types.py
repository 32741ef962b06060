"""Booleans and integers in identity's request bodies are JSON booleans and integers only
(servicekit's JsonBoolean, JsonInteger): "yes", "true", 1 or "600" is a 400 naming the
member, not read as a value."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from test_clients_api import BASE


def problem_names(response: httpx.Response) -> list[str]:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return [p["name"] for p in response.json()["invalidParams"]]


@pytest.mark.parametrize("value", ["yes", "true", 1, 0, "false", None, [True]])
async def test_refresh_tokens_is_a_json_boolean(
    http: httpx.AsyncClient, admin: dict[str, str], value: Any
) -> None:
    body = {**BASE, "clientId": "strict-bool", "refreshTokens": value}
    assert problem_names(await http.post("/v1/clients", json=body, headers=admin)) == [
        "refreshTokens"
    ]
    listed = await http.get("/v1/clients?pageSize=100", headers=admin)
    assert "strict-bool" not in [c["clientId"] for c in listed.json()["items"]]


async def test_refresh_tokens_true_on_replace_is_strict_too(
    http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    created = await http.post("/v1/clients", json={**BASE, "clientId": "strict-put"}, headers=admin)
    assert created.status_code == 201, created.text
    path = f"/v1/clients/{created.json()['id']}"
    headers = {**admin, "If-Match": created.headers["etag"]}
    body = {**BASE, "clientId": "strict-put", "refreshTokens": "yes"}
    assert problem_names(await http.put(path, json=body, headers=headers)) == ["refreshTokens"]
    assert (await http.get(path, headers=admin)).json()["refreshTokens"] is False
    ok = await http.put(path, json={**body, "refreshTokens": True}, headers=headers)
    assert ok.status_code == 200, ok.text
    assert ok.json()["refreshTokens"] is True


@pytest.mark.parametrize("value", ["600", "600.0", 600.5, True, None])
async def test_expires_in_is_a_json_integer(
    http: httpx.AsyncClient, admin: dict[str, str], value: Any
) -> None:
    response = await http.post(
        "/v1/initial-access-tokens", json={"expiresIn": value}, headers=admin
    )
    assert problem_names(response) == ["expiresIn"]
    # 600 and 600.0 are the same JSON Schema integer.
    for number in (600, 600.0):
        ok = await http.post("/v1/initial-access-tokens", json={"expiresIn": number}, headers=admin)
        assert ok.status_code == 201, ok.text
