"""Refresh rotation and reuse detection, introspection, revocation, userinfo,
RP-initiated logout, the disclosure log and key rotation."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from idkit import ISSUER, RP, Browser, decode_unverified, query_of
from joserfc.jws import extract_compact
from sqlalchemy import update
from sqlmodel import col

from identity.keys.models import SigningKey
from servicekit.auth import TokenVerifier
from servicekit.errors import ProblemError
from servicekit.jwks import JwksCache, http_jwks_fetcher


async def _post(http: httpx.AsyncClient, rp: RP, path: str, form: dict[str, str]) -> httpx.Response:
    data, headers = rp.auth(form, aud=f"{ISSUER}{path}")
    return await http.post(path, data=data, headers=headers)


async def test_refresh_rotation_and_reuse_revokes_the_family(
    browser: Browser, register: Any
) -> None:
    rp = await register(refresh_tokens=True)
    login = await browser.login(rp)
    first = (await browser.token(rp, login)).json()
    r1 = first["refresh_token"]
    second = await _post(
        browser.http, rp, "/auth/token", {"grant_type": "refresh_token", "refresh_token": r1}
    )
    assert second.status_code == 200, second.text
    r2 = second.json()["refresh_token"]
    assert r2 != r1
    assert (
        decode_unverified(second.json()["access_token"])["sub"]
        == decode_unverified(first["access_token"])["sub"]
    )
    # Reusing r1 is refused and revokes r2 (same family).
    reuse = await _post(
        browser.http, rp, "/auth/token", {"grant_type": "refresh_token", "refresh_token": r1}
    )
    assert reuse.status_code == 400
    assert reuse.json()["error"] == "invalid_grant"
    after = await _post(
        browser.http, rp, "/auth/token", {"grant_type": "refresh_token", "refresh_token": r2}
    )
    assert after.json()["error"] == "invalid_grant"
    # Introspection agrees.
    info = await _post(browser.http, rp, "/auth/introspect", {"token": r2})
    assert info.json() == {"active": False}


async def test_refresh_refusals(browser: Browser, register: Any) -> None:
    without = await register()
    login = await browser.login(without)
    assert "refresh_token" not in (await browser.token(without, login)).json()
    r = await _post(
        browser.http, without, "/auth/token", {"grant_type": "refresh_token", "refresh_token": "x"}
    )
    assert r.json()["error"] == "unauthorized_client"
    rp = await register(refresh_tokens=True, allowed_scopes=["openid", "profile"])
    login = await browser.login(rp, scope="openid")
    token = (await browser.token(rp, login)).json()["refresh_token"]
    other = await register(refresh_tokens=True)
    r = await _post(
        browser.http, other, "/auth/token", {"grant_type": "refresh_token", "refresh_token": token}
    )
    assert r.json()["error"] == "invalid_grant"  # bound to its client
    r = await _post(
        browser.http,
        rp,
        "/auth/token",
        {"grant_type": "refresh_token", "refresh_token": token, "scope": "openid profile"},
    )
    assert r.json()["error"] == "invalid_scope"  # cannot widen


async def test_introspection_valid_expired_revoked(
    browser: Browser, register: Any, app: Any
) -> None:
    rs = await register(grant_type="client_credentials", resource_audiences=["samen"])
    machine = await register(grant_type="client_credentials", allowed_scopes=["registry:read"])
    data, _ = machine.auth({"grant_type": "client_credentials"})
    access = (await browser.http.post("/auth/token", data=data)).json()["access_token"]

    info = (await _post(browser.http, rs, "/auth/introspect", {"token": access})).json()
    assert info["active"] is True
    assert info["client_id"] == machine.client_id
    assert info["scope"] == "registry:read"
    assert info["iss"] == ISSUER

    # expired: a token signed by us but past exp
    provider = app.state.identity
    now = int(time.time())
    expired = await provider.keys.sign(
        {
            "iss": ISSUER,
            "aud": ["samen"],
            "sub": "x",
            "client_id": machine.client_id,
            "exp": now - 10,
            "iat": now - 100,
            "jti": "e1",
        },
        "RS256",
    )
    assert (await _post(browser.http, rs, "/auth/introspect", {"token": expired})).json() == {
        "active": False
    }
    # garbage and foreign tokens
    assert (await _post(browser.http, rs, "/auth/introspect", {"token": "abc"})).json() == {
        "active": False
    }

    # revoked: only the owning client may revoke
    r = await _post(browser.http, rs, "/auth/revoke", {"token": access})
    assert r.json()["error"] == "unauthorized_client"
    r = await _post(
        browser.http, machine, "/auth/revoke", {"token": access, "token_type_hint": "access_token"}
    )
    assert r.status_code == 200
    assert (await _post(browser.http, rs, "/auth/introspect", {"token": access})).json() == {
        "active": False
    }
    # unknown tokens revoke fine (RFC 7009), an unknown hint is only a hint
    assert (
        await _post(browser.http, machine, "/auth/revoke", {"token": "unknown"})
    ).status_code == 200
    r = await _post(
        browser.http, machine, "/auth/revoke", {"token": "x", "token_type_hint": "weird"}
    )
    assert r.status_code == 200
    # unauthenticated introspection is refused
    r = await browser.http.post("/auth/introspect", data={"token": access})
    assert r.status_code == 401
    # missing token parameter
    assert (await _post(browser.http, rs, "/auth/introspect", {})).json()[
        "error"
    ] == "invalid_request"


async def test_userinfo_and_disclosures(browser: Browser, register: Any) -> None:
    rp = await register(
        allowed_scopes=["openid", "profile", "bsn"], bsn_legal_basis="Wet X", sector="gem-x"
    )
    login = await browser.login(rp, "digid", "digid-fatima", scope="openid profile bsn")
    tokens = (await browser.token(rp, login)).json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    info = await browser.http.get("/auth/userinfo", headers=headers)
    assert info.status_code == 200, info.text
    body = info.json()
    assert body["sub"] == decode_unverified(tokens["id_token"])["sub"]
    assert body["bsn"] == "999990019"
    assert body["family_name"] == "El Amrani"
    bad = await browser.http.get("/auth/userinfo", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    assert "invalid_token" in bad.headers["www-authenticate"]
    assert (await browser.http.get("/auth/userinfo")).status_code == 401

    disclosures = await browser.http.get("/v1/me/disclosures", headers=headers)
    assert disclosures.status_code == 200, disclosures.text
    # The person's whole log (other tests logged the same test person in elsewhere).
    items = [i for i in disclosures.json()["items"] if i["clientId"] == rp.client_id]
    assert {i["channel"] for i in items} == {"token", "userinfo"}
    assert any("bsn" in i["attributes"] for i in items)
    assert "999990019" not in disclosures.text
    # A refresh issues no ID token: its entry names only what the access token carries.
    refreshing = await register(
        allowed_scopes=["openid", "profile", "bsn"],
        bsn_legal_basis="Wet X",
        sector="gem-y",
        refresh_tokens=True,
    )
    login = await browser.login(refreshing, "digid", "digid-fatima", scope="openid profile bsn")
    first = (await browser.token(refreshing, login)).json()
    r = await _post(
        browser.http,
        refreshing,
        "/auth/token",
        {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
    )
    assert r.status_code == 200, r.text
    assert "id_token" not in r.json()
    log = await browser.http.get("/v1/me/disclosures?pageSize=100", headers=headers)
    entries = [i for i in log.json()["items"] if i["clientId"] == refreshing.client_id]
    assert len(entries) == 2  # the code exchange and the refresh
    refresh_entry = min(entries, key=lambda i: len(i["attributes"]))
    assert sorted(refresh_entry["attributes"]) == ["acr", "sub"]
    assert any("bsn" in i["attributes"] for i in entries)  # the code exchange's ID token
    # A machine token has no person behind it.
    machine = await register(grant_type="client_credentials")
    data, _ = machine.auth({"grant_type": "client_credentials"})
    machine_token = (await browser.http.post("/auth/token", data=data)).json()["access_token"]
    r = await browser.http.get(
        "/v1/me/disclosures", headers={"Authorization": f"Bearer {machine_token}"}
    )
    assert r.status_code == 403


async def test_end_session(browser: Browser, register: Any) -> None:
    rp = await register(refresh_tokens=True)
    login = await browser.login(rp)
    tokens = (await browser.token(rp, login)).json()
    # Unregistered post_logout_redirect_uri: an error page, never a redirect.
    bad = await browser.http.get(
        "/auth/end-session?"
        + urlencode(
            {
                "id_token_hint": tokens["id_token"],
                "post_logout_redirect_uri": "https://evil.example/",
            }
        )
    )
    assert bad.status_code == 400
    assert "location" not in bad.headers
    no_client = await browser.http.get(
        "/auth/end-session?"
        + urlencode({"post_logout_redirect_uri": "https://rp.example.nl/logged-out"})
    )
    assert no_client.status_code == 400
    ok = await browser.http.get(
        "/auth/end-session?"
        + urlencode(
            {
                "id_token_hint": tokens["id_token"],
                "post_logout_redirect_uri": "https://rp.example.nl/logged-out",
                "state": "bye",
            }
        )
    )
    assert ok.status_code == 303
    assert ok.headers["location"] == "https://rp.example.nl/logged-out?state=bye"
    # The session is gone: refresh tokens revoked, userinfo refused, next authorize logs in again.
    r = await _post(
        browser.http,
        rp,
        "/auth/token",
        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
    )
    assert r.json()["error"] == "invalid_grant"
    info = await browser.http.get(
        "/auth/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert info.status_code == 401
    response, _, _ = await browser.start(rp, prompt="none")
    assert query_of(response.headers["location"])["error"] == "login_required"
    # Without a redirect: a page saying so.
    page = await browser.http.get("/auth/end-session?lang=en")
    assert page.status_code == 200
    assert "logged out" in page.text


async def test_key_rotation(browser: Browser, register: Any, app: Any, database: Any) -> None:
    provider = app.state.identity
    machine = await register(grant_type="client_credentials")

    async def issue() -> str:
        data, _ = machine.auth({"grant_type": "client_credentials"})
        token: str = (await browser.http.post("/auth/token", data=data)).json()["access_token"]
        return token

    def kid(token: str) -> str:
        return str(extract_compact(token.encode()).protected["kid"])

    before_jwks = (await browser.http.get("/auth/jwks")).json()["keys"]
    old_token = await issue()
    old_kid = kid(old_token)
    await provider.keys.load(force=True)
    summary = await provider.keys.rotate(actor="test", at_once=True)
    assert old_kid in summary["retired"]
    # The activated key was already published before it signed anything.
    assert {k for k in summary["activated"]} <= {k["kid"] for k in before_jwks}
    new_token = await issue()
    assert kid(new_token) != old_kid
    after = {k["kid"] for k in (await browser.http.get("/auth/jwks")).json()["keys"]}
    assert old_kid in after  # still published for its tokens' lifetime
    assert set(summary["published"]) <= after

    verifier = TokenVerifier(
        JwksCache(
            http_jwks_fetcher(f"{ISSUER}/auth/jwks", client=browser.http), min_refresh_interval=0
        ),
        issuer=ISSUER,
        audience="samen",
    )
    assert (await verifier.verify(old_token))["sub"] == machine.client_id
    assert (await verifier.verify(new_token))["sub"] == machine.client_id

    # Past retention the old key is removed: its tokens stop verifying.
    async with database.sessionmaker() as session, session.begin():
        await session.execute(
            update(SigningKey)
            .where(col(SigningKey.kid) == old_kid)
            .values(retire_after=datetime.now(UTC) - timedelta(seconds=1))
        )
    removed = await provider.keys.prune(actor="test")
    assert old_kid in removed
    after = {k["kid"] for k in (await browser.http.get("/auth/jwks")).json()["keys"]}
    assert old_kid not in after
    fresh_verifier = TokenVerifier(
        JwksCache(http_jwks_fetcher(f"{ISSUER}/auth/jwks", client=browser.http)),
        issuer=ISSUER,
        audience="samen",
    )
    with pytest.raises(ProblemError):
        await fresh_verifier.verify(old_token)
    info = await _post(browser.http, machine, "/auth/introspect", {"token": old_token})
    assert info.json() == {"active": False}


async def test_code_and_refresh_token_single_use_under_concurrency(
    browser: Browser, register: Any
) -> None:
    import asyncio

    rp = await register(refresh_tokens=True)
    login = await browser.login(rp)
    results = await asyncio.gather(*(browser.token(rp, login) for _ in range(6)))
    codes = [r.status_code for r in results]
    # Never two token sets for one code; a replay while the first redemption is in flight
    # makes it issue nothing, and what was issued before a replay is revoked (RFC 6749 4.1.2).
    assert codes.count(200) <= 1
    assert codes.count(400) >= 5
    for r in results:
        if r.status_code == 200:
            form = {"grant_type": "refresh_token", "refresh_token": r.json()["refresh_token"]}
            assert (await _post(browser.http, rp, "/auth/token", form)).status_code == 400
        else:
            assert r.json()["error"] == "invalid_grant"
    login = await browser.login(rp)
    refresh = (await browser.token(rp, login)).json()["refresh_token"]
    form = {"grant_type": "refresh_token", "refresh_token": refresh}
    results = await asyncio.gather(
        *(_post(browser.http, rp, "/auth/token", form) for _ in range(6))
    )
    # One wins the token, the others are reuse and revoke its family: whatever the winner
    # was given (if its recording came before the revocation) no longer works.
    assert [r.status_code for r in results].count(200) <= 1, [r.json() for r in results]
    for r in results:
        if r.status_code == 200:
            form = {"grant_type": "refresh_token", "refresh_token": r.json()["refresh_token"]}
            assert (await _post(browser.http, rp, "/auth/token", form)).status_code == 400


async def test_code_replay_revokes_the_refresh_token_it_produced(
    browser: Browser, register: Any
) -> None:
    rp = await register(refresh_tokens=True)
    login = await browser.login(rp)
    first = await browser.token(rp, login)
    assert first.status_code == 200
    replay = await browser.token(rp, login)
    assert replay.json()["error"] == "invalid_grant"
    form = {"grant_type": "refresh_token", "refresh_token": first.json()["refresh_token"]}
    assert (await _post(browser.http, rp, "/auth/token", form)).json()["error"] == "invalid_grant"
