"""The simulators: each a small OIDC provider with fixed test identities.

They issue real signed ID tokens (their own key, published at
``/auth/simulators/<means>/jwks``) through the authorization code flow with PKCE, so the
broker talks to them exactly as to a production upstream. Their codes are sealed
(encrypted, authenticated, 60 s) and single use; they carry the chosen identity's *id*
and level, never a BSN, because codes travel in URLs.
"""

from __future__ import annotations

import hmac
import time
import uuid
from typing import Any

from authlib.oauth2.rfc7636 import create_s256_code_challenge

from ..authorization.schemas import PKCE_CHALLENGE, PKCE_VERIFIER
from ..broker.means import MEANS, find_identity
from ..common import keyed_hash
from ..crypto import Sealer
from ..oauth.errors import OAuthError, PageError

BROKER_CLIENT_ID = "samen-broker"
CODE_TTL = 60


class SimulatorIdP:
    def __init__(self, identity: Any) -> None:
        self.p = identity
        self.codes = Sealer(identity.settings.key_encryption_keys, "simulator-codes")

    def issuer(self, means: str) -> str:
        return str(self.p.url(f"/auth/simulators/{means}"))

    def broker_secret(self) -> str:
        return keyed_hash(self.p.settings.secret, "simulator-broker-secret")

    def broker_redirect_uri(self) -> str:
        return str(self.p.url("/auth/login/callback"))

    def discovery(self, means: str) -> dict[str, Any]:
        base = self.issuer(means)
        return {
            "issuer": base,
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
            "jwks_uri": f"{base}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            "acr_values_supported": [lv.native for lv in MEANS[means].levels],
        }

    def validate_authorize(self, means: str, q: dict[str, str]) -> dict[str, str]:
        """The authorization parameters the simulator page carries along, or PageError."""
        if (
            q.get("client_id") != BROKER_CLIENT_ID
            or q.get("redirect_uri") != self.broker_redirect_uri()
        ):
            raise PageError(
                "De simulator kent deze client of dit terugkeeradres niet.",
                "The simulator does not know this client or redirect URI.",
            )
        if (
            q.get("response_type") != "code"
            or q.get("code_challenge_method") != "S256"
            or not PKCE_CHALLENGE.match(q.get("code_challenge") or "")
            or not q.get("nonce")
            or not q.get("state")
        ):
            raise PageError(
                "Ongeldige aanvraag aan de simulator.", "Invalid request to the simulator."
            )
        keep = (
            "client_id",
            "redirect_uri",
            "response_type",
            "state",
            "nonce",
            "code_challenge",
            "code_challenge_method",
            "acr_values",
        )
        return {k: q[k] for k in keep if k in q}

    def make_code(
        self, means: str, identity_id: str, native_level: str, params: dict[str, str]
    ) -> str:
        return self.codes.seal(
            {
                "m": means,
                "i": identity_id,
                "l": native_level,
                "n": params["nonce"],
                "c": params["code_challenge"],
                "r": params["redirect_uri"],
                "j": uuid.uuid4().hex,
            }
        )

    def check_broker_secret(self, client_id: str, secret: str) -> bool:
        return client_id == BROKER_CLIENT_ID and hmac.compare_digest(secret, self.broker_secret())

    async def exchange(
        self, means: str, code: str, redirect_uri: str, code_verifier: str, client_id: str
    ) -> dict[str, Any]:
        """The token endpoint's answer: the code's ID token, signed with the simulator key."""
        claims = await self.exchange_claims(means, code, redirect_uri, code_verifier, client_id)
        id_token = await self.p.keys.sign_simulator(claims)
        return {
            "id_token": id_token,
            "access_token": uuid.uuid4().hex,  # the broker uses only the ID token
            "token_type": "Bearer",
            "expires_in": 60,
        }

    async def exchange_claims(
        self, means: str, code: str, redirect_uri: str, code_verifier: str, client_id: str
    ) -> dict[str, Any]:
        """Redeem a code (sealed, 60 s, bound to client, redirect URI and PKCE S256,
        single use) for the claims of its ID token, unsigned: what the token endpoint
        signs, and what the in-process connector receives without a signature (it runs
        in this process, so there is no channel a signature would protect)."""
        try:
            data = self.codes.open(code, ttl=CODE_TTL)
        except ValueError:
            raise OAuthError("invalid_grant", "The code is invalid or expired.") from None
        if data["m"] != means or client_id != BROKER_CLIENT_ID or data["r"] != redirect_uri:
            raise OAuthError("invalid_grant", "The code was issued for another client or redirect.")
        if (
            not PKCE_VERIFIER.match(code_verifier)
            or create_s256_code_challenge(code_verifier) != data["c"]
        ):
            raise OAuthError("invalid_grant", "The code_verifier does not match.")
        try:
            await self.p.one_time_ids.remember(
                "simulator_code", means, data["j"], int(time.time()) + CODE_TTL + 30
            )
        except OAuthError:
            raise OAuthError("invalid_grant", "The code was already used.") from None
        ident = find_identity(means, data["i"])
        level = MEANS[means].level(data["l"])
        if ident is None or level is None:
            raise OAuthError("invalid_grant", "Unknown test identity or level.")
        return self.id_token_claims(means, ident, data["l"], data["n"])

    def id_token_claims(
        self, means: str, ident: dict[str, Any], native: str, nonce: str
    ) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer(means),
            "aud": BROKER_CLIENT_ID,
            "nonce": nonce,
            "acr": native,
            "iat": now,
            "exp": now + 120,
            "jti": uuid.uuid4().hex,
        }
        for name in ("given_name", "family_name", "birthdate", "email", "over18"):
            if name in ident:
                claims[name] = ident[name]
        if means == "digid":
            claims["sub"] = f"digid-{ident['id']}"
            claims["bsn"] = ident["bsn"]
            if ident.get("represents"):
                claims["represents"] = ident["represents"]
        elif means == "eherkenning":
            claims["sub"] = ident["pseudonym"]
            claims["org"] = ident["org"]
            claims["machtigingen"] = ident.get("machtigingen", [])
        elif means == "eidas":
            claims["sub"] = ident["person_identifier"]
        else:
            claims["sub"] = f"yivi-{ident['id']}"
        return claims
