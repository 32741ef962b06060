"""The OP's metadata (OpenID Connect Discovery 1.0, RFC 8414): what is supported."""

from __future__ import annotations

from typing import Any

from servicekit.auth import LOA_HIGH, LOA_LOW, LOA_SUBSTANTIAL

from ..authorization import request_objects
from ..broker.means import OIDC_SCOPES, READ_SCOPES, ROLE_SCOPES
from ..config import Settings
from ..tokens import userinfo_jwt
from ..tokens.claims import SUB_ID_TYPES
from .form_post import RESPONSE_MODES

SIGNING_ALGS = ["RS256", "PS256"]
CLAIMS = [
    "iss",
    "aud",
    "sub",
    "exp",
    "iat",
    "nbf",
    "jti",
    "nonce",
    "acr",
    "auth_time",
    "azp",
    "sid",
    "sub_id_type",
    "given_name",
    "family_name",
    "name",
    "birthdate",
    "email",
    "bsn",
    "represents",
    "org_id",
    "org_type",
    "org_name",
    "roles",
]


def auth_methods(settings: Settings, confidential: bool = False) -> list[str]:
    methods = ["private_key_jwt"]
    if settings.allow_client_secret_basic:
        methods.append("client_secret_basic")
    if not confidential:
        methods.append("none")
    return methods


def discovery(settings: Settings, issuer: str) -> dict[str, Any]:
    def url(path: str) -> str:
        return issuer + path

    return {
        "issuer": issuer,
        "authorization_endpoint": url("/auth/authorize"),
        "token_endpoint": url("/auth/token"),
        "userinfo_endpoint": url("/auth/userinfo"),
        "jwks_uri": url("/auth/jwks"),
        "introspection_endpoint": url("/auth/introspect"),
        "revocation_endpoint": url("/auth/revoke"),
        "end_session_endpoint": url("/auth/end-session"),
        "scopes_supported": sorted(OIDC_SCOPES | READ_SCOPES | set().union(*ROLE_SCOPES.values())),
        "response_types_supported": ["code"],
        "response_modes_supported": list(RESPONSE_MODES),
        "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": SIGNING_ALGS,
        "userinfo_signing_alg_values_supported": userinfo_jwt.SIGNING_ALGS,
        "userinfo_encryption_alg_values_supported": userinfo_jwt.ENCRYPTION_ALGS,
        "userinfo_encryption_enc_values_supported": userinfo_jwt.ENCRYPTION_ENCS,
        "token_endpoint_auth_methods_supported": auth_methods(settings),
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "PS256", "ES256"],
        "introspection_endpoint_auth_methods_supported": auth_methods(settings, True),
        "introspection_endpoint_auth_signing_alg_values_supported": ["RS256", "PS256", "ES256"],
        "revocation_endpoint_auth_methods_supported": auth_methods(settings),
        "revocation_endpoint_auth_signing_alg_values_supported": ["RS256", "PS256", "ES256"],
        "code_challenge_methods_supported": ["S256"],
        "acr_values_supported": [LOA_LOW, LOA_SUBSTANTIAL, LOA_HIGH],
        "claims_supported": CLAIMS,
        "claims_parameter_supported": True,
        "request_parameter_supported": True,
        "request_uri_parameter_supported": True,
        "require_request_uri_registration": True,
        "request_object_signing_alg_values_supported": request_objects.SIGNING_ALGS,
        "request_object_encryption_alg_values_supported": request_objects.ENCRYPTION_ALGS,
        "request_object_encryption_enc_values_supported": request_objects.ENCRYPTION_ENCS,
        "pushed_authorization_request_endpoint": url("/auth/par"),
        "require_pushed_authorization_requests": False,
        "registration_endpoint": url("/auth/register"),
        "sub_id_types_supported": SUB_ID_TYPES,
        "authorization_response_iss_parameter_supported": True,
        "ui_locales_supported": ["nl", "en"],
        "claim_types_supported": ["normal"],
    }
