"""Revoked access tokens are refused by the registry, procurement (called directly) and the
gateway, once identity's revocation feed lists them (polled every 5 s by default; no
introspection call per request): after RFC 7009 revocation and after a replayed
authorization code. Each of them reads the feed with its own client (its details say so)."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest
from e2ekit import DIGID_SUBSTANTIAL, LOA_LOW, Browser, Platform, Rp, basic_auth, bearer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(480)]

CALLBACK = "https://rp.example.nl/revocation-callback"
# Far above the 10 s the feed promises: the machine running the suite may be loaded.
PATIENCE = 90.0


def targets(platform: Platform) -> dict[str, str]:
    return {
        "registry": platform.url_of("registry") + "/v1/facilities?pageSize=1",
        "procurement": platform.url_of("procurement") + "/v1/tenders?pageSize=1",
        "gateway→registry": platform.url + "/api/registry/v1/facilities?pageSize=1",
        "gateway→procurement": platform.url + "/api/procurement/v1/tenders?pageSize=1",
    }


async def statuses(http: httpx.AsyncClient, platform: Platform, token: str) -> dict[str, int]:
    out = {}
    for name, url in targets(platform).items():
        out[name] = (await http.get(url, headers=bearer(token))).status_code
    return out


async def refused_everywhere(platform: Platform, token: str) -> tuple[dict[str, int], float]:
    """The answers once every target refuses the token (or at the deadline), and the
    seconds it took."""
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=30) as http:
        while True:
            seen = await statuses(http, platform, token)
            if set(seen.values()) == {401} or time.monotonic() - started > PATIENCE:
                return seen, time.monotonic() - started
            await asyncio.sleep(0.5)


async def test_every_resource_server_reads_the_feed(platform: Platform) -> None:
    details = {
        part: platform.url_of(part) + "/health/details" for part in ("registry", "procurement")
    }
    details["gateway"] = platform.url + "/health/details"
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=30) as http:
        while True:
            feeds = {
                part: (await http.get(url)).json()["checks"].get("revocation-feed", {})
                for part, url in details.items()
            }
            fresh = {part for part, feed in feeds.items() if feed.get("status") == "pass"}
            if fresh == set(details) or time.monotonic() - started > PATIENCE:
                break
            await asyncio.sleep(0.5)
    assert fresh == set(details), feeds


async def test_rfc7009_revocation_reaches_every_service(platform: Platform) -> None:
    admin = {"Authorization": basic_auth("samen-admin", "samen-admin-dev-secret")}
    async with httpx.AsyncClient(base_url=platform.url, timeout=30) as api:
        r = await api.post(
            "/auth/token",
            data={"grant_type": "client_credentials", "scope": "registry:read procurement:read"},
            headers=admin,
        )
        assert r.status_code == 200, r.text
        token = r.json()["access_token"]
        async with httpx.AsyncClient(timeout=30) as http:
            assert set((await statuses(http, platform, token)).values()) == {200}
        r = await api.post("/auth/revoke", data={"token": token}, headers=admin)
        assert r.status_code == 200, r.text
    seen, took = await refused_everywhere(platform, token)
    assert set(seen.values()) == {401}, (seen, took)


async def test_a_replayed_code_revokes_its_access_token_everywhere(platform: Platform) -> None:
    async with httpx.AsyncClient(base_url=platform.url, timeout=30) as api:
        r = await api.post(
            "/auth/token",
            data={"grant_type": "client_credentials", "scope": "identity:admin"},
            headers={"Authorization": basic_auth("samen-admin", "samen-admin-dev-secret")},
        )
        assert r.status_code == 200, r.text
        client_id = f"revocation-rp-{uuid.uuid4().hex[:8]}"
        r = await api.post(
            "/api/identity/v1/clients",
            json={
                "clientId": client_id,
                "name": "Revocation RP",
                "grantType": "authorization_code",
                "tokenEndpointAuthMethod": "client_secret_basic",
                "redirectUris": [CALLBACK],
                "allowedScopes": ["openid", "registry:read", "procurement:read"],
                "minimumLoa": LOA_LOW,
            },
            headers=bearer(r.json()["access_token"]),
        )
        assert r.status_code == 201, r.text
        rp = Rp(client_id, r.json()["clientSecret"], CALLBACK)
    browser = Browser(platform.url)
    try:
        result, verifier = await browser.authorize(
            rp, "digid", "digid-fatima", DIGID_SUBSTANTIAL, "openid registry:read procurement:read"
        )
        first = await browser.redeem(rp, result["code"], verifier)
        assert first.status_code == 200, first.text
        token = first.json()["access_token"]
        async with httpx.AsyncClient(timeout=30) as http:
            assert set((await statuses(http, platform, token)).values()) == {200}
        replay = await browser.redeem(rp, result["code"], verifier)
        assert replay.status_code == 400, replay.text
    finally:
        await browser.aclose()
    seen, took = await refused_everywhere(platform, token)
    assert set(seen.values()) == {401}, (seen, took)
