"""Authorization rules without HTTP: a request names a registered client and redirect URI
(else a page, never a redirect), carries PKCE with S256 only and a nonce; it completes
once and not after it expired; upstream starts only with a means that reaches its level;
a code is spent once, by its own client, with a verifier that matches its challenge,
before it expires and while its login session lasts — and a failed redemption spends it
too (the authorization service on a real database)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from idkit import (
    LOA_HIGH,
    LOA_LOW,
    LOA_SUBSTANTIAL,
    RP,
    authorize_params,
    issue_code,
    person,
    query_of,
)
from sqlmodel import col, update

from identity.authorization.models import AuthorizationCode, AuthorizationRequest
from identity.authorization.service import AuthorizationService
from identity.common import sha256_hex
from identity.oauth.errors import OAuthError, PageError, RedirectError
from servicekit.clock import utcnow
from servicekit.db import Database


@pytest.fixture
def authorization(app: Any) -> AuthorizationService:
    service: AuthorizationService = app.state.identity.authorization
    return service


async def _request(authorization: AuthorizationService, rp: RP, **kw: Any) -> Any:
    params, _ = authorize_params(rp, **kw)
    return await authorization.store(await authorization.validate(params))


async def _spend(authorization: AuthorizationService, rp: RP, code: str, verifier: str,
                 **form: str) -> Any:  # fmt: skip
    client = await authorization.clients.get(rp.client_id)
    form = {"code": code, "redirect_uri": rp.redirect_uri, **form}
    return await authorization.spend_code(client, form, verifier, utcnow())


def _leg(state: str) -> dict[str, str]:
    return {"upstream_state": state, "upstream_nonce": "n", "upstream_verifier": "v", "csrf": "c"}


@pytest.mark.parametrize(
    ("params", "error", "description"),
    [
        ({"code_challenge_method": "plain", "code_challenge": "p" * 43}, "invalid_request",
         "code_challenge_method must be S256."),
        ({"code_challenge_method": None}, "invalid_request", "code_challenge_method must be S256."),
        ({"code_challenge": None}, "invalid_request",
         "PKCE is required: code_challenge is missing."),
        ({"code_challenge": "too-short"}, "invalid_request", "code_challenge is malformed."),
        ({"nonce": None}, "invalid_request", "nonce is required."),
        ({"scope": "profile"}, "invalid_scope", "The openid scope is required."),
        ({"response_type": "token"}, "unsupported_response_type",
         "Only response_type=code is supported."),
        ({"acr_values": "urn:unknown"}, "invalid_request", "acr_values names no supported level."),
    ],
)  # fmt: skip
async def test_a_request_needs_pkce_s256_and_a_nonce(
    authorization: AuthorizationService,
    register: Any,
    params: dict[str, Any],
    error: str,
    description: str,
) -> None:
    rp = await register()
    query, _ = authorize_params(rp, state="s-1", **params)
    with pytest.raises(RedirectError) as refused:
        await authorization.validate(query)
    # Errors about anything but the client and its redirect URI go back to the client.
    assert (refused.value.error, refused.value.description) == (error, description)
    assert (refused.value.redirect_uri, refused.value.state) == (rp.redirect_uri, "s-1")


async def test_an_unknown_client_or_redirect_uri_is_a_page(
    authorization: AuthorizationService, register: Any
) -> None:
    rp = await register()
    for params in ({"client_id": "rp-unknown"}, {"redirect_uri": rp.redirect_uri + "/other"},
                   {"redirect_uri": rp.redirect_uri + "?x=1"}):  # fmt: skip
        query, _ = authorize_params(rp, **params)
        with pytest.raises(PageError):  # never a redirect to an unchecked address
            await authorization.validate(query)


async def test_a_valid_request_keeps_what_the_client_may_have(
    authorization: AuthorizationService, register: Any
) -> None:
    rp = await register(minimum_loa=LOA_LOW)
    query, verifier = authorize_params(
        rp, scope="openid email profile openid", acr_values=f"{LOA_HIGH} {LOA_SUBSTANTIAL}"
    )
    validated = await authorization.validate(query)
    # Scopes the client may not have are dropped; acr_values is met by its lowest level.
    assert validated.params["scope"] == "openid profile"
    assert validated.params["code_challenge"] == create_s256_code_challenge(verifier)
    assert validated.required_loa == LOA_SUBSTANTIAL
    essential = json.dumps({"id_token": {"acr": {"essential": True, "values": [LOA_HIGH]}}})
    query, _ = authorize_params(rp, claims=essential)
    assert (await authorization.validate(query)).required_loa == LOA_HIGH


async def test_a_request_completes_once_and_not_after_it_expired(
    authorization: AuthorizationService, register: Any, database: Database
) -> None:
    rp = await register()
    request = await _request(authorization, rp, state="s-2")
    assert (await authorization.load(request.id)).id == request.id
    cookie, redirect = await authorization.login_and_issue_code(request, person())
    assert redirect.startswith(rp.redirect_uri + "?code=")
    assert (query_of(redirect)["state"], query_of(redirect)["iss"]) == ("s-2", authorization.issuer)
    with pytest.raises(PageError):
        await authorization.login_and_issue_code(request, person())
    login = await authorization.sessions.load(cookie)
    with pytest.raises(PageError):
        await authorization.issue_code(request, login)
    assert await authorization.load(request.id) is None

    stale = await _request(authorization, rp)
    async with database.sessionmaker() as session, session.begin():
        await session.execute(update(AuthorizationRequest)
            .where(col(AuthorizationRequest.id) == stale.id)
            .values(expires_at=utcnow() - timedelta(seconds=1)))  # fmt: skip
    assert await authorization.load(stale.id) is None
    assert await authorization.start_upstream(stale.id, "digid", _leg(stale.id)) is None


async def test_upstream_starts_only_with_a_means_that_reaches_the_level(
    authorization: AuthorizationService, register: Any
) -> None:
    rp = await register(minimum_loa=LOA_HIGH)
    request = await _request(authorization, rp)
    leg = _leg(request.id)
    assert await authorization.start_upstream(request.id, "yivi", leg) is None  # substantial
    assert await authorization.start_upstream(request.id, "nope", leg) is None
    assert await authorization.start_upstream(request.id, "digid", leg) == LOA_HIGH
    assert (await authorization.by_upstream_state(request.id)).means == "digid"


async def test_a_code_is_spent_once_by_its_own_client(
    authorization: AuthorizationService, register: Any
) -> None:
    rp, other = await register(), await register()
    code, verifier = await issue_code(authorization, rp, nonce="n-1")
    assert await _spend(authorization, other, code, verifier) is None  # not other's to spend
    spent = await _spend(authorization, rp, code, verifier)
    assert (spent.code.client_id, spent.code.nonce, spent.code.scope) == (
        rp.client_id, "n-1", "openid profile")  # fmt: skip
    assert (spent.code.code_hash, spent.login.acr) == (sha256_hex(code), LOA_SUBSTANTIAL)
    assert await _spend(authorization, rp, code, verifier) is None


@pytest.mark.parametrize(
    ("breaking", "description"),
    [
        ({"verifier": "x" * 43}, "The code_verifier does not match the code_challenge."),
        ({"redirect_uri": "https://rp.example.nl/other"},
         "redirect_uri does not match the authorization request."),
    ],
)  # fmt: skip
async def test_a_failed_redemption_spends_the_code(
    authorization: AuthorizationService,
    register: Any,
    breaking: dict[str, str],
    description: str,
) -> None:
    rp = await register()
    code, verifier = await issue_code(authorization, rp)
    with pytest.raises(OAuthError) as refused:
        await _spend(authorization, rp, code, breaking.pop("verifier", verifier), **breaking)
    assert (refused.value.error, refused.value.description) == ("invalid_grant", description)
    assert await _spend(authorization, rp, code, verifier) is None


async def test_the_verifier_must_be_a_pkce_verifier(
    authorization: AuthorizationService, register: Any
) -> None:
    rp = await register()
    # Its S256 challenge is well-formed, but RFC 7636 verifiers are 43 to 128 characters.
    code, verifier = await issue_code(authorization, rp, verifier="short")
    with pytest.raises(OAuthError) as refused:
        await _spend(authorization, rp, code, verifier)
    assert refused.value.description == "The code_verifier does not match the code_challenge."


async def test_an_expired_code_or_an_ended_session_is_refused(
    authorization: AuthorizationService, register: Any, database: Database
) -> None:
    rp = await register()
    code, verifier = await issue_code(authorization, rp)
    async with database.sessionmaker() as session, session.begin():
        await session.execute(update(AuthorizationCode)
            .where(col(AuthorizationCode.code_hash) == sha256_hex(code))
            .values(expires_at=utcnow() - timedelta(seconds=1)))  # fmt: skip
    with pytest.raises(OAuthError) as expired:
        await _spend(authorization, rp, code, verifier)
    assert expired.value.description == "The code has expired."

    params, verifier = authorize_params(rp)
    request = await authorization.store(await authorization.validate(params))
    cookie, redirect = await authorization.login_and_issue_code(request, person())
    await authorization.sessions.end(await authorization.sessions.load(cookie), actor="test")
    code = query_of(redirect)["code"]
    with pytest.raises(OAuthError) as ended:
        await _spend(authorization, rp, code, verifier)
    assert ended.value.description == "The login session has ended."
