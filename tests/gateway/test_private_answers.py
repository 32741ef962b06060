"""Answers to requests with credentials are the caller's alone: the gateway marks them
``Cache-Control: no-store`` (unless the service said how to cache them) and adds
``Authorization`` to ``Vary``; anonymous answers pass as the service wrote them. And an
unplanned 5xx that the gateway replaces keeps the service's ``Retry-After``."""

from __future__ import annotations

import httpx
from gateway_testkit import RunningGateway

from servicekit.testing import TestIssuer


def _varies(response: httpx.Response) -> list[str]:
    return [
        name.strip().lower()
        for line in response.headers.get_list("vary")
        for name in line.split(",")
    ]


async def test_answers_to_authenticated_requests_are_not_stored(
    gw: RunningGateway, issuer: TestIssuer
) -> None:
    auth = issuer.headers(scopes=["registry:read"])
    async with gw.client() as client:
        usages = await client.get("/api/registry/v1/usages", headers=auth)
        head = await client.head("/api/registry/v1/usages", headers=auth)
        # A public read with a token is still the caller's answer.
        public = await client.get("/api/registry/v1/facilities", headers=auth)
        missing = await client.get("/api/registry/v1/problem", headers=auth)
    for response in (usages, head, public, missing):
        assert response.headers["cache-control"] == "no-store", response.headers
        assert "authorization" in _varies(response)
    assert missing.status_code == 404


async def test_anonymous_answers_pass_unmarked(gw: RunningGateway) -> None:
    async with gw.client() as client:
        public = await client.get("/api/registry/v1/facilities")
    assert public.status_code == 200
    assert "cache-control" not in public.headers
    assert "authorization" not in _varies(public)


async def test_the_services_own_cache_control_and_vary_are_kept(
    gw: RunningGateway, issuer: TestIssuer
) -> None:
    auth = issuer.headers(scopes=["registry:read"])
    async with gw.client() as client:
        response = await client.get("/api/registry/v1/cached", headers=auth)
        anonymous = await client.get("/api/registry/v1/cached")
    assert response.status_code == 200
    assert response.headers.get_list("cache-control") == ["private, max-age=60"]
    assert _varies(response) == ["accept-language", "authorization"]
    assert anonymous.status_code == 401  # not public: the gateway answers, no Vary added


async def test_a_replaced_5xx_keeps_retry_after(gw: RunningGateway, issuer: TestIssuer) -> None:
    auth = issuer.headers(scopes=["registry:read"])
    async with gw.client() as client:
        response = await client.get("/api/registry/v1/overloaded", headers=auth)
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert "db-3" not in response.text
    assert response.headers.get_list("retry-after") == ["30"]
    assert response.headers["cache-control"] == "no-store"
    assert "authorization" in _varies(response)
