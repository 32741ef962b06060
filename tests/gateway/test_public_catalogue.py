"""The public catalogue through the gateway: readable without a token, rate limited per
client address; everything next to it (contracts, costs, enrollments, demand) still needs
a token with the service's read scope."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from gateway_testkit import GatewayFactory, RunningGateway

from gateway.auth import address_bucket
from servicekit.testing import TestIssuer

ID = str(uuid.uuid4())
PUBLIC = [
    "/api/registry/v1/facilities",
    f"/api/registry/v1/facilities/{ID}",
    "/api/registry/v1/offerings?facilityId=" + ID,
    f"/api/registry/v1/offerings/{ID}",
    f"/api/registry/v1/offerings/{ID}/versions",
    f"/api/registry/v1/offerings/{ID}/versions/{ID}",
    "/api/registry/v1/organisations",
    f"/api/registry/v1/organisations/{ID}",
    "/api/registry/v1/initiatives",
    f"/api/registry/v1/initiatives/{ID}",
    "/api/registry/v1/search?q=telefonie",
    "/api/registry/v1/integrations",
    f"/api/registry/v1/integrations/{ID}",
    "/api/procurement/v1/tenders",
    f"/api/procurement/v1/tenders/{ID}",
    f"/api/procurement/v1/tenders/{ID}/lots",
    f"/api/procurement/v1/tenders/{ID}/lots/{ID}",
]
TOKEN_ONLY = [
    "/api/registry/v1/usages",
    f"/api/registry/v1/usages/{ID}",
    f"/api/registry/v1/facilities/{ID}/radar",
    f"/api/registry/v1/facilities/{ID}/costs",
    f"/api/registry/v1/facilities/{ID}/stage-transitions",
    f"/api/registry/v1/facilities/{ID}/pledges",
    f"/api/registry/v1/organisations/{ID}/radar",
    f"/api/registry/v1/organisations/{ID}/costs",
    "/api/registry/v1/events",
    f"/api/procurement/v1/tenders/{ID}/enrollments",
    f"/api/procurement/v1/tenders/{ID}/demand",
    f"/api/procurement/v1/tenders/{ID}/ocds",
    f"/api/procurement/v1/tenders/{ID}/history",
    "/api/procurement/v1/decisions-ahead",
]


def _forwarded_authorization(body: dict[str, Any]) -> str | None:
    for name, value in body["headers"]:
        if name.lower() == "authorization":
            return str(value)
    return None


async def test_public_reads_need_no_token(gw: RunningGateway) -> None:
    async with gw.client() as client:
        for path in PUBLIC:
            r = await client.get(path)
            assert r.status_code == 200, (path, r.text)
            assert _forwarded_authorization(r.json()) is None, path
            # Anonymous callers are charged to their address's bucket.
            assert r.headers["ratelimit-limit"] == "1000", path


async def test_everything_else_still_needs_a_token(gw: RunningGateway) -> None:
    async with gw.client() as client:
        for path in TOKEN_ONLY:
            r = await client.get(path)
            assert r.status_code == 401, (path, r.status_code)
            assert r.headers["content-type"] == "application/problem+json"
            assert r.headers["www-authenticate"] == 'Bearer realm="samen"'
        # Writes on the public collections are not public.
        r = await client.post("/api/registry/v1/facilities", json={})
        assert r.status_code == 401
        r = await client.post("/api/procurement/v1/tenders", json={})
        assert r.status_code == 401
        r = await client.delete(f"/api/registry/v1/organisations/{ID}")
        assert r.status_code == 401


async def test_a_sent_token_is_still_verified_on_public_reads(
    gw: RunningGateway, issuer: TestIssuer
) -> None:
    async with gw.client() as client:
        r = await client.get(
            "/api/registry/v1/facilities", headers={"Authorization": "Bearer not-a-jwt"}
        )
        assert r.status_code == 401
        # A valid token needs no particular scope here; the service sees it (and may show
        # its holder more, as procurement does with drafts).
        headers = issuer.headers(scopes=["procurement:read"], azp="portal-reader")
        r = await client.get("/api/registry/v1/facilities", headers=headers)
        assert r.status_code == 200
        assert _forwarded_authorization(r.json()) == headers["Authorization"]
        r = await client.get("/api/procurement/v1/tenders", headers=headers)
        assert r.status_code == 200
        assert _forwarded_authorization(r.json()) == headers["Authorization"]


async def test_anonymous_callers_are_limited_per_address(
    gateway_factory: GatewayFactory, issuer: TestIssuer
) -> None:
    limits = {"rate_limit_anonymous_per_second": 0.1, "rate_limit_anonymous_burst": 2}
    async with gateway_factory(**limits) as gw, gw.client() as client:
        codes = [(await client.get("/api/registry/v1/facilities")).status_code for _ in range(3)]
        refused = await client.get("/api/procurement/v1/tenders")
        # A client with a token has its own bucket, not its address's.
        with_token = await client.get(
            "/api/registry/v1/facilities",
            headers=issuer.headers(scopes=["registry:read"], azp="municipal-app"),
        )
    assert codes == [200, 200, 429]
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["ratelimit-remaining"] == "0"
    assert refused.json()["status"] == 429
    assert with_token.status_code == 200


async def test_forwarded_for_counts_only_the_balancers_entry(
    gateway_factory: GatewayFactory,
) -> None:
    """Behind a trusted balancer the last X-Forwarded-For entry is the address it saw;
    a client writing its own entries in front cannot pick a fresh bucket."""
    limits = {"rate_limit_anonymous_per_second": 0.1, "rate_limit_anonymous_burst": 1}
    async with (
        gateway_factory(trust_forwarded_for=True, **limits) as gw,
        gw.client() as client,
    ):
        spoofed = [
            (
                await client.get(
                    "/api/registry/v1/facilities",
                    headers={"X-Forwarded-For": f"10.0.0.{i}, 198.51.100.7"},
                )
            ).status_code
            for i in (1, 2)
        ]
        other = await client.get(
            "/api/registry/v1/facilities", headers={"X-Forwarded-For": "198.51.100.8"}
        )
    assert spoofed == [200, 429]
    assert other.status_code == 200


@pytest.mark.parametrize(
    ("address", "bucket"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        ("unknown", "unknown"),
    ],
)
def test_address_buckets(address: str, bucket: str) -> None:
    assert address_bucket(address) == bucket
