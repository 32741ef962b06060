"""Log-in as an OpenID Connect relying party: code + PKCE S256 + nonce + state with
private_key_jwt, the ID token validated, log-out through end-session, access tokens
refreshed when they expire, and the machine token for public pages."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import Portal
from fakes import GATEWAY, SUBSTANTIAL
from fastapi.responses import JSONResponse
from joserfc.jwk import RSAKey
from sqlalchemy import select

from portal.sessions.models import PortalSession
from portal.sessions.schemas import SessionData


async def session_data(portal: Portal) -> SessionData:
    async with portal.database.sessionmaker() as db:
        (row,) = (await db.execute(select(PortalSession))).scalars()
    return SessionData.model_validate_json(row.data)


async def test_login_sends_a_complete_authorization_request(portal: Portal) -> None:
    response = await portal.client.get("/login", params={"next": "/tenders?status=awarded"})
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("https://portal.test/auth/authorize?")
    query = portal.authorize_query(response)
    assert query["response_type"] == "code"
    assert query["client_id"] == "samen-portal"
    assert query["redirect_uri"] == "https://portal.test/login/callback"
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43
    assert len(query["state"]) >= 32
    assert len(query["nonce"]) >= 32
    assert "openid" in query["scope"].split()
    assert query["ui_locales"] == "nl"
    assert "acr_values" not in query
    data = await session_data(portal)
    pending = data.logins[query["state"]]
    assert pending.next == "/tenders?status=awarded"
    assert pending.nonce == query["nonce"]


async def test_login_completes_and_keeps_tokens_only_on_the_server(portal: Portal) -> None:
    before = (await portal.client.get("/login")).headers["set-cookie"]
    done = await portal.login(
        next_path="/tenders",
        org_name="Gemeente Utrecht",
        org_type="municipality",
        org_id="00000001001234567000",
        roles=["registry-editor"],
    )
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/tenders"
    cookie = done.headers["set-cookie"]
    assert cookie.split(";")[0] != before.split(";")[0]  # a new session id at log-in
    assert "at-" not in cookie
    assert "rt-" not in cookie
    data = await session_data(portal)
    assert data.person is not None
    assert data.person.name == "Anouk Bakker"
    assert data.person.org_type == "municipality"
    assert data.tokens is not None
    assert data.tokens.refresh_token
    # private_key_jwt, PKCE verifier and the code went to the token endpoint.
    form = portal.fake.token_requests[-1]
    assert form["grant_type"] == "authorization_code"
    assert form["code_verifier"]
    assert "client_secret" not in form
    home = await portal.client.get("/accessibility")
    assert "Anouk Bakker" in home.text
    assert "Onze gemeente" in home.text  # the municipal staff's section in the menu


@pytest.mark.parametrize(
    ("override", "why"),
    [
        ({"nonce": "other"}, "nonce"),
        ({"aud": "someone-else"}, "aud"),
        ({"iss": "https://evil.test"}, "iss"),
        ({"exp": int(time.time()) - 600}, "exp"),
        ({"acr": None}, "acr missing"),
    ],
)
async def test_an_id_token_that_does_not_validate_ends_the_login(
    portal: Portal, override: dict[str, Any], why: str
) -> None:
    portal.fake.id_token_overrides = override
    done = await portal.login()
    assert done.status_code == 400, why
    assert "Inloggen is niet gelukt" in done.text
    assert (await portal.client.get("/accessibility")).text.count("Uitloggen") == 0


async def test_an_id_token_signed_by_another_key_is_refused(portal: Portal) -> None:
    portal.fake.sign_with = RSAKey.generate_key(2048, parameters={"kid": "op-1"})
    assert (await portal.login()).status_code == 400


async def test_a_lower_level_than_asked_is_refused(portal: Portal) -> None:
    start = await portal.client.get("/login", params={"acr": SUBSTANTIAL})
    query = portal.authorize_query(start)
    assert query["acr_values"] == SUBSTANTIAL
    code = portal.fake.issue_code(
        query["nonce"], query["code_challenge"], acr="http://eidas.europa.eu/LoA/low"
    )
    done = await portal.client.get(
        "/login/callback", params={"state": query["state"], "code": code}
    )
    assert done.status_code == 400


async def test_unknown_state_replayed_callback_and_denied_login(portal: Portal) -> None:
    start = await portal.client.get("/login")
    query = portal.authorize_query(start)
    code = portal.fake.issue_code(query["nonce"], query["code_challenge"])
    wrong = await portal.client.get("/login/callback", params={"state": "nope", "code": code})
    assert wrong.status_code == 400
    ok = await portal.client.get("/login/callback", params={"state": query["state"], "code": code})
    assert ok.status_code == 303
    again = await portal.client.get(
        "/login/callback", params={"state": query["state"], "code": code}
    )
    assert again.status_code == 400
    denied = await portal.client.get(
        "/login/callback", params={"state": "x", "error": "access_denied"}
    )
    assert denied.status_code == 400
    assert "vereiste niveau" in denied.text


@pytest.mark.parametrize(
    "target", ["https://evil.test/", "//evil.test/x", "/\\evil.test", "javascript:alert(1)"]
)
async def test_next_never_leaves_the_site(portal: Portal, target: str) -> None:
    done = await portal.login(next_path=target)
    assert done.headers["location"] == "/"
    switch = await portal.client.get("/language", params={"lang": "en", "next": target})
    assert switch.headers["location"] == "/"


async def test_logout_ends_the_session_and_goes_through_end_session(portal: Portal) -> None:
    await portal.login()
    page = await portal.client.get("/accessibility")
    token = page.text.split('name="csrf" value="')[1].split('"')[0]
    done = await portal.client.post("/logout", data={"csrf": token})
    assert done.status_code == 303
    target = urlsplit(done.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == (
        "https://portal.test/auth/end-session"
    )
    query = {k: v[0] for k, v in parse_qs(target.query).items()}
    assert query["post_logout_redirect_uri"] == "https://portal.test/logged-out"
    assert query["id_token_hint"].count(".") == 2
    assert "max-age=0" in done.headers["set-cookie"].lower()
    async with portal.database.sessionmaker() as db:
        assert list((await db.execute(select(PortalSession))).scalars()) == []


async def test_expired_access_tokens_are_refreshed_and_rotated(portal: Portal) -> None:
    portal.fake.access_lifetime = 1  # expires within the refresh leeway: refreshed at once
    await portal.login(
        org_type="municipality", org_id="00000001001234567000", roles=["registry-editor"]
    )
    first = (await session_data(portal)).tokens
    assert first is not None
    seen: list[str] = []

    def record(request: Any, _body: bytes) -> JSONResponse:
        seen.append(request.headers["authorization"])
        return JSONResponse({"items": [], "total": 0, "page": 1, "pageSize": 100})

    portal.fake.on("GET", "/api/registry/v1/usages", record)
    portal.fake.json(
        "GET",
        "/api/registry/v1/organisations",
        {
            "items": [{"id": "m1", "name": "Utrecht", "type": "municipality"}],
            "total": 1,
            "page": 1,
            "pageSize": 20,
        },
    )
    await portal.client.get("/municipality/usages")
    refreshed = (await session_data(portal)).tokens
    assert refreshed is not None
    assert refreshed.refresh_token != first.refresh_token  # rotated, and the new one kept
    assert refreshed.access_token != first.access_token
    assert seen
    assert seen[0] == f"Bearer {refreshed.access_token}"
    assert any(f["grant_type"] == "refresh_token" for f in portal.fake.token_requests)


async def test_a_refused_refresh_sends_the_person_to_log_in_again(portal: Portal) -> None:
    portal.fake.access_lifetime = 1
    await portal.login(
        org_type="municipality", org_id="00000001001234567000", roles=["registry-editor"]
    )
    portal.fake.refresh_tokens.clear()  # revoked at identity
    response = await portal.client.get("/municipality/usages")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fmunicipality%2Fusages"
    assert (await session_data(portal)).person is None


async def test_public_pages_use_the_portals_own_read_token(portal: Portal) -> None:
    portal.fake.json(
        "GET", "/api/procurement/v1/tenders", {"items": [], "total": 0, "page": 1, "pageSize": 20}
    )
    await portal.client.get("/tenders")
    await portal.client.get("/tenders")
    grants = [f for f in portal.fake.token_requests if f["grant_type"] == "client_credentials"]
    assert len(grants) == 1  # cached until it nearly expires
    assert grants[0]["client_id"] == "samen-portal-reader"
    assert grants[0]["scope"] == "registry:read procurement:read"
    (call, _) = portal.fake.api_calls("/api/procurement/v1/tenders")[:2]
    assert call[2]["authorization"].startswith("Bearer at-")
    assert GATEWAY.startswith("https://")
