"""The revocation feed for resource servers (`POST /auth/revocations`), the access tokens of
revoked refresh-token families, and who may learn that a token is active at
introspection."""

from __future__ import annotations

from typing import Any

import httpx
from idkit import ISSUER, RP, Browser, basic_header, decode_unverified


async def _post(http: httpx.AsyncClient, rp: RP, path: str, form: dict[str, str]) -> httpx.Response:
    data, headers = rp.auth(form, aud=f"{ISSUER}{path}")
    return await http.post(path, data=data, headers=headers)


async def feed(http: httpx.AsyncClient, rs: RP, since: str | None = None) -> dict[str, Any]:
    r = await _post(http, rs, "/auth/revocations", {} if since is None else {"since": since})
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    body: dict[str, Any] = r.json()
    return body


def jtis(body: dict[str, Any]) -> set[str]:
    return {entry["jti"] for entry in body["revoked"]}


async def test_revoked_access_tokens_are_published(browser: Browser, register: Any) -> None:
    rp = await register()
    rs = await register(grant_type="client_credentials", resource_audiences=["samen"])
    start = await feed(browser.http, rs)
    login = await browser.login(rp)
    access = (await browser.token(rp, login)).json()["access_token"]
    claims = decode_unverified(access)
    assert claims["jti"] not in jtis(start)
    assert (await _post(browser.http, rp, "/auth/revoke", {"token": access})).status_code == 200
    listed = await feed(browser.http, rs)
    entry = next(e for e in listed["revoked"] if e["jti"] == claims["jti"])
    assert entry["exp"] >= claims["exp"]
    # Incremental: since the last cursor, the revocation is still there (overlap), and
    # the next cursor moves on.
    later = await feed(browser.http, rs, start["cursor"])
    assert claims["jti"] in jtis(later)
    assert float(later["cursor"]) >= float(start["cursor"])


async def test_a_service_reads_the_feed_with_client_secret_basic(
    browser: Browser, register: Any
) -> None:
    """As servicekit's poller does in development: Basic credentials and an empty form."""
    rs = await register(
        grant_type="client_credentials",
        token_endpoint_auth_method="client_secret_basic",
        resource_audiences=["samen"],
    )
    assert rs.secret
    r = await browser.http.post(
        "/auth/revocations",
        content=b"",
        headers={
            "Authorization": basic_header(rs.client_id, rs.secret),
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert r.status_code == 200, r.text
    assert isinstance(r.json()["revoked"], list)


async def test_only_resource_servers_read_the_feed(browser: Browser, register: Any) -> None:
    machine = await register(grant_type="client_credentials")
    refused = await _post(browser.http, machine, "/auth/revocations", {})
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"] == "unauthorized_client"
    anonymous = await browser.http.post("/auth/revocations", data={"since": "1"})
    assert anonymous.status_code == 401
    rs = await register(grant_type="client_credentials", resource_audiences=["samen"])
    bad = await _post(browser.http, rs, "/auth/revocations", {"since": "yesterday"})
    assert bad.status_code == 400
    assert bad.json()["error"] == "invalid_request"


async def test_a_revoked_refresh_family_takes_its_access_tokens_along(
    browser: Browser, register: Any
) -> None:
    rp = await register(refresh_tokens=True)
    rs = await register(grant_type="client_credentials", resource_audiences=["samen"])
    login = await browser.login(rp)
    first = (await browser.token(rp, login)).json()
    form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    second = (await _post(browser.http, rp, "/auth/token", form)).json()
    produced = [decode_unverified(t["access_token"])["jti"] for t in (first, second)]
    revoke = {"token": second["refresh_token"], "token_type_hint": "refresh_token"}
    assert (await _post(browser.http, rp, "/auth/revoke", revoke)).status_code == 200
    assert set(produced) <= jtis(await feed(browser.http, rs))
    for token in (first["access_token"], second["access_token"]):
        body = (await _post(browser.http, rs, "/auth/introspect", {"token": token})).json()
        assert body == {"active": False}


async def test_reuse_of_a_refresh_token_revokes_the_familys_access_tokens(
    browser: Browser, register: Any
) -> None:
    rp = await register(refresh_tokens=True)
    rs = await register(grant_type="client_credentials", resource_audiences=["samen"])
    login = await browser.login(rp)
    first = (await browser.token(rp, login)).json()
    form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    second = (await _post(browser.http, rp, "/auth/token", form)).json()
    assert (await _post(browser.http, rp, "/auth/token", form)).json()["error"] == "invalid_grant"
    listed = jtis(await feed(browser.http, rs))
    for token in (first["access_token"], second["access_token"]):
        assert decode_unverified(token)["jti"] in listed


async def test_introspection_answers_active_only_to_owner_and_resource_servers(
    browser: Browser, register: Any
) -> None:
    rp = await register()
    other = await register(grant_type="client_credentials")
    other_rp = await register()
    rs = await register(grant_type="client_credentials", resource_audiences=["samen"])
    elsewhere = await register(grant_type="client_credentials", resource_audiences=["other-api"])
    login = await browser.login(rp)
    access = (await browser.token(rp, login)).json()["access_token"]
    for outsider in (other, other_rp, elsewhere):
        body = (await _post(browser.http, outsider, "/auth/introspect", {"token": access})).json()
        assert body == {"active": False}, outsider.client_id
    for allowed in (rp, rs):
        body = (await _post(browser.http, allowed, "/auth/introspect", {"token": access})).json()
        assert body["active"] is True, allowed.client_id
        assert body["client_id"] == rp.client_id
