"""Authorization requests and codes: validation (OIDC Core §3.1.2, NL GOV profile), the
request's single completion, and the code's single redemption with PKCE S256."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from authlib.oauth2.rfc7636 import create_s256_code_challenge

from servicekit.auth import LOA_ORDER
from servicekit.clock import aware, utcnow

from ..broker.means import MEANS, UpstreamIdentity, loa_max, loa_rank
from ..clients.models import Client
from ..clients.one_time_ids import OneTimeIds
from ..clients.redirect_uris import redirect_uri_registered
from ..clients.service import ClientCache
from ..common import add_query, random_token, sha256_hex
from ..config import Settings
from ..oauth.errors import OAuthError, PageError, RedirectError
from ..oauth.form_post import RESPONSE_MODES
from ..sessions.models import LoginSession
from ..sessions.service import SessionService
from .models import AuthorizationCode, AuthorizationRequest
from .repository import AuthorizationRepository, SpentCode
from .request_objects import PUSHED_PREFIX, RequestObjects
from .schemas import PKCE_CHALLENGE, PKCE_VERIFIER, PROMPTS, TOKEN_CHARS, ValidatedRequest

# One line per login for operators: the means, level and client, never the person.
logger = logging.getLogger("identity.logins")

# Seconds a pushed request's request_uri may be used in (once).
PUSHED_LIFETIME = 60
COMPLETED = PageError(
    "Deze inlogpoging is al afgerond. Begin opnieuw bij de dienst.",
    "This login attempt was already completed. Please start again at the service.",
)


STATE_LIMIT = 2000


def _printable(value: str | None, limit: int) -> bool:
    return value is None or (len(value) <= limit and value.isprintable())


def _echoable(state: str | None) -> str | None:
    """The state an error redirect may carry back: not one refused as too long or
    unprintable (it would be reflected as is)."""
    return state if _printable(state, STATE_LIMIT) else None


@dataclass(eq=False)
class AuthorizationService:
    settings: Settings
    issuer: str
    repository: AuthorizationRepository
    clients: ClientCache
    sessions: SessionService
    request_objects: RequestObjects
    one_time_ids: OneTimeIds

    # ---------------------------------------------------------------- validation
    async def validate(self, q: dict[str, str]) -> ValidatedRequest:
        """The request's client and redirect URI first (errors about them are pages, never
        redirects), then every other parameter (errors redirected to the client). With a
        request object only the object's parameters count."""
        client_id = q.get("client_id") or ""
        client = await self.clients.get(client_id) if client_id else None
        if client is None:
            raise PageError(
                "Onbekende dienst: de aanvraag noemt geen geregistreerde client.",
                "Unknown service: the request does not name a registered client.",
            )
        if "request" in q or "request_uri" in q:
            q = await self._object_parameters(q, client)
        try:
            return await self._validate(q, client)
        except RedirectError as exc:
            exc.redirect_uri = q.get("redirect_uri")
            exc.state = _echoable(q.get("state"))
            if q.get("response_mode") in RESPONSE_MODES:
                exc.response_mode = q.get("response_mode")
            raise

    async def _object_parameters(self, q: dict[str, str], client: Client) -> dict[str, str]:
        try:
            return await self.request_objects.parameters(q, client)
        except OAuthError as exc:
            if redirect_uri_registered(q.get("redirect_uri") or "", client.redirect_uris):
                error = RedirectError(exc.error, exc.description)
                error.redirect_uri, error.state = q["redirect_uri"], _echoable(q.get("state"))
                raise error from None
            raise PageError(
                "Ongeldig request object: " + exc.description, exc.description, exc.error
            ) from None

    async def _validate(self, q: dict[str, str], client: Client) -> ValidatedRequest:
        redirect_uri = q.get("redirect_uri") or ""
        if not redirect_uri_registered(redirect_uri, client.redirect_uris):
            raise PageError(
                "Het terugkeeradres (redirect_uri) is niet geregistreerd voor deze dienst.",
                "The redirect_uri is not registered for this client.",
            )
        state = q.get("state")
        if not _printable(state, STATE_LIMIT):
            raise RedirectError("invalid_request", "state is too long or has control characters.")
        if not state:
            # NL GOV OIDC profile: state is required (CSRF protection of the redirect).
            raise RedirectError("invalid_request", "state is required.")
        if "request" in q or "request_uri" in q:
            raise RedirectError("invalid_request", "A request object cannot hold another.")
        if client.grant_type != "authorization_code":
            raise RedirectError("unauthorized_client", "This client may not use the code flow.")
        if q.get("response_type") != "code":
            raise RedirectError(
                "unsupported_response_type", "Only response_type=code is supported."
            )
        # In this order, so that the first problem found is the one reported.
        scopes = _scopes(q, client)
        challenge = _code_challenge(q)
        nonce = _nonce(q)
        prompts = _prompts(q)
        max_age = _max_age(q)
        claims = _claims(q)
        required = required_loa(client.minimum_loa, q.get("acr_values"), claims)
        params = {
            "scope": " ".join(dict.fromkeys(scopes)),
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "redirect_uri": redirect_uri,
            "prompt": prompts,
            "max_age": max_age,
            "claims": claims,
            "ui_locales": q.get("ui_locales"),
            "response_mode": _response_mode(q),
        }
        return ValidatedRequest(client, redirect_uri, state, params, required)

    async def push(self, params: dict[str, str]) -> AuthorizationRequest:
        """A pushed request (RFC 9126), validated now and stored; errors are the
        endpoint's own (never redirects)."""
        try:
            v = await self.validate(params)
        except PageError as exc:
            raise OAuthError(exc.error, exc.en) from None
        except RedirectError as exc:
            raise OAuthError(exc.error, exc.description) from None
        return await self.store(v)

    async def pushed(self, q: dict[str, str]) -> AuthorizationRequest:
        """The pushed request a ``request_uri`` names: this client's, fresh, used once."""
        request_id = q.get("request_uri", "")[len(PUSHED_PREFIX) :]
        row = await self.load(request_id)
        expired = PageError(
            "Deze aanvraag is verlopen of al gebruikt. Begin opnieuw bij de dienst.",
            "This request has expired or was already used. Please start again at the service.",
        )
        if row is None or row.client_id != q.get("client_id") or row.means is not None:
            raise expired
        if (utcnow() - aware(row.created_at)).total_seconds() > PUSHED_LIFETIME:
            raise expired
        try:
            until = int(aware(row.created_at).timestamp()) + PUSHED_LIFETIME + 30
            await self.one_time_ids.remember("pushed_request", row.client_id, row.id, until)
        except OAuthError:
            raise expired from None
        return row

    def error_redirect(
        self, redirect_uri: str, state: str | None, error: str, description: str
    ) -> str:
        return add_query(
            redirect_uri,
            {"error": error, "error_description": description, "state": state, "iss": self.issuer},
        )

    # ------------------------------------------------------------------ requests
    async def store(self, v: ValidatedRequest) -> AuthorizationRequest:
        now = utcnow()
        row = AuthorizationRequest(
            id=random_token(24),
            client_id=v.client.client_id,
            params=v.params,
            required_loa=v.required_loa,
            csrf=random_token(16),
            created_at=now,
            expires_at=now + timedelta(seconds=self.settings.authorization_request_lifetime),
        )
        await self.repository.add_request(row)
        return row

    async def load(self, request_id: str) -> AuthorizationRequest | None:
        """A usable (not completed, not expired) request by its id."""
        if not request_id or len(request_id) > 64 or not TOKEN_CHARS.match(request_id):
            return None
        row = await self.repository.get_request(request_id)
        return row if row is not None and self.usable(row) else None

    async def by_upstream_state(self, state: str) -> AuthorizationRequest | None:
        """The request whose upstream leg used this state (any status)."""
        if not state or len(state) > 64 or not TOKEN_CHARS.match(state):
            return None
        return await self.repository.by_upstream_state(state)

    @staticmethod
    def usable(row: AuthorizationRequest) -> bool:
        return row.completed_at is None and aware(row.expires_at) > utcnow()

    async def start_upstream(self, request_id: str, means: str, leg: dict[str, str]) -> str | None:
        """Record the chosen means and the upstream leg (state, nonce, verifier, browser
        binding) on a usable request whose required level ``means`` reaches; that level,
        or None (nothing written: expired, completed, or the means does not reach it)."""
        if means not in MEANS or not TOKEN_CHARS.match(request_id or "-"):
            return None
        levels = [loa for loa in LOA_ORDER if MEANS[means].reaches(loa)]
        values = {"means": means, **leg}
        return await self.repository.start_upstream(request_id, values, utcnow(), levels)

    # --------------------------------------------------------------------- codes
    def _new_code(self, request: AuthorizationRequest, session_hash: str) -> tuple[str, Any]:
        code = random_token(32)
        p = request.params
        row = AuthorizationCode(
            code_hash=sha256_hex(code),
            client_id=request.client_id,
            redirect_uri=p["redirect_uri"],
            code_challenge=p["code_challenge"],
            nonce=p["nonce"],
            scope=p["scope"],
            session_hash=session_hash,
            claims_request=p.get("claims"),
            expires_at=utcnow() + timedelta(seconds=self.settings.code_lifetime),
        )
        return code, row

    def _code_redirect(self, request: AuthorizationRequest, code: str) -> str:
        p = request.params
        return add_query(
            p["redirect_uri"], {"code": code, "state": p.get("state"), "iss": self.issuer}
        )

    async def login_and_issue_code(
        self, request: AuthorizationRequest, identity: UpstreamIdentity
    ) -> tuple[str, str]:
        """A new login session and the RP's code, together: (cookie, RP redirect)."""
        cookie, login, audit = self.sessions.new(identity)
        code, row = self._new_code(request, login.id_hash)
        if not await self.repository.complete_with_login(request.id, utcnow(), login, audit, row):
            raise COMPLETED
        logger.info(
            "login through %s at %s for client %s", identity.means, identity.loa, request.client_id
        )
        return cookie, self._code_redirect(request, code)

    async def issue_code(self, request: AuthorizationRequest, login: LoginSession) -> str:
        """The RP's code from an existing session; the RP redirect."""
        code, row = self._new_code(request, login.id_hash)
        if not await self.repository.complete_with_code(request.id, utcnow(), row):
            raise COMPLETED
        return self._code_redirect(request, code)

    async def spend_code(
        self, client: Client, form: dict[str, str], verifier: str, now: datetime
    ) -> SpentCode | None:
        """Mark the form's code used; None when it was not an unused code of this client.
        Validity is checked after marking, so a failed attempt still spends the code."""
        code_hash = sha256_hex(form.get("code") or "")
        spent = await self.repository.spend_code(code_hash, client.client_id, now)
        if spent is None:
            return None
        row = spent.code
        if aware(row.expires_at) <= now:
            raise OAuthError("invalid_grant", "The code has expired.")
        if form.get("redirect_uri") != row.redirect_uri:
            raise OAuthError(
                "invalid_grant", "redirect_uri does not match the authorization request."
            )
        if (
            not PKCE_VERIFIER.match(verifier)
            or create_s256_code_challenge(verifier) != row.code_challenge
        ):
            raise OAuthError(
                "invalid_grant", "The code_verifier does not match the code_challenge."
            )
        if spent.login is None or spent.login.ended_at is not None:
            raise OAuthError("invalid_grant", "The login session has ended.")
        return spent


def _response_mode(q: dict[str, str]) -> str | None:
    mode = q.get("response_mode")
    if mode not in (None, *RESPONSE_MODES):
        raise RedirectError("invalid_request", "response_mode must be query or form_post.")
    return mode


def _scopes(q: dict[str, str], client: Client) -> list[str]:
    """The requested scopes the client may have; the others are dropped (RFC 6749 §3.3:
    the token response names the granted scope)."""
    scopes = (q.get("scope") or "").split()
    if "openid" not in scopes:
        raise RedirectError("invalid_scope", "The openid scope is required.")
    return [s for s in scopes if s in client.allowed_scopes]


def _code_challenge(q: dict[str, str]) -> str:
    challenge = q.get("code_challenge")
    if not challenge:
        raise RedirectError("invalid_request", "PKCE is required: code_challenge is missing.")
    if q.get("code_challenge_method") != "S256":
        raise RedirectError("invalid_request", "code_challenge_method must be S256.")
    if not PKCE_CHALLENGE.match(challenge):
        raise RedirectError("invalid_request", "code_challenge is malformed.")
    return challenge


def _nonce(q: dict[str, str]) -> str:
    nonce = q.get("nonce")
    if not nonce:
        raise RedirectError("invalid_request", "nonce is required.")
    if not _printable(nonce, 255):
        raise RedirectError("invalid_request", "nonce is too long or has control characters.")
    return nonce


def _prompts(q: dict[str, str]) -> list[str]:
    prompts = set((q.get("prompt") or "").split())
    if prompts - PROMPTS or ("none" in prompts and len(prompts) > 1):
        raise RedirectError("invalid_request", "Invalid prompt value.")
    return sorted(prompts)


def _max_age(q: dict[str, str]) -> int | None:
    if q.get("max_age") in (None, ""):
        return None
    try:
        max_age = int(q["max_age"])
    except ValueError:
        raise RedirectError("invalid_request", "max_age must be a number of seconds.") from None
    if max_age < 0:
        raise RedirectError("invalid_request", "max_age must not be negative.")
    return max_age


def required_loa(
    minimum: str, acr_values: str | None, claims_request: dict[str, Any] | None
) -> str:
    """The level a login must reach: the highest of the client's minimum, the request's
    ``acr_values`` and the essential ``acr`` requests of the ``claims`` parameter's
    ``id_token`` and ``userinfo`` members (OIDC Core §5.5.1.1). ``acr_values`` and each
    essential request are met by the lowest supported level they name; an essential
    request that names none cannot be met: a failed authentication (``access_denied``)."""
    required = minimum
    if acr_values:
        known = [a for a in acr_values.split() if loa_rank(a) > 0]
        if not known:
            raise RedirectError("invalid_request", "acr_values names no supported level.")
        required = loa_max(required, min(known, key=loa_rank))
    for member in ("id_token", "userinfo"):
        acr = ((claims_request or {}).get(member) or {}).get("acr")
        if not isinstance(acr, dict) or acr.get("essential") is not True:
            continue  # a voluntary request does not raise the level
        asked = acr["values"] if "values" in acr else [acr.get("value")]
        known = (
            [a for a in asked if isinstance(a, str) and loa_rank(a) > 0]
            if isinstance(asked, list)
            else []
        )
        if not known:
            raise RedirectError(
                "access_denied", f"The essential acr of claims.{member} cannot be met."
            )
        required = loa_max(required, min(known, key=loa_rank))
    return required


def _claims(q: dict[str, str]) -> dict[str, Any] | None:
    if not q.get("claims"):
        return None
    try:
        claims_request = json.loads(q["claims"])
    except ValueError:
        raise RedirectError("invalid_request", "claims must be a JSON object.") from None
    if not isinstance(claims_request, dict):
        raise RedirectError("invalid_request", "claims must be a JSON object.")
    for member in ("id_token", "userinfo"):
        if member in claims_request and not isinstance(claims_request[member], dict):
            raise RedirectError("invalid_request", f"claims.{member} must be a JSON object.")
    return claims_request
