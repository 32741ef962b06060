"""Token rules without HTTP: a code grant's access token is named by the code; a replayed
code revokes what its first use issued (refresh tokens and the access tokens of the whole
grant); a refresh token is used once and rotated within its family's absolute end, and one
used twice revokes its family with every access token the family gave; a revoked access
token is inactive and in the revocation feed, which only resource servers read; only the
token's own client (or a resource server of its audience) learns that it is active (the
token and access-token services on a real database)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from idkit import RP, authorize_params, code_form, decode_unverified, issue_code, person, query_of
from sqlmodel import col, select

from identity.audit.models import AuditEvent
from identity.common import sha256_hex
from identity.oauth.errors import OAuthError
from identity.tokens.access import AccessTokens
from identity.tokens.models import RefreshToken
from identity.tokens.service import TokenService
from servicekit.clock import aware, utcnow
from servicekit.db import Database


class Grants:
    """One relying party's grants, straight from the services."""

    def __init__(self, provider: Any, rp: RP) -> None:
        self.provider, self.rp = provider, rp
        self.tokens: TokenService = provider.tokens
        self.access: AccessTokens = provider.access

    async def client(self) -> Any:
        return await self.provider.clients.get(self.rp.client_id)

    async def code(self, **kw: Any) -> tuple[str, dict[str, Any]]:
        """(code, token response) of a new login."""
        code, verifier = await issue_code(self.provider.authorization, self.rp, **kw)
        form = code_form(self.rp, code, verifier)
        return code, await self.tokens.authorization_code(await self.client(), form)

    async def redeem(self, code: str) -> dict[str, Any]:
        """The same code again (its verifier does not matter to a replay)."""
        form = code_form(self.rp, code, "v" * 43)
        return await self.tokens.authorization_code(await self.client(), form)

    async def refresh(self, token: str, **form: str) -> dict[str, Any]:
        form = {"grant_type": "refresh_token", "refresh_token": token, **form}
        return await self.tokens.refresh(await self.client(), form)

    async def active(self, *tokens: str) -> list[bool]:
        return [await self.access.claims_of(t) is not None for t in tokens]

    async def refusal(self, call: Any) -> tuple[str, str]:
        with pytest.raises(OAuthError) as refused:
            await call
        return refused.value.error, refused.value.description


@pytest.fixture
def grants(app: Any, register: Any) -> Any:
    async def _grants(**kw: Any) -> Grants:
        return Grants(app.state.identity, await register(**kw))

    return _grants


def jti(token: str) -> str:
    return str(decode_unverified(token)["jti"])


async def _revoked(access: AccessTokens, *tokens: str) -> set[str]:
    """Which of these access tokens the revocation feed lists."""
    listed = {e["jti"] for e in (await access.revoked_since(None))["revoked"]}
    return {jti(t) for t in tokens} & listed


async def _refresh_row(database: Database, token: str) -> RefreshToken:
    async with database.sessionmaker() as session:
        row = await session.get(RefreshToken, sha256_hex(token))
    assert row is not None
    return row


async def test_a_code_grant_names_its_tokens_by_the_code(grants: Any, database: Database) -> None:
    g = await grants(refresh_tokens=True, allowed_scopes=["openid", "profile"])
    code, issued = await g.code(nonce="n-1", scope="openid profile email")
    claims = decode_unverified(issued["access_token"])
    assert claims["jti"] == g.tokens.code_access_jti(sha256_hex(code))
    assert (claims["aud"], claims["azp"], claims["scope"]) == (
        ["samen", g.rp.client_id], g.rp.client_id, "openid profile")  # fmt: skip
    assert claims["exp"] - claims["iat"] == issued["expires_in"] == 3600
    id_token = decode_unverified(issued["id_token"])
    assert (id_token["nonce"], id_token["sub"], id_token["given_name"]) == (
        "n-1", claims["sub"], "Jan")  # fmt: skip
    assert id_token["exp"] - id_token["iat"] <= 300
    row = await _refresh_row(database, issued["refresh_token"])
    assert (row.family_id, row.scope) == (g.tokens.family_of(sha256_hex(code)), "openid profile")
    plain = await grants()  # refresh tokens not enabled: none issued
    assert "refresh_token" not in (await plain.code())[1]


async def test_a_replayed_code_revokes_what_its_first_use_issued(
    grants: Any, database: Database
) -> None:
    g = await grants(refresh_tokens=True)
    code, first = await g.code()
    rotated = await g.refresh(first["refresh_token"])
    assert await g.active(first["access_token"], rotated["access_token"]) == [True, True]
    assert await g.refusal(g.redeem(code)) == ("invalid_grant", "The code was already used.")
    assert await g.active(first["access_token"], rotated["access_token"]) == [False, False]
    assert await _revoked(g.access, first["access_token"], rotated["access_token"]) == {
        jti(first["access_token"]), jti(rotated["access_token"])}  # fmt: skip
    assert (await _refresh_row(database, rotated["refresh_token"])).revoked_at is not None
    assert await g.refusal(g.refresh(rotated["refresh_token"])) == (
        "invalid_grant", "The refresh token was already used or revoked.")  # fmt: skip
    # An unknown code is refused without revoking anything.
    assert await g.refusal(g.redeem("no-such-code")) == ("invalid_grant", "The code is invalid.")


async def test_a_replay_revokes_only_that_code_s_grant_not_the_session_s_others(
    grants: Any,
) -> None:
    """Single sign-on gives one client several codes in one login session (a second tab);
    a replay of one revokes what that code gave, not the other tab's tokens."""
    g = await grants(refresh_tokens=True)
    authorization = g.provider.authorization
    params, verifier = authorize_params(g.rp)
    request = await authorization.store(await authorization.validate(params))
    cookie, redirect = await authorization.login_and_issue_code(request, person())
    code = query_of(redirect)["code"]
    first = await g.tokens.authorization_code(await g.client(), code_form(g.rp, code, verifier))
    params, verifier = authorize_params(g.rp)
    request = await authorization.store(await authorization.validate(params))
    login = await authorization.sessions.load(cookie)
    second_code = query_of(await authorization.issue_code(request, login))["code"]
    second = await g.tokens.authorization_code(
        await g.client(), code_form(g.rp, second_code, verifier)
    )
    assert await g.refusal(g.redeem(code)) == ("invalid_grant", "The code was already used.")
    assert await g.active(first["access_token"], second["access_token"]) == [False, True]
    assert "refresh_token" in await g.refresh(second["refresh_token"])
    assert await g.refusal(g.refresh(first["refresh_token"])) == (
        "invalid_grant", "The refresh token was already used or revoked.")  # fmt: skip


async def test_a_code_replayed_by_another_client_revokes_nothing(grants: Any) -> None:
    g, other = await grants(), await grants()
    code, first = await g.code()
    assert await other.refusal(other.redeem(code)) == ("invalid_grant", "The code is invalid.")
    assert await g.active(first["access_token"]) == [True]


async def test_a_refresh_token_used_twice_revokes_its_family(
    grants: Any, database: Database
) -> None:
    g = await grants(refresh_tokens=True)
    _, first = await g.code()
    second = await g.refresh(first["refresh_token"])
    third = await g.refresh(second["refresh_token"])
    assert second["refresh_token"] != first["refresh_token"]
    assert "id_token" not in second  # a refresh gives no new ID token
    _, other_login = await g.code()  # another family of the same client

    assert await g.refusal(g.refresh(first["refresh_token"])) == (
        "invalid_grant", "The refresh token was already used or revoked.")  # fmt: skip
    family = [first["access_token"], second["access_token"], third["access_token"]]
    assert await g.active(*family) == [False, False, False]
    assert await _revoked(g.access, *family) == {jti(t) for t in family}
    assert await g.refusal(g.refresh(third["refresh_token"])) == (
        "invalid_grant", "The refresh token was already used or revoked.")  # fmt: skip
    assert (await _refresh_row(database, third["refresh_token"])).revoked_at is not None
    # The other family is untouched.
    assert await g.active(other_login["access_token"]) == [True]
    assert "refresh_token" in await g.refresh(other_login["refresh_token"])
    family_id = (await _refresh_row(database, first["refresh_token"])).family_id
    query = select(AuditEvent.action).where(col(AuditEvent.subject) == family_id)
    async with database.sessionmaker() as session:
        assert list((await session.execute(query)).scalars()) == ["refresh.reuse_detected"]


async def test_a_refresh_stays_within_its_grant(grants: Any, database: Database) -> None:
    g = await grants(refresh_tokens=True)
    _, issued = await g.code()
    first = await _refresh_row(database, issued["refresh_token"])
    narrower = await g.refresh(issued["refresh_token"], scope="openid")
    assert (narrower["scope"], decode_unverified(narrower["access_token"])["scope"]) == (
        "openid", "openid")  # fmt: skip
    rotated = await _refresh_row(database, narrower["refresh_token"])
    # Rotation never moves the family's absolute end.
    assert aware(rotated.family_expires_at) == aware(first.family_expires_at)
    assert rotated.expires_at <= rotated.family_expires_at
    assert aware(first.family_expires_at) - aware(first.created_at) == timedelta(
        seconds=g.tokens.settings.refresh_token_family_lifetime)  # fmt: skip

    _, issued = await g.code()
    assert await g.refusal(g.refresh(issued["refresh_token"], scope="openid email")) == (
        "invalid_scope", "A refresh cannot widen the scope.")  # fmt: skip
    # The refused refresh did not use the token up: a retry within the grant works
    # and is not taken for reuse (the family's access token stays active).
    retried = await g.refresh(issued["refresh_token"], scope="openid")
    assert await g.active(issued["access_token"], retried["access_token"]) == [True, True]
    # A spent token asking for more is still reuse: the family is revoked.
    assert await g.refusal(g.refresh(issued["refresh_token"], scope="openid email")) == (
        "invalid_grant", "The refresh token was already used or revoked.")  # fmt: skip
    assert await g.active(retried["access_token"]) == [False]
    _, issued = await g.code()
    other = await grants(refresh_tokens=True)
    assert await other.refusal(other.refresh(issued["refresh_token"])) == (
        "invalid_grant", "The refresh token is invalid.")  # fmt: skip
    assert "refresh_token" in await g.refresh(issued["refresh_token"])  # still its client's
    without = await grants(refresh_tokens=False)
    assert (await without.refusal(without.refresh(issued["refresh_token"])))[0] == (
        "unauthorized_client")  # fmt: skip


async def test_revocation_of_access_and_refresh_tokens(grants: Any) -> None:
    g = await grants(refresh_tokens=True)
    other = await grants()
    _, issued = await g.code()
    access = issued["access_token"]
    assert await other.refusal(other.access.revoke(await other.client(), access)) == (
        "unauthorized_client", "The token was issued to another client.")  # fmt: skip
    assert await g.active(access) == [True]
    await g.access.revoke(await g.client(), "not-a-token")  # unknown: not an error (RFC 7009)
    await g.access.revoke(await g.client(), access)
    assert await g.active(access) == [False]
    assert await g.access.introspect(await g.client(), access) == {"active": False}
    entry = next(e for e in (await g.access.revoked_since(None))["revoked"]
                 if e["jti"] == jti(access))  # fmt: skip
    assert entry["exp"] >= decode_unverified(access)["exp"] - 1

    # Revoking a refresh token revokes its family and the access tokens it gave.
    _, issued = await g.code()
    rotated = await g.refresh(issued["refresh_token"])
    await g.access.revoke(await g.client(), rotated["refresh_token"])
    assert await g.active(issued["access_token"], rotated["access_token"]) == [False, False]
    assert await g.refusal(g.refresh(rotated["refresh_token"])) == (
        "invalid_grant", "The refresh token was already used or revoked.")  # fmt: skip


async def test_introspection_answers_only_the_client_and_its_audience(grants: Any) -> None:
    g = await grants(refresh_tokens=True)
    other = await grants()
    server = await grants(grant_type="client_credentials", resource_audiences=["samen"])
    _, issued = await g.code()
    access, refresh = issued["access_token"], issued["refresh_token"]
    own = await g.access.introspect(await g.client(), access)
    assert (own["active"], own["jti"], own["client_id"]) == (True, jti(access), g.rp.client_id)
    assert (await g.access.introspect(await server.client(), access))["active"] is True
    assert await g.access.introspect(await other.client(), access) == {"active": False}
    info = await g.access.introspect(await g.client(), refresh)
    assert (info["active"], info["token_type"], info["scope"]) == (
        True, "refresh_token", "openid profile")  # fmt: skip
    assert await g.access.introspect(await other.client(), refresh) == {"active": False}
    await g.refresh(refresh)
    assert await g.access.introspect(await g.client(), refresh) == {"active": False}  # used


async def test_the_revocation_feed_is_for_resource_servers(grants: Any) -> None:
    g = await grants()
    server = await grants(grant_type="client_credentials", resource_audiences=["samen"])
    with pytest.raises(OAuthError) as refused:
        await g.access.revocation_feed(await g.client(), None)
    assert (refused.value.error, refused.value.status) == ("unauthorized_client", 403)
    for since in ("yesterday", "-1", "nan"):
        feed = server.access.revocation_feed(await server.client(), since)
        assert await server.refusal(feed) == (
            "invalid_request", "since must be a cursor of this feed.")  # fmt: skip

    _, issued = await g.code()
    start = await server.access.revocation_feed(await server.client(), None)
    await g.access.revoke(await g.client(), issued["access_token"])
    later = await server.access.revocation_feed(await server.client(), start["cursor"])
    assert jti(issued["access_token"]) in {e["jti"] for e in later["revoked"]}
    assert float(later["cursor"]) >= float(start["cursor"])
    # A cursor resends only the last FEED_OVERLAP_SECONDS before it.
    future = f"{utcnow().timestamp() + 120:.3f}"
    ahead = await server.access.revocation_feed(await server.client(), future)
    assert jti(issued["access_token"]) not in {e["jti"] for e in ahead["revoked"]}
