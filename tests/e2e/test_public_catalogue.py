"""The public catalogue through the running platform without any token: the seeded
facilities, a search that forgives Dutch word forms and typos, published tenders; and
what stays behind a token (contracts, costs, vulnerabilities) refused."""

from __future__ import annotations

import httpx
import pytest
from e2ekit import Platform

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


async def _names(api: httpx.AsyncClient, q: str) -> list[str]:
    r = await api.get("/api/registry/v1/search", params={"q": q})
    assert r.status_code == 200, r.text
    assert "ratelimit-remaining" in r.headers  # charged to the caller's address
    return [hit["name"] for hit in r.json()["items"]]


async def test_anonymous_callers_read_the_public_catalogue(platform: Platform) -> None:
    async with httpx.AsyncClient(base_url=platform.url, timeout=30) as api:
        r = await api.get("/api/registry/v1/facilities", params={"slug": "ggi-netwerk"})
        assert r.status_code == 200, r.text
        (facility,) = r.json()["items"]
        assert facility["description"].startswith("Gemeentelijke Gemeenschappelijke")
        assert (await api.get(f"/api/registry/v1/facilities/{facility['id']}")).status_code == 200
        for path in ("offerings", "organisations", "initiatives"):
            assert (await api.get(f"/api/registry/v1/{path}")).status_code == 200, path
        # HEAD, as uptime and link checkers ask, through the gateway: API and portal.
        for path in ("/api/registry/v1/facilities", "/api/registry/v1/docs", "/", "/tenders"):
            head = await api.head(path)
            assert head.status_code == 200, (path, head.status_code)
            assert head.content == b""

        assert "GGI-Netwerk" in await _names(api, "netwerken")
        assert "Gemeentelijke Telecommunicatie" in await _names(api, "telefnie")
        assert "Gemeentelijke Telecommunicatie" not in await _names(api, "telefonie -mobiele")

        r = await api.get("/api/procurement/v1/tenders")
        assert r.status_code == 200, r.text
        assert all(t["status"] not in ("draft", "cancelled") for t in r.json()["items"])

        for path in (
            "/api/registry/v1/usages",
            f"/api/registry/v1/facilities/{facility['id']}/radar",
            f"/api/registry/v1/facilities/{facility['id']}/costs",
            "/api/registry/v1/vulnerabilities",
            "/api/registry/v1/events",
        ):
            r = await api.get(path)
            assert r.status_code == 401, (path, r.status_code)
            assert r.headers["content-type"] == "application/problem+json"
