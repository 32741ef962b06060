"""Tables of the identity service (all of them; never shared with other services).

Secrets are never stored in the clear: client secrets, codes, refresh tokens and
session ids are stored as SHA-256 hashes; private keys and personal attributes
(BSN …) are encrypted with the key-encryption key from the settings.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, String, Text, UniqueConstraint
from sqlmodel import Field

from .db import Base


def _ts(nullable: bool = False, index: bool = False) -> Any:
    return Field(
        default=None,
        sa_column=Column(DateTime(timezone=True), nullable=nullable, index=index),
    )


class SigningKey(Base, table=True):
    __tablename__ = "signing_keys"

    kid: str = Field(primary_key=True, max_length=64)
    alg: str = Field(max_length=16)
    # "op" signs the provider's tokens; "simulator" signs the built-in upstream IdPs' tokens.
    purpose: str = Field(max_length=16, index=True)
    # next (published, not yet signing) → active (signing) → retired (published until
    # retire_after) → removed (no longer published; its tokens stop verifying).
    status: str = Field(max_length=16, index=True)
    private_jwk_encrypted: str = Field(sa_column=Column(Text, nullable=False))
    public_jwk: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = _ts()
    activated_at: datetime | None = _ts(nullable=True)
    retired_at: datetime | None = _ts(nullable=True)
    retire_after: datetime | None = _ts(nullable=True)


class Client(Base, table=True):
    __tablename__ = "clients"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    client_id: str = Field(max_length=100, unique=True, index=True)
    name: str = Field(max_length=200)
    # One grant type per client: authorization_code (users) or client_credentials.
    grant_type: str = Field(max_length=32)
    token_endpoint_auth_method: str = Field(max_length=32)
    secret_hash: str | None = Field(default=None, max_length=128)
    jwks: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    jwks_uri: str | None = Field(default=None, max_length=500)
    redirect_uris: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    post_logout_redirect_uris: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    allowed_scopes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    minimum_loa: str = Field(max_length=64)
    sector: str = Field(max_length=100)
    bsn_legal_basis: str | None = Field(default=None, max_length=500)
    refresh_tokens_enabled: bool = False
    id_token_signed_response_alg: str = Field(default="RS256", max_length=16)
    # Machine clients acting for an organisation carry its claims in their tokens.
    org_id: str | None = Field(default=None, max_length=20)
    org_type: str | None = Field(default=None, max_length=32)
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    version: int = 1
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class AuditEvent(Base, table=True):
    """Append-only history: who did what, when, under which trace."""

    __tablename__ = "audit_events"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    at: datetime = _ts(index=True)
    actor: str = Field(max_length=200)
    action: str = Field(max_length=64, index=True)
    subject: str = Field(max_length=200, index=True)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    trace_id: str | None = Field(default=None, max_length=32)


class AuthorizationRequest(Base, table=True):
    """A validated /authorize request waiting for the person to log in upstream."""

    __tablename__ = "authorization_requests"

    id: str = Field(primary_key=True, max_length=64)
    client_id: str = Field(max_length=100)
    params: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    required_loa: str = Field(max_length=64)
    # The upstream leg (broker as RP of the chosen means).
    means: str | None = Field(default=None, max_length=32)
    upstream_state: str | None = Field(default=None, max_length=64, unique=True)
    upstream_nonce: str | None = Field(default=None, max_length=64)
    upstream_verifier: str | None = Field(default=None, max_length=128)
    csrf: str = Field(max_length=64)
    created_at: datetime = _ts()
    expires_at: datetime = _ts()
    completed_at: datetime | None = _ts(nullable=True)


class LoginSession(Base, table=True):
    __tablename__ = "login_sessions"

    id_hash: str = Field(primary_key=True, max_length=64)
    person_hash: str = Field(max_length=64, index=True)
    means: str = Field(max_length=32)
    acr: str = Field(max_length=64)
    auth_time: datetime = _ts()
    # Encrypted JSON of the upstream attributes (may contain a BSN).
    attributes_encrypted: str = Field(sa_column=Column(Text, nullable=False))
    expires_at: datetime = _ts()
    ended_at: datetime | None = _ts(nullable=True)


class AuthorizationCode(Base, table=True):
    __tablename__ = "authorization_codes"

    code_hash: str = Field(primary_key=True, max_length=64)
    client_id: str = Field(max_length=100)
    redirect_uri: str = Field(max_length=500)
    code_challenge: str = Field(max_length=128)
    nonce: str = Field(max_length=255)
    scope: str = Field(max_length=1000)
    session_hash: str = Field(max_length=64)
    claims_request: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True)
    )
    expires_at: datetime = _ts()
    used_at: datetime | None = _ts(nullable=True)
    # Set when a used code comes back: what its first redemption produces is revoked.
    replayed_at: datetime | None = _ts(nullable=True)


class RefreshToken(Base, table=True):
    __tablename__ = "refresh_tokens"
    __table_args__ = (Index("ix_refresh_tokens_family", "family_id"),)

    token_hash: str = Field(primary_key=True, max_length=64)
    family_id: str = Field(max_length=64)
    client_id: str = Field(max_length=100)
    scope: str = Field(max_length=1000)
    session_hash: str = Field(max_length=64)
    # The authorization request's `claims` parameter, carried along the family so that
    # access tokens obtained by refresh stay as minimised at userinfo as the first one.
    claims_request: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True)
    )
    created_at: datetime = _ts()
    expires_at: datetime = _ts()
    used_at: datetime | None = _ts(nullable=True)
    revoked_at: datetime | None = _ts(nullable=True)


class RevokedToken(Base, table=True):
    """Access tokens revoked before they expire (introspection answers inactive)."""

    __tablename__ = "revoked_tokens"

    jti: str = Field(primary_key=True, max_length=64)
    client_id: str = Field(max_length=100)
    expires_at: datetime = _ts()
    revoked_at: datetime = _ts()


class UsedJti(Base, table=True):
    """One-time identifiers seen (client assertions, simulator codes): replay refused."""

    __tablename__ = "used_jtis"
    __table_args__ = (UniqueConstraint("kind", "issuer", "jti"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    kind: str = Field(max_length=32)
    issuer: str = Field(max_length=200)
    jti: str = Field(max_length=255)
    expires_at: datetime = _ts(index=True)


class PairwiseSubject(Base, table=True):
    """Which person a pairwise `sub` of a sector stands for (for /v1/me/disclosures)."""

    __tablename__ = "pairwise_subjects"

    sector: str = Field(primary_key=True, max_length=100)
    sub: str = Field(primary_key=True, max_length=64)
    person_hash: str = Field(max_length=64, index=True)


class Disclosure(Base, table=True):
    """Append-only: which client received which attributes of a person, and when."""

    __tablename__ = "disclosures"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    person_hash: str = Field(max_length=64, index=True)
    client_id: str = Field(max_length=100)
    client_name: str = Field(max_length=200)
    channel: str = Field(max_length=32)
    attributes: list[str] = Field(sa_column=Column(JSON, nullable=False))
    acr: str = Field(max_length=64)
    at: datetime = _ts(index=True)
    trace_id: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))


# Plain views of rows on the PostgreSQL hot paths, which read them with one statement on
# the driver connection: a table model's construction (SQLModel validation and SQLAlchemy
# instrumentation, ~0.03-0.04 ms each) is not needed for values that are only read.
@dataclass(slots=True)
class RequestRow:
    id: str
    client_id: str
    params: dict[str, Any]
    required_loa: str
    means: str | None
    upstream_state: str | None
    upstream_nonce: str | None
    upstream_verifier: str | None
    csrf: str
    created_at: datetime
    expires_at: datetime
    completed_at: datetime | None


@dataclass(slots=True)
class SessionRow:
    id_hash: str
    person_hash: str
    means: str
    acr: str
    auth_time: datetime
    attributes_encrypted: str
    expires_at: datetime
    ended_at: datetime | None


@dataclass(slots=True)
class CodeRow:
    code_hash: str
    client_id: str
    redirect_uri: str
    code_challenge: str
    nonce: str
    scope: str
    session_hash: str
    claims_request: dict[str, Any] | None
    expires_at: datetime
    used_at: datetime | None


AnyRequest = AuthorizationRequest | RequestRow
AnySession = LoginSession | SessionRow
AnyCode = AuthorizationCode | CodeRow
