"""Dynamic registration rules: RFC 7591 metadata mapped onto the client registry's own
registration (the same validation as /v1/clients), one-time initial access tokens, and a
registration access token per dynamically registered client (RFC 7592)."""

from __future__ import annotations

import hmac
import uuid
from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.actor import Actor
from servicekit.clock import utcnow
from servicekit.errors import BadRequest, NotFound, ProblemError

from ..audit.repository import actor_name
from ..broker.means import OIDC_SCOPES, READ_SCOPES
from ..clients import service as clients
from ..clients.models import Client
from ..clients.schemas import ClientIn
from ..common import random_token, sha256_hex
from ..oauth.errors import OAuthError
from . import repository
from .models import InitialAccessToken
from .schemas import ClientMetadata

GRANTS = {("authorization_code",), ("client_credentials",), ("authorization_code", "refresh_token")}
# What a client may give itself by registering: logging people in and reading the public
# catalogue. Every other scope (contract details, exposure, writes, administration) is
# granted by an administrator through /v1/clients; an RFC 7592 update keeps those it was
# granted but cannot add any. (bsn needs a legal basis, which only /v1/clients records.)
SELF_SERVICE_SCOPES = frozenset(OIDC_SCOPES | READ_SCOPES)


def metadata_error(exc: ProblemError | ValidationError) -> OAuthError:
    """RFC 7591 §3.2.2: invalid metadata, with the fields named (as at /v1/clients)."""
    if isinstance(exc, ValidationError):
        names = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
        return OAuthError("invalid_client_metadata", f"Invalid client metadata: {names}.")
    params = (exc.to_dict().get("invalidParams") or [{}])[0]
    name, reason = params.get("name", ""), params.get("reason", str(exc))
    error = "invalid_redirect_uri" if "redirect" in name.lower() else "invalid_client_metadata"
    return OAuthError(error, f"{name}: {reason}" if name else reason)


def to_registration(
    metadata: ClientMetadata,
    client_id: str,
    production: bool = False,
    granted: frozenset[str] = frozenset(),
) -> ClientIn:
    """The registry's registration for RFC 7591 metadata (validated like /v1/clients;
    ``production``: redirect URIs https, loopback only for native apps). Its scopes are
    the self-service ones and those an administrator ``granted`` it already."""
    beyond = set(metadata.scope.split()) - SELF_SERVICE_SCOPES - granted
    if beyond:
        raise OAuthError(
            "invalid_client_metadata",
            f"scope: {', '.join(sorted(beyond))} cannot be registered by the client itself; "
            "an administrator grants it.",
        )
    grants = tuple(sorted(set(metadata.grant_types)))
    if grants not in GRANTS:
        raise OAuthError(
            "invalid_client_metadata",
            "grant_types: authorization_code (optionally with refresh_token) or "
            "client_credentials.",
        )
    code = "authorization_code" in grants
    if code and metadata.response_types != ["code"]:
        raise OAuthError("invalid_client_metadata", "response_types: only code.")
    try:
        data = ClientIn.model_validate(
            {
                "client_id": client_id,
                "name": metadata.client_name,
                "grant_type": "authorization_code" if code else "client_credentials",
                "token_endpoint_auth_method": metadata.token_endpoint_auth_method,
                "jwks": metadata.jwks,
                "jwks_uri": metadata.jwks_uri,
                "redirect_uris": metadata.redirect_uris,
                "post_logout_redirect_uris": metadata.post_logout_redirect_uris,
                "allowed_scopes": metadata.scope.split(),
                "refresh_tokens": "refresh_token" in grants,
                "id_token_signed_response_alg": metadata.id_token_signed_response_alg,
                "userinfo_signed_response_alg": metadata.userinfo_signed_response_alg,
                "userinfo_encrypted_response_alg": metadata.userinfo_encrypted_response_alg,
                "userinfo_encrypted_response_enc": metadata.userinfo_encrypted_response_enc,
                "request_uris": metadata.request_uris,
            }
        )
        clients.validate(data, production)
    except (ValidationError, ProblemError) as exc:
        raise metadata_error(exc) from None
    return data


def client_metadata(row: Client, issuer: str) -> dict[str, Any]:
    """A registered client as RFC 7591 §3.2.1 / RFC 7592 §3 describe it."""
    grants = [row.grant_type] + (["refresh_token"] if row.refresh_tokens_enabled else [])
    out: dict[str, Any] = {
        "client_id": row.client_id,
        "client_id_issued_at": int(row.created_at.timestamp()),
        "client_name": row.name,
        "grant_types": grants,
        "response_types": ["code"] if row.grant_type == "authorization_code" else [],
        "token_endpoint_auth_method": row.token_endpoint_auth_method,
        "redirect_uris": row.redirect_uris,
        "post_logout_redirect_uris": row.post_logout_redirect_uris,
        "scope": " ".join(row.allowed_scopes),
        "id_token_signed_response_alg": row.id_token_signed_response_alg,
        "subject_type": "pairwise",
        "registration_client_uri": f"{issuer}/auth/register/{row.client_id}",
    }
    optional = {
        "jwks": row.jwks,
        "jwks_uri": row.jwks_uri,
        "userinfo_signed_response_alg": row.userinfo_signed_response_alg,
        "userinfo_encrypted_response_alg": row.userinfo_encrypted_response_alg,
        "userinfo_encrypted_response_enc": row.userinfo_encrypted_response_enc,
        "request_uris": row.request_uris or None,
    }
    out.update({k: v for k, v in optional.items() if v})
    return out


async def issue_initial_token(
    session: AsyncSession, actor: Actor, expires_in: int
) -> tuple[InitialAccessToken, str]:
    token = random_token(32)
    now = utcnow()
    row = InitialAccessToken(
        token_hash=sha256_hex(token),
        created_by=actor_name(actor)[:200],
        created_at=now,
        expires_at=now + timedelta(seconds=expires_in),
    )
    async with session.begin():
        await repository.add(session, row)
    return row, token


async def initial_token(session: AsyncSession, token_id: uuid.UUID) -> InitialAccessToken:
    row = await repository.get(session, token_id)
    if row is None:
        raise NotFound("No initial access token with this id.")
    return row


async def register(
    session: AsyncSession, metadata: ClientMetadata, initial_token: str, production: bool = False
) -> tuple[Client, str | None, str]:
    """Register a client with a one-time initial access token: (client, its secret for
    client_secret_basic, its registration access token)."""
    client_id = f"dyn-{uuid.uuid4().hex[:20]}"
    data = to_registration(metadata, client_id, production)
    async with session.begin():
        if not await repository.spend(session, sha256_hex(initial_token), client_id, utcnow()):
            raise OAuthError("invalid_token", "The initial access token is invalid or used.")
    try:
        row, secret = await clients.create_client(
            session, data, actor=Actor(f"registration:{client_id}"), production=production
        )
    except BadRequest as exc:
        raise metadata_error(exc) from None
    registration_token = random_token(32)
    async with session.begin():
        stored = await session.get(Client, row.id)
        assert stored is not None
        stored.registration_token_hash = sha256_hex(registration_token)
    return row, secret, registration_token


async def registered_client(session: AsyncSession, client_id: str, token: str) -> Client:
    """The dynamically registered client this registration access token manages."""
    row = await repository.client_by_registration_token(session, client_id, sha256_hex(token))
    if row is None or not row.registration_token_hash:
        raise OAuthError("invalid_token", "The registration access token is invalid.")
    assert hmac.compare_digest(row.registration_token_hash, sha256_hex(token))
    return row


async def update(
    session: AsyncSession, row: Client, metadata: ClientMetadata, production: bool = False
) -> Client:
    client_uuid, client_id = row.id, row.client_id
    data = to_registration(metadata, client_id, production, frozenset(row.allowed_scopes))
    if data.grant_type != row.grant_type:
        # Scopes granted for logging people in must not become a machine's own, nor the
        # reverse: another grant is another client.
        raise OAuthError(
            "invalid_client_metadata",
            f"grant_types: this client uses {row.grant_type}; register a new client for "
            "another grant.",
        )
    await session.rollback()  # the read's transaction; the replacement has its own
    try:
        return await clients.replace_client(
            session, client_uuid, data, Actor(f"registration:{client_id}"), production=production
        )
    except BadRequest as exc:
        raise metadata_error(exc) from None


async def remove(session: AsyncSession, row: Client) -> None:
    client_uuid, client_id = row.id, row.client_id
    await session.rollback()
    await clients.delete_client(session, client_uuid, Actor(f"registration:{client_id}"))
