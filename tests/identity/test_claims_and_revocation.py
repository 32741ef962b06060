"""Data minimisation with the `claims` request parameter at userinfo (OIDC Core §5.5) and
its disclosure log; access tokens of a replayed code, and revoked access tokens, at
introspection and userinfo."""

from __future__ import annotations

import json
from typing import Any

import httpx
from idkit import ISSUER, RP, Browser, decode_unverified, query_of


async def _post(http: httpx.AsyncClient, rp: RP, path: str, form: dict[str, str]) -> httpx.Response:
    data, headers = rp.auth(form, aud=f"{ISSUER}{path}")
    return await http.post(path, data=data, headers=headers)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def userinfo_disclosures(http: httpx.AsyncClient, rp: RP, token: str) -> list[list[str]]:
    """The attributes of each userinfo disclosure to this RP, newest first."""
    page = await http.get("/v1/me/disclosures?pageSize=100", headers=bearer(token))
    assert page.status_code == 200, page.text
    return [
        i["attributes"]
        for i in page.json()["items"]
        if i["clientId"] == rp.client_id and i["channel"] == "userinfo"
    ]


async def test_claims_request_minimises_userinfo_also_after_refresh(
    browser: Browser, register: Any
) -> None:
    rp = await register(
        allowed_scopes=["openid", "profile", "bsn"],
        bsn_legal_basis="Wet X",
        refresh_tokens=True,
    )
    claims = {
        # bsn is asked for but the bsn scope is not: never released.
        "userinfo": {"given_name": None, "bsn": {"essential": True}, "nickname": None},
        "id_token": {"family_name": None},
    }
    login = await browser.login(
        rp, "digid", "digid-fatima", scope="openid profile", claims=json.dumps(claims)
    )
    tokens = (await browser.token(rp, login)).json()
    id_claims = decode_unverified(tokens["id_token"])
    assert id_claims["family_name"] == "El Amrani"
    assert "given_name" not in id_claims
    assert "birthdate" not in id_claims

    info = await browser.http.get("/auth/userinfo", headers=bearer(tokens["access_token"]))
    assert info.status_code == 200, info.text
    assert info.json() == {"sub": id_claims["sub"], "given_name": "Fatima"}
    assert "999990019" not in info.text
    # POST with the token in the body gives the same minimised answer.
    posted = await browser.http.post(
        "/auth/userinfo", data={"access_token": tokens["access_token"]}
    )
    assert posted.json() == info.json()
    assert await userinfo_disclosures(browser.http, rp, tokens["access_token"]) == [
        ["given_name", "sub"],
        ["given_name", "sub"],
    ]

    # An access token obtained by refresh is just as minimised.
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    refreshed = (await _post(browser.http, rp, "/auth/token", form)).json()
    info = await browser.http.get("/auth/userinfo", headers=bearer(refreshed["access_token"]))
    assert info.json() == {"sub": id_claims["sub"], "given_name": "Fatima"}


async def test_userinfo_member_absent_empty_or_invalid(browser: Browser, register: Any) -> None:
    rp = await register(allowed_scopes=["openid", "profile"])
    # Only an id_token member: userinfo is decided by scope alone.
    login = await browser.login(
        rp, "digid", "digid-jan", claims=json.dumps({"id_token": {"given_name": None}})
    )
    tokens = (await browser.token(rp, login)).json()
    info = (await browser.http.get("/auth/userinfo", headers=bearer(tokens["access_token"]))).json()
    assert set(info) == {"sub", "given_name", "family_name", "name", "birthdate"}
    assert await userinfo_disclosures(browser.http, rp, tokens["access_token"]) == [
        ["birthdate", "family_name", "given_name", "name", "sub"]
    ]

    # An empty userinfo member: nothing but sub.
    login = await browser.login(rp, "digid", "digid-jan", claims=json.dumps({"userinfo": {}}))
    tokens = (await browser.token(rp, login)).json()
    info = (await browser.http.get("/auth/userinfo", headers=bearer(tokens["access_token"]))).json()
    assert set(info) == {"sub"}
    assert (await userinfo_disclosures(browser.http, rp, tokens["access_token"]))[0] == ["sub"]

    # A member that is not an object is refused at the authorization endpoint.
    response, _params, _ = await browser.start(rp, claims=json.dumps({"userinfo": ["bsn"]}))
    assert response.status_code == 303
    back = query_of(response.headers["location"])
    assert back["error"] == "invalid_request"
    assert "claims.userinfo" in back["error_description"]


async def test_represented_bsn_follows_the_claims_request(browser: Browser, register: Any) -> None:
    """Acting for someone else: the represents claim always comes along (it qualifies the
    sub), the represented person's BSN only when the bsn claim is released, and the log
    says so."""
    rp = await register(allowed_scopes=["openid", "profile", "bsn"], bsn_legal_basis="Wet X")
    login = await browser.login(
        rp,
        "digid",
        "digid-machtiging",
        scope="openid profile bsn",
        claims=json.dumps({"userinfo": {"given_name": None}}),
    )
    token = (await browser.token(rp, login)).json()["access_token"]
    info = (await browser.http.get("/auth/userinfo", headers=bearer(token))).json()
    assert set(info) == {"sub", "given_name", "represents"}
    assert "bsn" not in info["represents"]
    assert "999990032" not in json.dumps(info)
    assert (await userinfo_disclosures(browser.http, rp, token))[0] == [
        "given_name",
        "represents",
        "sub",
    ]

    login = await browser.login(
        rp,
        "digid",
        "digid-machtiging",
        scope="openid profile bsn",
        claims=json.dumps({"userinfo": {"bsn": None}}),
    )
    token = (await browser.token(rp, login)).json()["access_token"]
    info = (await browser.http.get("/auth/userinfo", headers=bearer(token))).json()
    assert info["bsn"] == "999990020"
    assert info["represents"]["bsn"] == "999990032"
    assert "given_name" not in info
    assert (await userinfo_disclosures(browser.http, rp, token))[0] == [
        "bsn",
        "represents",
        "sub",
        "represents.bsn",
    ]


async def test_code_replay_deactivates_the_access_tokens_it_produced(
    browser: Browser, register: Any
) -> None:
    rp = await register(refresh_tokens=True)
    rs = await register(grant_type="client_credentials", resource_audiences=["samen"])

    async def active(token: str) -> bool:
        body = (await _post(browser.http, rs, "/auth/introspect", {"token": token})).json()
        return bool(body["active"])

    login = await browser.login(rp)
    first = (await browser.token(rp, login)).json()
    form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    second = (await _post(browser.http, rp, "/auth/token", form)).json()
    produced = [first["access_token"], second["access_token"]]
    # Another code of the same session and client, which is not replayed.
    other_login = await browser.login(rp)
    other = (await browser.token(rp, other_login)).json()["access_token"]
    for token in [*produced, other]:
        assert await active(token)
        assert (await browser.http.get("/auth/userinfo", headers=bearer(token))).status_code == 200

    replay = await browser.token(rp, login)
    assert replay.json()["error"] == "invalid_grant"
    for token in produced:
        assert (await _post(browser.http, rs, "/auth/introspect", {"token": token})).json() == {
            "active": False
        }
        refused = await browser.http.get("/auth/userinfo", headers=bearer(token))
        assert refused.status_code == 401
        assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    # Precise: an access token of another code stays valid.
    assert await active(other)
    # The refresh token the replayed code's family holds now is revoked as well.
    form = {"grant_type": "refresh_token", "refresh_token": second["refresh_token"]}
    assert (await _post(browser.http, rp, "/auth/token", form)).json()["error"] == "invalid_grant"


async def test_code_replay_without_refresh_tokens(browser: Browser, register: Any) -> None:
    rp = await register()
    rs = await register(grant_type="client_credentials", resource_audiences=["samen"])
    login = await browser.login(rp)
    access = (await browser.token(rp, login)).json()["access_token"]
    assert (await _post(browser.http, rs, "/auth/introspect", {"token": access})).json()["active"]
    assert (await browser.token(rp, login)).json()["error"] == "invalid_grant"
    assert (await _post(browser.http, rs, "/auth/introspect", {"token": access})).json() == {
        "active": False
    }
    assert (await browser.http.get("/auth/userinfo", headers=bearer(access))).status_code == 401


async def test_revoked_user_access_token_is_inactive_and_refused_at_userinfo(
    browser: Browser, register: Any
) -> None:
    rp = await register()
    rs = await register(grant_type="client_credentials", resource_audiences=["samen"])
    login = await browser.login(rp)
    access = (await browser.token(rp, login)).json()["access_token"]
    assert (await browser.http.get("/auth/userinfo", headers=bearer(access))).status_code == 200
    revoked = await _post(
        browser.http, rp, "/auth/revoke", {"token": access, "token_type_hint": "access_token"}
    )
    assert revoked.status_code == 200
    assert (await _post(browser.http, rs, "/auth/introspect", {"token": access})).json() == {
        "active": False
    }
    refused = await browser.http.get("/auth/userinfo", headers=bearer(access))
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    # Revoking again is fine (RFC 7009) and changes nothing.
    again = await _post(browser.http, rp, "/auth/revoke", {"token": access})
    assert again.status_code == 200
