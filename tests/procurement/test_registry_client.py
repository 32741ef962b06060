"""The registry client: one cached client_credentials token, renewed on 401 and near
expiry; every kind of outage becomes RegistryUnavailable (503 + Retry-After)."""

from __future__ import annotations

import httpx
import pytest
import respx

from procurement.registry_client import RegistryClient, RegistryUnavailable

BASE = "http://registry.unit"
TOKEN = "http://identity.unit/auth/token"


def client(**kwargs: float) -> RegistryClient:
    return RegistryClient(BASE, TOKEN, "procurement", "secret", retry_after=7, **kwargs)


async def test_token_is_cached_and_renewed_after_401() -> None:
    issued = iter(["t1", "t2", "t3"])
    with respx.mock(assert_all_called=False) as mock:
        token = mock.post(TOKEN).mock(
            side_effect=lambda request: httpx.Response(
                200, json={"access_token": next(issued), "expires_in": 300}
            )
        )
        seen: list[str] = []

        def facility(request: httpx.Request) -> httpx.Response:
            seen.append(request.headers["authorization"])
            if len(seen) == 3:  # the registry rotated its keys: our token is refused once
                return httpx.Response(401)
            return httpx.Response(200, json={"id": "f", "name": "F"})

        mock.get(f"{BASE}/v1/facilities/f").mock(side_effect=facility)
        registry = client()
        for _ in range(3):
            assert (await registry.facility("f")) == {"id": "f", "name": "F"}
        await registry.aclose()
    assert seen == ["Bearer t1", "Bearer t1", "Bearer t1", "Bearer t2"]
    assert token.call_count == 2
    form = token.calls[0].request
    assert form.headers["authorization"].startswith("Basic ")  # client_secret_basic (dev)
    assert b"grant_type=client_credentials" in form.content


async def test_short_lived_token_is_renewed_before_expiry() -> None:
    with respx.mock() as mock:
        token = mock.post(TOKEN).mock(
            return_value=httpx.Response(200, json={"access_token": "t", "expires_in": 20})
        )
        mock.get(f"{BASE}/v1/facilities/f").mock(return_value=httpx.Response(200, json={}))
        registry = client()
        await registry.facility("f")
        await registry.facility("f")
        await registry.aclose()
    # 20 s lifetime is inside the 30 s margin: never reused.
    assert token.call_count == 2


@pytest.mark.parametrize(
    "outage",
    [
        httpx.Response(503),
        httpx.Response(500, text="boom"),
        httpx.Response(200, text="not json"),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
    ],
)
async def test_outages_become_registry_unavailable(outage: object) -> None:
    with respx.mock() as mock:
        mock.post(TOKEN).mock(
            return_value=httpx.Response(200, json={"access_token": "t", "expires_in": 300})
        )
        route = mock.get(f"{BASE}/v1/facilities/f")
        if isinstance(outage, Exception):
            route.mock(side_effect=outage)
        else:
            route.mock(return_value=outage)
        registry = client()
        with pytest.raises(RegistryUnavailable) as caught:
            await registry.facility("f")
        await registry.aclose()
    assert caught.value.status == 503
    assert caught.value.headers["Retry-After"] == "7"
    assert "boom" not in caught.value.detail  # upstream bodies never leak


async def test_token_endpoint_refusal_is_unavailable_and_404_is_none() -> None:
    with respx.mock() as mock:
        mock.post(TOKEN).mock(return_value=httpx.Response(401, json={"error": "invalid_client"}))
        registry = client()
        with pytest.raises(RegistryUnavailable):
            await registry.facility("f")
        await registry.aclose()
    with respx.mock() as mock:
        mock.post(TOKEN).mock(
            return_value=httpx.Response(200, json={"access_token": "t", "expires_in": 300})
        )
        mock.get(f"{BASE}/v1/organisations/x").mock(return_value=httpx.Response(404))
        registry = client()
        assert await registry.organisation("x") is None
        await registry.aclose()


async def test_private_key_jwt_signs_a_fresh_client_assertion() -> None:
    import json
    from urllib.parse import parse_qs

    from joserfc import jwt
    from joserfc.jwk import RSAKey

    key = RSAKey.generate_key(2048, parameters={"kid": "proc-1", "alg": "PS256"})
    registry = RegistryClient(
        BASE, TOKEN, "samen-procurement", "",
        private_key_jwk=json.dumps(key.as_dict(private=True)),
        assertion_audience="https://samen.example",
    )  # fmt: skip
    with respx.mock(assert_all_called=False) as mock:
        token = mock.post(TOKEN).mock(
            return_value=httpx.Response(200, json={"access_token": "t", "expires_in": 1})
        )
        mock.get(f"{BASE}/v1/facilities/f").mock(return_value=httpx.Response(200, json={"id": "f"}))
        await registry.facility("f")
        await registry.facility("f")  # expires_in below the margin: a second assertion
    await registry.aclose()
    assertions = []
    for call in token.calls:
        assert "authorization" not in call.request.headers  # no secret sent
        form = {k: v[0] for k, v in parse_qs(call.request.content.decode()).items()}
        assert (
            form["client_assertion_type"]
            == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        )
        assert form["client_id"] == "samen-procurement"
        decoded = jwt.decode(form["client_assertion"], key, algorithms=["PS256"])
        assert decoded.header["kid"] == "proc-1"
        claims = decoded.claims
        assert claims["iss"] == claims["sub"] == "samen-procurement"
        assert claims["aud"] == "https://samen.example"
        assert claims["exp"] - claims["iat"] <= 60
        assertions.append(claims["jti"])
    assert len(assertions) == 2
    assert len(set(assertions)) == 2  # a fresh jti each time (identity refuses replays)
