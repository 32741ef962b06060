"""Client registry API schemas."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from servicekit.auth import LOA_HIGH, LOA_LOW, LOA_SUBSTANTIAL
from servicekit.schemas import ApiModel, ApiOutModel, JsonBoolean

GrantType = Literal["authorization_code", "client_credentials"]
AuthMethod = Literal["private_key_jwt", "client_secret_basic", "none"]
Loa = Literal[
    "http://eidas.europa.eu/LoA/low",
    "http://eidas.europa.eu/LoA/substantial",
    "http://eidas.europa.eu/LoA/high",
]
assert Loa.__args__ == (LOA_LOW, LOA_SUBSTANTIAL, LOA_HIGH)  # type: ignore[attr-defined]

Audience = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._:-]{0,99}$")]
Role = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._:-]{0,99}$", max_length=100)]

KNOWN_SCOPES = {
    "openid": "Log the user in (OpenID Connect)",
    "profile": "The user's name",
    "email": "The user's e-mail address (Yivi)",
    "bsn": "The user's BSN (only for clients with a legal basis)",
    "registry:read": "Read the registry",
    "registry:write": "Change the registry",
    "registry:exposure": "See which municipalities run vulnerable versions (own data only)",
    "registry:contracts": "Read every municipality's contract details, radar and costs",
    "procurement:read": "Read tenders",
    "procurement:enroll": "Enroll a municipality in a tender",
    "procurement:manage": "Manage tenders (lead party)",
    "identity:admin": "Manage the client registry",
}


class ClientIn(ApiModel):
    """A relying party (client) registration."""

    client_id: str = Field(
        pattern=r"^[a-z0-9][a-z0-9._-]{2,99}$",
        description="The OAuth client_id",
        examples=["gemeente-utrecht-parkeren"],
    )
    name: str = Field(min_length=1, max_length=200)
    grant_type: GrantType = Field(description="One grant type per client")
    token_endpoint_auth_method: AuthMethod = "private_key_jwt"  # noqa: S105
    jwks: dict[str, Any] | None = Field(
        default=None, description="The client's public keys (JWK Set), for private_key_jwt"
    )
    jwks_uri: str | None = Field(default=None, max_length=500, pattern=r"^https?://")
    redirect_uris: list[str] = Field(default_factory=list, max_length=20)
    post_logout_redirect_uris: list[str] = Field(default_factory=list, max_length=20)
    allowed_scopes: list[str] = Field(default_factory=list, max_length=30)
    minimum_loa: Loa = "http://eidas.europa.eu/LoA/substantial"
    sector: str = Field(
        default="",
        max_length=100,
        pattern=r"^[a-z0-9._-]*$",
        description="Pairwise subject sector; empty means the client id",
    )
    bsn_legal_basis: str | None = Field(
        default=None, max_length=500, description="Legal basis for receiving the BSN"
    )
    # JSON true/false only: "yes" or 1 is not read as true.
    refresh_tokens: Annotated[bool, JsonBoolean] = False
    id_token_signed_response_alg: Literal["RS256", "PS256"] = "RS256"  # noqa: S105
    userinfo_signed_response_alg: Literal["RS256", "PS256"] | None = Field(
        default=None, description="Userinfo answered as a JWT signed with this algorithm"
    )
    userinfo_encrypted_response_alg: Literal["RSA-OAEP-256"] | None = Field(
        default=None, description="Userinfo encrypted to the client's RSA key (private_key_jwt)"
    )
    userinfo_encrypted_response_enc: Literal["A256GCM", "A128GCM"] | None = None
    request_uris: list[str] = Field(
        default_factory=list, max_length=20, description="Where the client's request objects are"
    )
    org_id: str | None = Field(default=None, pattern=r"^(\d{8}|\d{20})$")
    org_type: Literal["municipality", "supplier", "cooperation", "operator"] | None = None
    roles: list[Role] = Field(
        default_factory=list, max_length=20, description="e.g. platform-admin (1 to 100 characters)"
    )
    resource_audiences: list[Audience] = Field(
        default_factory=list,
        max_length=10,
        description=(
            "Audiences this client serves as a resource server (e.g. samen): it may learn at "
            "introspection that tokens for them are active, and read the revocation feed"
        ),
    )


class ClientOut(ApiOutModel):
    id: uuid.UUID
    client_id: str
    name: str
    grant_type: str
    token_endpoint_auth_method: str
    jwks: dict[str, Any] | None = None
    jwks_uri: str | None = None
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str]
    allowed_scopes: list[str]
    minimum_loa: str
    sector: str
    bsn_legal_basis: str | None = None
    refresh_tokens: bool = Field(validation_alias="refresh_tokens_enabled")
    id_token_signed_response_alg: str
    userinfo_signed_response_alg: str | None = None
    userinfo_encrypted_response_alg: str | None = None
    userinfo_encrypted_response_enc: str | None = None
    request_uris: list[str] = Field(default_factory=list)
    org_id: str | None = None
    org_type: str | None = None
    roles: list[str]
    resource_audiences: list[str] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime


class ClientCreated(ClientOut):
    client_secret: str | None = Field(
        default=None,
        description=(
            "Shown once, for client_secret_basic clients only: in the first answer, never in "
            "a replay of its Idempotency-Key (only the secret's hash is kept)"
        ),
    )
    client_secret_withheld: bool = Field(
        default=False,
        description=(
            "true in a replayed answer (Idempotent-Replayed: true) of a client_secret_basic "
            "registration: the secret was in the first answer only and cannot be shown again; "
            "a client that lost it gets a new one: POST /v1/clients/{id}/secret"
        ),
    )
