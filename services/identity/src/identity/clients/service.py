"""Client registry rules and transactions, and a short-lived cache for the token path."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from cachetools import TTLCache
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.actor import Actor
from servicekit.clock import utcnow
from servicekit.db import Database
from servicekit.errors import BadRequest, Conflict, NotFound
from servicekit.http import make_etag
from servicekit.pagination import PageParams

from ..audit.repository import actor_name, add_audit
from ..common import random_token, sha256_hex
from . import repository
from .models import Client
from .redirect_uris import fetched_uri_problem, origin_of, redirect_uri_problem
from .schemas import KNOWN_SCOPES, ClientIn, ClientOut

CLIENT_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{2,99}$")
OIDC_ONLY = {"openid", "profile", "email", "bsn"}
JWKS_MAX_CHARS = 32_768
JWKS_MAX_KEYS = 10
RSA_BITS = (2048, 8192)
# JWK members of private or symmetric keys (RFC 7518 §6.2.2, §6.3.2, §6.4.1).
PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


def _bad(name: str, reason: str) -> BadRequest:
    return BadRequest(
        "The client registration is invalid.", invalid_params=[{"name": name, "reason": reason}]
    )


def check_redirect_uris(data: ClientIn, production: bool) -> None:
    """The redirect URI rules (clients/redirect_uris.py) for every registration path:
    /v1/clients, register-client and dynamic registration."""
    native = data.token_endpoint_auth_method == "none"  # noqa: S105
    for field, uris in (
        ("redirectUris", data.redirect_uris),
        ("postLogoutRedirectUris", data.post_logout_redirect_uris),
    ):
        for i, uri in enumerate(uris):
            problem = redirect_uri_problem(uri, production, native)
            if problem:
                raise _bad(f"{field}[{i}]", problem)
        _refuse_repeats(field, uris)


def _refuse_repeats(field: str, uris: list[str]) -> None:
    # A repeated URI is a mistake in the registration, not a second permission.
    seen: set[str] = set()
    for i, uri in enumerate(uris):
        if uri in seen:
            raise _bad(f"{field}[{i}]", "is listed twice")
        seen.add(uri)


def validate(data: ClientIn, production: bool = False) -> None:
    """Rules across fields (400 with invalidParams when broken)."""
    unknown = [s for s in data.allowed_scopes if s not in KNOWN_SCOPES]
    if unknown:
        raise _bad("allowedScopes", f"unknown scopes: {', '.join(sorted(unknown))}")
    check_redirect_uris(data, production)
    if data.resource_audiences and data.token_endpoint_auth_method == "none":  # noqa: S105
        raise _bad("resourceAudiences", "a resource server must authenticate")
    if data.grant_type == "client_credentials":
        _check_machine_client(data)
    else:
        _check_user_client(data)
    if "bsn" in data.allowed_scopes and not data.bsn_legal_basis:
        raise _bad("bsnLegalBasis", "the bsn scope requires a registered legal basis")
    if (data.org_id is None) != (data.org_type is None):
        raise _bad("orgType", "orgId and orgType go together")
    _check_keys(data)
    _check_rp_metadata(data)


def _check_machine_client(data: ClientIn) -> None:
    if data.redirect_uris or data.post_logout_redirect_uris:
        raise _bad("redirectUris", "a client_credentials client has no redirect URIs")
    if data.token_endpoint_auth_method == "none":  # noqa: S105
        raise _bad("tokenEndpointAuthMethod", "a machine client must authenticate")
    if data.refresh_tokens:
        raise _bad("refreshTokens", "client_credentials clients get no refresh tokens")
    if set(data.allowed_scopes) & OIDC_ONLY:
        raise _bad("allowedScopes", "OpenID scopes need the authorization_code grant")


def _check_user_client(data: ClientIn) -> None:
    if not data.redirect_uris:
        raise _bad("redirectUris", "at least one redirect URI is required")
    if "openid" not in data.allowed_scopes:
        raise _bad("allowedScopes", "must include openid")
    if data.org_id or data.org_type or data.roles:
        raise _bad("orgId", "organisation claims come from the user's login, not the client")


def _check_rp_metadata(data: ClientIn) -> None:
    """Request objects and encrypted userinfo use the client's registered keys."""
    for i, uri in enumerate(data.request_uris):
        # Fetched by the OP (OIDC Core §6.2 allows a fragment, which is not sent).
        problem = fetched_uri_problem(uri.split("#", 1)[0])
        if problem:
            raise _bad(f"requestUris[{i}]", problem)
    _refuse_repeats("requestUris", data.request_uris)
    if data.request_uris and data.grant_type != "authorization_code":
        raise _bad("requestUris", "only for clients of the authorization code flow")
    if data.userinfo_encrypted_response_enc and not data.userinfo_encrypted_response_alg:
        raise _bad("userinfoEncryptedResponseAlg", "is needed with userinfoEncryptedResponseEnc")
    if data.userinfo_encrypted_response_alg and not (data.jwks or data.jwks_uri):
        raise _bad("userinfoEncryptedResponseAlg", "needs the client's keys (jwks or jwksUri)")
    if (data.userinfo_signed_response_alg or data.userinfo_encrypted_response_alg) and (
        data.grant_type != "authorization_code"
    ):
        raise _bad("userinfoSignedResponseAlg", "only for clients of the authorization code flow")


def _check_keys(data: ClientIn) -> None:
    if data.token_endpoint_auth_method != "private_key_jwt":  # noqa: S105
        if data.jwks or data.jwks_uri:
            raise _bad("jwks", "keys are only used with private_key_jwt")
        return
    if bool(data.jwks) == bool(data.jwks_uri):
        raise _bad("jwks", "private_key_jwt needs exactly one of jwks or jwksUri")
    if data.jwks_uri is not None:
        problem = fetched_uri_problem(data.jwks_uri)
        if problem:
            raise _bad("jwksUri", problem)
    if data.jwks is not None:
        problem = jwks_problem(data.jwks)
        if problem:
            raise _bad("jwks", problem)


def jwks_problem(jwks: dict[str, Any]) -> str | None:
    """Why ``jwks`` cannot be a client's keys, or None: a small JWK Set of public RSA
    (2048 to 8192 bits) and P-256 EC keys — what RS256, PS256, ES256 and RSA-OAEP-256
    use; a symmetric key would be a shared secret, a huge one slows every verification."""
    if len(json.dumps(jwks)) > JWKS_MAX_CHARS:
        return f"must be at most {JWKS_MAX_CHARS} characters of JSON"
    keys = jwks.get("keys")
    if not isinstance(keys, list) or not keys or not all(isinstance(k, dict) for k in keys):
        return "must be a JWK Set with at least one key"
    if len(keys) > JWKS_MAX_KEYS:
        return f"must hold at most {JWKS_MAX_KEYS} keys"
    for key in keys:
        if PRIVATE_JWK_MEMBERS & key.keys():
            return "must contain public keys only"
        kty = key.get("kty")
        if kty == "RSA":
            bits = _modulus_bits(key.get("n"))
            if not RSA_BITS[0] <= bits <= RSA_BITS[1]:
                return f"RSA keys must have {RSA_BITS[0]} to {RSA_BITS[1]} bits"
        elif kty == "EC":
            if key.get("crv") != "P-256":
                return "EC keys must be on P-256 (ES256)"
        else:
            return "only public RSA and EC keys (RS256, PS256, ES256)"
    try:
        KeySet.import_key_set(jwks)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError):
        return "is not a valid JWK Set"
    return None


def _modulus_bits(n: object) -> int:
    if not isinstance(n, str) or len(n) > 2 * RSA_BITS[1]:
        return 0
    try:
        raw = base64.urlsafe_b64decode(n + "=" * (-len(n) % 4))
    except (binascii.Error, ValueError):
        return 0
    return int.from_bytes(raw, "big").bit_length()


def _apply(row: Client, data: ClientIn) -> None:
    """The registration onto the row: every field to its column of the same name, with
    scopes and audiences as sorted sets, the sector defaulting to the client id."""
    values = data.model_dump()
    values.update(
        allowed_scopes=sorted(set(data.allowed_scopes)),
        resource_audiences=sorted(set(data.resource_audiences)),
        sector=data.sector or data.client_id,
        refresh_tokens_enabled=values.pop("refresh_tokens"),
    )
    for name, value in values.items():
        setattr(row, name, value)


def _snapshot(row: Client) -> dict[str, Any]:
    return {
        "clientId": row.client_id,
        "grantType": row.grant_type,
        "authMethod": row.token_endpoint_auth_method,
        "redirectUris": row.redirect_uris,
        "allowedScopes": row.allowed_scopes,
        "minimumLoa": row.minimum_loa,
        "sector": row.sector,
        "bsnLegalBasis": row.bsn_legal_basis,
        "resourceAudiences": row.resource_audiences,
        "version": row.version,
    }


async def create_client(
    session: AsyncSession,
    data: ClientIn,
    actor: Actor,
    secret: str | None = None,
    production: bool = False,
    on_created: Callable[[AsyncSession, Client], Awaitable[None]] | None = None,
) -> tuple[Client, str | None]:
    """Register a client; returns it and, for client_secret_basic, its one-time secret.
    ``production``: redirect URIs must be https (native apps: loopback too).
    ``on_created`` runs in the same transaction (e.g. to keep the Idempotency-Key with it)."""
    validate(data, production)
    now = utcnow()
    row = Client(id=uuid.uuid4(), created_at=now, updated_at=now, version=1)  # type: ignore[call-arg]
    _apply(row, data)
    if data.token_endpoint_auth_method == "client_secret_basic":  # noqa: S105
        secret = secret or random_token(32)
        row.secret_hash = sha256_hex(secret)
    else:
        secret = None
    try:
        async with session.begin():
            session.add(row)
            await session.flush()
            _audit(session, actor, "created", row)
            if on_created is not None:
                await on_created(session, row)
    except IntegrityError:
        raise Conflict(f"A client with clientId '{data.client_id}' already exists.") from None
    return row, secret


def _audit(session: AsyncSession, actor: Actor, change: str, row: Client) -> None:
    """The audit entry of a change of a registration, with the registration after it."""
    add_audit(
        session,
        actor=actor_name(actor),
        action=f"client.{change}",
        subject=str(row.id),
        detail=_snapshot(row),
    )


async def get_client(
    session: AsyncSession, client_uuid: uuid.UUID, *, lock: bool = False
) -> Client:
    row = await repository.get(session, client_uuid, lock=lock)
    if row is None:
        raise NotFound("No client with this id.")
    return row


async def list_clients(
    session: AsyncSession, grant_type: str | None, params: PageParams
) -> tuple[list[ClientOut], int]:
    rows, total = await repository.page(session, params.offset, params.page_size, grant_type)
    return [ClientOut.model_validate(row) for row in rows], total


async def replace_client(
    session: AsyncSession,
    client_uuid: uuid.UUID,
    data: ClientIn,
    actor: Actor,
    expected_version: int | None = None,
    precondition: Callable[[str], None] | None = None,
    production: bool = False,
) -> Client:
    """Replace a registration: the stored one must still be ``expected_version``, and
    ``precondition`` (the If-Match check) is called with its ETag under the row lock."""
    validate(data, production)
    async with session.begin():
        row = await get_client(session, client_uuid, lock=True)
        if precondition is not None:
            precondition(etag(row))
        if expected_version is not None and row.version != expected_version:
            raise Conflict("The client changed meanwhile; read it again.")
        if row.client_id != data.client_id:
            raise _bad("clientId", "cannot be changed")
        if data.token_endpoint_auth_method != row.token_endpoint_auth_method:
            raise _bad("tokenEndpointAuthMethod", "cannot be changed; register a new client")
        _apply(row, data)
        row.version += 1
        row.updated_at = utcnow()
        _audit(session, actor, "updated", row)
    return row


async def rotate_secret(
    session: AsyncSession, client_uuid: uuid.UUID, actor: Actor
) -> tuple[Client, str]:
    """A new secret for a client_secret_basic client, e.g. when the one shown at its
    registration was lost (it is kept nowhere but as a hash): the old one stops working."""
    secret = random_token(32)
    async with session.begin():
        row = await get_client(session, client_uuid, lock=True)
        if row.token_endpoint_auth_method != "client_secret_basic":  # noqa: S105
            raise Conflict("Only a client_secret_basic client has a secret.")
        row.secret_hash = sha256_hex(secret)
        row.version += 1
        row.updated_at = utcnow()
        _audit(session, actor, "secret-rotated", row)
    return row, secret


def etag(row: Client) -> str:
    return make_etag(row.id, row.version)


async def delete_client(session: AsyncSession, client_uuid: uuid.UUID, actor: Actor) -> None:
    async with session.begin():
        row = await get_client(session, client_uuid)
        _audit(session, actor, "deleted", row)
        await session.delete(row)


async def registered_origins(database: Database) -> frozenset[str]:
    """The web origins of every registered redirect URI (CORS at the OP's endpoints)."""
    return frozenset(
        origin
        for uris in await repository.redirect_uris(database)
        for uri in uris
        if (origin := origin_of(uri))
    )


def secret_matches(row: Client, secret: str) -> bool:
    if not row.secret_hash:
        return False
    return hmac.compare_digest(row.secret_hash, sha256_hex(secret))


class ClientCache:
    """Client rows by client_id, cached briefly (``ttl`` seconds): the token endpoint's
    hot path. Concurrent misses for one client share a single query."""

    def __init__(self, database: Database, ttl: float) -> None:
        self._database = database
        # (row or None for an unknown client_id), dropped after ``ttl`` seconds.
        self._rows: TTLCache[str, tuple[Client | None]] = TTLCache(10_000, ttl, time.monotonic)
        self._loading: dict[str, asyncio.Future[Client | None]] = {}

    async def get(self, client_id: str) -> Client | None:
        # Registered ids match CLIENT_ID; anything else (NUL bytes, spaces…) cannot be one
        # and never reaches the database.
        if not CLIENT_ID.match(client_id):
            return None
        while True:
            hit = self._rows.get(client_id)
            if hit is not None:
                return hit[0]
            pending = self._loading.get(client_id)
            if pending is None:
                break
            try:
                return await asyncio.shield(pending)
            except asyncio.CancelledError:
                if not pending.cancelled():
                    raise  # this request was cancelled
                # the loading request was cancelled: look again (or load it ourselves)
        future: asyncio.Future[Client | None] = asyncio.get_running_loop().create_future()
        self._loading[client_id] = future
        try:
            row = await repository.by_client_id(self._database, client_id)
            self._rows[client_id] = (row,)
            future.set_result(row)
            return row
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning without waiters
            raise
        finally:
            del self._loading[client_id]

    def invalidate(self) -> None:
        self._rows.clear()
