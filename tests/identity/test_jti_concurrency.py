"""One-time ids under concurrency: the same client assertion sent many times at once is
accepted exactly once (PostgreSQL writes concurrent ids in one batch, SQLite one by one)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


async def test_same_assertion_at_once_is_accepted_once(
    http: httpx.AsyncClient, register: Any
) -> None:
    rp = await register(grant_type="client_credentials", allowed_scopes=["registry:read"])
    replayed = {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": rp.assertion(),
    }
    others = [
        {**replayed, "client_assertion": rp.assertion()} for _ in range(5)
    ]  # distinct jtis, sent in the same burst
    responses = await asyncio.gather(
        *(http.post("/auth/token", data=form) for form in [replayed] * 6 + others)
    )
    statuses = [r.status_code for r in responses]
    assert statuses[:6].count(200) == 1
    assert sorted(statuses[:6]) == [200, 401, 401, 401, 401, 401]
    assert all(r.json()["error"] == "invalid_client" for r in responses[:6] if r.status_code != 200)
    assert statuses[6:] == [200] * 5
    # And later, once more: still refused.
    again = await http.post("/auth/token", data=replayed)
    assert again.status_code == 401
