"""Rate limits where callers try to get round them: forged tokens once their address is
out of budget cost no signature check, and a forwarded address with a port
(``203.0.113.7:5555``, ``[2001:db8::1]:5555``) is still that address's bucket."""

from __future__ import annotations

import asyncio
import time

import pytest
from gateway_testkit import GatewayFactory
from joserfc import jwt

from gateway.auth import address_bucket
from servicekit.testing import TestIssuer

PATH = "/api/registry/v1/things"  # needs registry:read


def _forged(issuer: TestIssuer) -> dict[str, str]:
    """A well-formed token naming the issuer's key but signed with another one: only the
    signature check can tell."""
    now = int(time.time())
    claims = {
        "iss": issuer.issuer,
        "aud": issuer.audience,
        "sub": "mallory",
        "azp": "test-client",
        "exp": now + 300,
        "scope": "registry:read",
    }
    header = {"alg": "RS256", "kid": issuer.key.kid, "typ": "at+jwt"}
    return {"Authorization": "Bearer " + jwt.encode(header, claims, TestIssuer().key)}


async def test_forged_tokens_are_refused_unverified_once_the_address_is_out_of_budget(
    gateway_factory: GatewayFactory, issuer: TestIssuer
) -> None:
    limits = {"rate_limit_anonymous_per_second": 0.01, "rate_limit_anonymous_burst": 3}
    known = issuer.headers(scopes=["registry:read"])
    forged = _forged(issuer)
    async with gateway_factory(**limits) as gw, gw.client() as client:
        verifier = gw.app.gate.verifier
        assert (await client.get(PATH, headers=known)).status_code == 200
        before = verifier.verifications
        codes = [(await client.get(PATH, headers=forged)).status_code for _ in range(10)]
        checks = verifier.verifications - before
        # A token verified before costs no signature check: its own limits apply.
        again = await client.get(PATH, headers=known)
        # A new token from this address waits, like the anonymous calls from it.
        fresh = await client.get(PATH, headers=issuer.headers(scopes=["registry:read"]))
        anonymous = await client.get(PATH)
    assert codes == [401] * 3 + [429] * 7
    assert checks == 3  # the budget's worth, not one per request
    assert again.status_code == 200
    assert again.headers["ratelimit-limit"] == "1000"  # the client's bucket, not the address's
    assert fresh.status_code == 429
    assert int(fresh.headers["retry-after"]) >= 1
    assert fresh.json()["detail"] == "Too many failed attempts; slow down."
    assert anonymous.status_code == 429  # the address's budget is spent


async def test_the_address_waits_only_until_its_bucket_has_a_token(
    gateway_factory: GatewayFactory, issuer: TestIssuer
) -> None:
    limits = {"rate_limit_anonymous_per_second": 20.0, "rate_limit_anonymous_burst": 1}
    async with gateway_factory(**limits) as gw, gw.client() as client:
        first = await client.get(PATH, headers=_forged(issuer))
        await asyncio.sleep(0.1)  # two tokens' worth at 20 per second
        valid = await client.get(PATH, headers=issuer.headers(scopes=["registry:read"]))
    assert first.status_code == 401
    assert valid.status_code == 200


@pytest.mark.parametrize(
    "entry",
    ["203.0.113.7:{port}", "[2001:db8:1:2::1]:{port}", "[2001:db8:1:2::{port}]"],
)
async def test_forwarded_addresses_with_ports_share_one_bucket(
    gateway_factory: GatewayFactory, entry: str
) -> None:
    limits = {"rate_limit_anonymous_per_second": 0.01, "rate_limit_anonymous_burst": 2}
    path = "/.well-known/openid-configuration"
    async with (
        gateway_factory(trust_forwarded_for=True, **limits) as gw,
        gw.client() as client,
    ):
        codes = [
            (
                await client.get(path, headers={"X-Forwarded-For": entry.format(port=port)})
            ).status_code
            for port in range(40000, 40004)
        ]
    assert codes == [200, 200, 429, 429]


async def test_a_forwarded_entry_that_is_no_address_counts_as_the_peer(
    gateway_factory: GatewayFactory,
) -> None:
    limits = {"rate_limit_anonymous_per_second": 0.01, "rate_limit_anonymous_burst": 2}
    path = "/.well-known/openid-configuration"
    async with (
        gateway_factory(trust_forwarded_for=True, **limits) as gw,
        gw.client() as client,
    ):
        codes = [
            (await client.get(path, headers={"X-Forwarded-For": forwarded})).status_code
            for forwarded in ("unknown", "not-an-ip:1", "127.0.0.1", "_hidden")
        ]
    assert codes == [200, 200, 429, 429]  # all of them the TCP peer, 127.0.0.1


@pytest.mark.parametrize(
    ("address", "bucket"),
    [
        ("203.0.113.7:5555", "203.0.113.7"),
        ("[2001:db8:1:2::1]:5555", "2001:db8:1:2::/64"),
        ("[2001:db8:1:2:ffff::1]", "2001:db8:1:2::/64"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("[::ffff:198.51.100.7]:80", "198.51.100.7"),
    ],
)
def test_address_buckets_without_ports(address: str, bucket: str) -> None:
    assert address_bucket(address) == bucket
