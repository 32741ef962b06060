"""The OpenID Provider's rules: authorization requests, codes, sessions, tokens.

Routers translate HTTP to these calls. All protocol state (requests, codes, sessions,
refresh tokens, revocations, used jtis) lives in the database, so any number of worker
processes can serve one flow.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from servicekit.auth import LOA_LOW, LOA_ORDER
from servicekit.db import DriverConnections

from ..broker.means import (
    MACHTIGING_ROLES,
    MEANS,
    OIDC_SCOPES,
    READ_SCOPES,
    ROLE_SCOPES,
    MeansInfo,
    UpstreamIdentity,
    loa_max,
    loa_rank,
)
from ..clients.service import ClientCache
from ..common import (
    add_audit,
    aware,
    current_trace_id,
    keyed_hash,
    random_token,
    sha256_hex,
    utcnow,
)
from ..config import Settings
from ..crypto import Sealer
from ..keys import KeyStore
from ..models import (
    AnyCode,
    AnyRequest,
    AnySession,
    AuthorizationCode,
    AuthorizationRequest,
    Client,
    CodeRow,
    Disclosure,
    LoginSession,
    PairwiseSubject,
    RefreshToken,
    RequestRow,
    RevokedToken,
    SessionRow,
)
from .client_auth import ClientAuthenticator
from .errors import OAuthError

TOKEN_CHARS = re.compile(r"^[A-Za-z0-9\-_]+$")
PKCE_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
PKCE_CHALLENGE = re.compile(r"^[A-Za-z0-9\-_]{43}$")
PROMPTS = {"none", "login", "consent", "select_account"}
PROFILE_CLAIMS = ("given_name", "family_name", "name", "birthdate")
# The person's attributes a `claims` request selects among (see user_claims); the context
# claims (represents, org_*, roles) always come along because they qualify `sub`.
MINIMISABLE_CLAIMS = frozenset({*PROFILE_CLAIMS, "email", "bsn"})
ID_TYPES = {"OIN": "urn:nl-eid-gdi:1.0:id:OIN", "KvK": "urn:nl-eid-gdi:1.0:id:KvKnr"}


class RedirectError(Exception):
    """An authorization error that may be sent back to the (validated) redirect URI."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


class PageError(Exception):
    """An authorization error shown as a page: we must not redirect (no open redirect)."""

    def __init__(self, nl: str, en: str) -> None:
        super().__init__(en)
        self.nl = nl
        self.en = en


def add_query(uri: str, params: dict[str, str | None]) -> str:
    clean = {k: v for k, v in params.items() if v is not None}
    return uri + ("&" if "?" in uri else "?") + urlencode(clean)


def userinfo_allowance(claims_request: dict[str, Any] | None) -> list[str] | None:
    """The claims userinfo may release under the `claims` request's userinfo member (always
    with `sub`), or None when the request has no userinfo member (scope decides alone).

    Carried in the access token as `userinfo_claims` (names only, never values)."""
    if not claims_request or not isinstance(claims_request.get("userinfo"), dict):
        return None
    return sorted({"sub", *(MINIMISABLE_CLAIMS & set(claims_request["userinfo"]))})


@dataclass
class ValidatedRequest:
    client: Client
    redirect_uri: str
    state: str | None
    params: dict[str, Any]
    required_loa: str


class Provider:
    def __init__(
        self,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.settings = settings
        self.issuer = settings.issuer.rstrip("/")
        self.sessionmaker = sessionmaker
        # For work that is a single SQL statement (a lookup by key, one INSERT or one
        # UPDATE): on PostgreSQL in autocommit mode, which saves the BEGIN and the
        # COMMIT/ROLLBACK round trips — one statement is atomic by itself. Never for
        # more than one statement. SQLite keeps its own transactions.
        engine = sessionmaker.kw.get("bind")
        self.single = (
            async_sessionmaker(
                engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False
            )
            if engine is not None and engine.dialect.name == "postgresql"
            else sessionmaker
        )
        self.keys = KeyStore(
            sessionmaker, settings.key_encryption_keys, settings.key_retention_seconds
        )
        self.clients = ClientCache(sessionmaker, settings.client_cache_seconds)
        self.http = http or httpx.AsyncClient(timeout=5.0)
        self.client_auth = ClientAuthenticator(self)
        self.attributes = Sealer(settings.key_encryption_keys, "session-attributes")
        self.connectors: dict[str, Any] = {}
        self._pg = engine if engine is not None and engine.dialect.name == "postgresql" else None
        self._db = DriverConnections(self._pg) if self._pg is not None else None

    @property
    def _driver(self) -> DriverConnections:
        assert self._db is not None  # PostgreSQL only
        return self._db

    async def aclose(self) -> None:
        await self.client_auth.aclose()
        if self._db is not None:
            await self._db.close()
        await self.http.aclose()

    def url(self, path: str) -> str:
        return self.issuer + path

    # ----------------------------------------------------------------- discovery
    def discovery(self) -> dict[str, Any]:
        algs = ["RS256", "PS256"]
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.url("/auth/authorize"),
            "token_endpoint": self.url("/auth/token"),
            "userinfo_endpoint": self.url("/auth/userinfo"),
            "jwks_uri": self.url("/auth/jwks"),
            "introspection_endpoint": self.url("/auth/introspect"),
            "revocation_endpoint": self.url("/auth/revoke"),
            "end_session_endpoint": self.url("/auth/end-session"),
            "scopes_supported": sorted(
                OIDC_SCOPES | READ_SCOPES | set().union(*ROLE_SCOPES.values())
            ),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": algs,
            "userinfo_signing_alg_values_supported": algs,
            "token_endpoint_auth_methods_supported": self._auth_methods(),
            "token_endpoint_auth_signing_alg_values_supported": ["RS256", "PS256", "ES256"],
            "introspection_endpoint_auth_methods_supported": self._auth_methods(confidential=True),
            "revocation_endpoint_auth_methods_supported": self._auth_methods(),
            "code_challenge_methods_supported": ["S256"],
            "acr_values_supported": [
                m
                for m in (
                    "http://eidas.europa.eu/LoA/low",
                    "http://eidas.europa.eu/LoA/substantial",
                    "http://eidas.europa.eu/LoA/high",
                )
            ],
            "claims_supported": [
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
            ],
            "claims_parameter_supported": True,
            "request_parameter_supported": False,
            "request_uri_parameter_supported": False,
            "authorization_response_iss_parameter_supported": True,
            "ui_locales_supported": ["nl", "en"],
            "claim_types_supported": ["normal"],
        }

    def _auth_methods(self, confidential: bool = False) -> list[str]:
        methods = ["private_key_jwt"]
        if self.settings.allow_client_secret_basic:
            methods.append("client_secret_basic")
        if not confidential:
            methods.append("none")
        return methods

    # ------------------------------------------------------ authorization request
    async def validate_authorization(self, q: dict[str, str]) -> ValidatedRequest:
        client_id = q.get("client_id") or ""
        client = await self.clients.get(client_id) if client_id else None
        if client is None:
            raise PageError(
                "Onbekende dienst: de aanvraag noemt geen geregistreerde client.",
                "Unknown service: the request does not name a registered client.",
            )
        redirect_uri = q.get("redirect_uri") or ""
        if redirect_uri not in client.redirect_uris:
            raise PageError(
                "Het terugkeeradres (redirect_uri) is niet geregistreerd voor deze dienst.",
                "The redirect_uri is not registered for this client.",
            )
        state = q.get("state")
        if state is not None and (len(state) > 2000 or not state.isprintable()):
            raise RedirectError("invalid_request", "state is too long or has control characters.")
        if "request" in q or "request_uri" in q:
            raise RedirectError("request_not_supported", "Request objects are not supported.")
        if client.grant_type != "authorization_code":
            raise RedirectError("unauthorized_client", "This client may not use the code flow.")
        if q.get("response_type") != "code":
            raise RedirectError(
                "unsupported_response_type", "Only response_type=code is supported."
            )
        scopes = (q.get("scope") or "").split()
        if "openid" not in scopes:
            raise RedirectError("invalid_scope", "The openid scope is required.")
        not_allowed = [s for s in scopes if s not in client.allowed_scopes]
        if not_allowed:
            raise RedirectError(
                "invalid_scope", f"Scope not allowed for this client: {' '.join(not_allowed)}"
            )
        method = q.get("code_challenge_method")
        challenge = q.get("code_challenge")
        if not challenge:
            raise RedirectError("invalid_request", "PKCE is required: code_challenge is missing.")
        if method != "S256":
            raise RedirectError("invalid_request", "code_challenge_method must be S256.")
        if not PKCE_CHALLENGE.match(challenge):
            raise RedirectError("invalid_request", "code_challenge is malformed.")
        nonce = q.get("nonce")
        if not nonce:
            raise RedirectError("invalid_request", "nonce is required.")
        if len(nonce) > 255 or not nonce.isprintable():
            raise RedirectError("invalid_request", "nonce is too long or has control characters.")
        prompts = set((q.get("prompt") or "").split())
        if prompts - PROMPTS or ("none" in prompts and len(prompts) > 1):
            raise RedirectError("invalid_request", "Invalid prompt value.")
        max_age: int | None = None
        if q.get("max_age") not in (None, ""):
            try:
                max_age = int(q["max_age"])
            except ValueError:
                raise RedirectError(
                    "invalid_request", "max_age must be a number of seconds."
                ) from None
            if max_age < 0:
                raise RedirectError("invalid_request", "max_age must not be negative.")
        required = client.minimum_loa
        if q.get("acr_values"):
            known = [a for a in q["acr_values"].split() if loa_rank(a) > 0]
            if not known:
                raise RedirectError("invalid_request", "acr_values names no supported level.")
            lowest = min(known, key=loa_rank)
            required = loa_max(required, lowest)
        claims_request: dict[str, Any] | None = None
        if q.get("claims"):
            try:
                claims_request = json.loads(q["claims"])
            except ValueError:
                raise RedirectError("invalid_request", "claims must be a JSON object.") from None
            if not isinstance(claims_request, dict):
                raise RedirectError("invalid_request", "claims must be a JSON object.")
            for member in ("id_token", "userinfo"):
                if member in claims_request and not isinstance(claims_request[member], dict):
                    raise RedirectError(
                        "invalid_request", f"claims.{member} must be a JSON object."
                    )
        params = {
            "scope": " ".join(dict.fromkeys(scopes)),
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "redirect_uri": redirect_uri,
            "prompt": sorted(prompts),
            "max_age": max_age,
            "claims": claims_request,
            "ui_locales": q.get("ui_locales"),
        }
        return ValidatedRequest(client, redirect_uri, state, params, required)

    def error_redirect(
        self, redirect_uri: str, state: str | None, error: str, description: str
    ) -> str:
        return add_query(
            redirect_uri,
            {"error": error, "error_description": description, "state": state, "iss": self.issuer},
        )

    async def store_request(self, v: ValidatedRequest) -> AnyRequest:
        now = utcnow()
        fields: dict[str, Any] = {
            "id": random_token(24),
            "client_id": v.client.client_id,
            "params": v.params,
            "required_loa": v.required_loa,
            "means": None,
            "upstream_state": None,
            "upstream_nonce": None,
            "upstream_verifier": None,
            "csrf": random_token(16),
            "created_at": now,
            "expires_at": now + timedelta(seconds=self.settings.authorization_request_lifetime),
            "completed_at": None,
        }
        if self._pg is not None:  # one prepared INSERT on the driver connection
            await self._driver.fetch(
                _INSERT_REQUEST,
                fields["id"],
                fields["client_id"],
                json.dumps(fields["params"]),
                fields["required_loa"],
                fields["csrf"],
                fields["created_at"],
                fields["expires_at"],
            )
            return RequestRow(**fields)
        row = AuthorizationRequest(**fields)
        async with self.single() as session, session.begin():
            session.add(row)  # one INSERT
        return row

    async def load_request(self, request_id: str) -> AnyRequest | None:
        if not request_id or len(request_id) > 64 or not TOKEN_CHARS.match(request_id):
            return None
        row: AnyRequest | None
        if self._pg is not None:
            row = await self._fetch_request(_SELECT_REQUEST + "WHERE id = $1::varchar", request_id)
        else:
            async with self.single() as session:
                row = await session.get(AuthorizationRequest, request_id)
        if row is None or not self.request_usable(row):
            return None
        return row

    async def request_by_upstream_state(self, state: str) -> AnyRequest | None:
        """The authorization request whose upstream leg used this state (any status)."""
        if self._pg is not None:
            return await self._fetch_request(
                _SELECT_REQUEST + "WHERE upstream_state = $1::varchar", state
            )
        async with self.single() as session:
            return (
                await session.execute(
                    select(AuthorizationRequest).where(
                        col(AuthorizationRequest.upstream_state) == state
                    )
                )
            ).scalar_one_or_none()

    async def start_upstream(
        self, request_id: str, means: str, state: str, nonce: str, verifier: str, csrf: str
    ) -> None:
        """Record the chosen means and the upstream leg's state, nonce, verifier and the
        browser binding on the authorization request (one UPDATE)."""
        if self._pg is not None:
            await self._driver.fetch(
                _START_UPSTREAM, request_id, means, state, nonce, verifier, csrf
            )
            return
        async with self.single() as session, session.begin():
            await session.execute(
                update(AuthorizationRequest)
                .where(col(AuthorizationRequest.id) == request_id)
                .values(
                    means=means,
                    upstream_state=state,
                    upstream_nonce=nonce,
                    upstream_verifier=verifier,
                    csrf=csrf,
                )
            )

    async def start_upstream_if_usable(
        self,
        request_id: str,
        means: str,
        state: str,
        nonce: str,
        verifier: str,
        csrf: str,
    ) -> str | None:
        """PostgreSQL: :meth:`start_upstream` in one statement, only if the request is
        usable (not completed, not expired) and ``means`` is offered for its required
        level; returns that level. None: nothing was written (any other case, and always
        on SQLite) — the caller then decides with :meth:`load_request` as before."""
        if self._pg is None or means not in self.connectors:
            return None
        if not request_id or len(request_id) > 64 or not TOKEN_CHARS.match(request_id):
            return None
        info = MEANS[means]
        levels = [loa for loa in LOA_ORDER if info.reaches(loa)]
        records = await self._driver.fetch(
            _START_UPSTREAM_IF_USABLE,
            request_id,
            means,
            state,
            nonce,
            verifier,
            csrf,
            utcnow(),
            levels,
        )
        return str(records[0]["required_loa"]) if records else None

    async def _fetch_request(self, statement: str, key: str) -> RequestRow | None:
        assert self._pg is not None
        records = await self._driver.fetch(statement, key)
        if not records:
            return None
        r = records[0]
        return RequestRow(
            id=r["id"],
            client_id=r["client_id"],
            params=json.loads(r["params"]),
            required_loa=r["required_loa"],
            means=r["means"],
            upstream_state=r["upstream_state"],
            upstream_nonce=r["upstream_nonce"],
            upstream_verifier=r["upstream_verifier"],
            csrf=r["csrf"],
            created_at=r["created_at"],
            expires_at=r["expires_at"],
            completed_at=r["completed_at"],
        )

    def request_usable(self, row: AnyRequest) -> bool:
        return row.completed_at is None and aware(row.expires_at) > utcnow()

    # ------------------------------------------------------------------ sessions
    async def load_session(self, cookie: str | None) -> LoginSession | None:
        if not cookie or len(cookie) > 128:
            return None
        async with self.single() as session:
            row = await session.get(LoginSession, sha256_hex(cookie))
        if row is None or row.ended_at is not None or aware(row.expires_at) <= utcnow():
            return None
        return row

    def session_satisfies(self, row: AnySession, params: dict[str, Any], required: str) -> bool:
        if loa_rank(row.acr) < loa_rank(required):
            return False
        if "login" in params.get("prompt", []):
            return False
        max_age = params.get("max_age")
        return not (
            max_age is not None and (utcnow() - aware(row.auth_time)).total_seconds() > max_age
        )

    def _new_session(self, identity: UpstreamIdentity) -> tuple[str, dict[str, Any]]:
        """A new session cookie and the fields of its row."""
        cookie = random_token(32)
        now = utcnow()
        return cookie, {
            "id_hash": sha256_hex(cookie),
            "person_hash": self.person_hash(identity.person_key),
            "means": identity.means,
            "acr": identity.loa,
            "auth_time": now,
            "attributes_encrypted": self.attributes.seal(identity.to_dict()),
            "expires_at": now + timedelta(seconds=self.settings.session_lifetime),
            "ended_at": None,
        }

    def _session_audit(
        self, session: AsyncSession, row: AnySession, identity: UpstreamIdentity
    ) -> None:
        add_audit(
            session,
            actor=f"person:{row.person_hash[:16]}",
            action="session.created",
            subject=row.id_hash[:16],
            detail={"means": identity.means, "acr": identity.loa},
        )

    async def login_and_issue_code(
        self, request_row: AnyRequest, identity: UpstreamIdentity
    ) -> tuple[str, str]:
        """New login session and the RP's code in one transaction: (cookie, RP redirect)."""
        cookie, fields = self._new_session(identity)
        code = random_token(32)
        if self._pg is not None:
            login: AnySession = SessionRow(**fields)
            # PostgreSQL: one statement (atomic by itself, see _LOGIN_AND_CODE) instead
            # of a transaction of six round trips through the ORM.
            now = utcnow()
            p = request_row.params
            records = await self._driver.fetch(
                _LOGIN_AND_CODE,
                now,
                request_row.id,
                login.id_hash,
                login.person_hash,
                login.means,
                login.acr,
                login.auth_time,
                login.attributes_encrypted,
                login.expires_at,
                uuid.uuid4(),
                f"person:{login.person_hash[:16]}",
                login.id_hash[:16],
                json.dumps({"means": identity.means, "acr": identity.loa}),
                current_trace_id(),
                sha256_hex(code),
                request_row.client_id,
                p["redirect_uri"],
                p["code_challenge"],
                p["nonce"],
                p["scope"],
                json.dumps(p["claims"]) if p.get("claims") is not None else None,
                now + timedelta(seconds=self.settings.code_lifetime),
            )
            if not records:
                raise PageError(
                    "Deze inlogpoging is al afgerond. Begin opnieuw bij de dienst.",
                    "This login attempt was already completed. Please start again at the service.",
                )
            return cookie, self._code_redirect(request_row, code)
        login = LoginSession(**fields)
        async with self.sessionmaker() as session, session.begin():
            session.add(login)
            await session.flush()  # the code row refers to the session
            self._session_audit(session, login, identity)
            await self._add_code(session, code, request_row, login)
        return cookie, self._code_redirect(request_row, code)

    def session_identity(self, row: AnySession) -> UpstreamIdentity:
        return UpstreamIdentity.from_dict(self.attributes.open(row.attributes_encrypted))

    async def end_session(self, row: AnySession, actor: str) -> None:
        now = utcnow()
        async with self.sessionmaker() as session, session.begin():
            await session.execute(
                update(LoginSession)
                .where(col(LoginSession.id_hash) == row.id_hash)
                .values(ended_at=now)
            )
            await session.execute(
                update(RefreshToken)
                .where(
                    col(RefreshToken.session_hash) == row.id_hash,
                    col(RefreshToken.revoked_at).is_(None),
                )
                .values(revoked_at=now)
            )
            add_audit(session, actor=actor, action="session.ended", subject=row.id_hash[:16])

    # --------------------------------------------------------------------- codes
    async def issue_code(self, request_row: AnyRequest, session_row: AnySession) -> str:
        code = random_token(32)
        async with self.sessionmaker() as session, session.begin():
            await self._add_code(session, code, request_row, session_row)
        return self._code_redirect(request_row, code)

    async def _add_code(
        self,
        session: AsyncSession,
        code: str,
        request_row: AnyRequest,
        session_row: AnySession,
    ) -> None:
        now = utcnow()
        p = request_row.params
        session.add(
            AuthorizationCode(
                code_hash=sha256_hex(code),
                client_id=request_row.client_id,
                redirect_uri=p["redirect_uri"],
                code_challenge=p["code_challenge"],
                nonce=p["nonce"],
                scope=p["scope"],
                session_hash=session_row.id_hash,
                claims_request=p.get("claims"),
                expires_at=now + timedelta(seconds=self.settings.code_lifetime),
            )
        )
        # Single use of the authorization request: only one completion wins.
        result = await session.execute(
            update(AuthorizationRequest)
            .where(
                col(AuthorizationRequest.id) == request_row.id,
                col(AuthorizationRequest.completed_at).is_(None),
            )
            .values(completed_at=now)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise PageError(
                "Deze inlogpoging is al afgerond. Begin opnieuw bij de dienst.",
                "This login attempt was already completed. Please start again at the service.",
            )

    def _code_redirect(self, request_row: AnyRequest, code: str) -> str:
        p = request_row.params
        return add_query(
            p["redirect_uri"], {"code": code, "state": p.get("state"), "iss": self.issuer}
        )

    # -------------------------------------------------------------------- claims
    def person_hash(self, person_key: str) -> str:
        return keyed_hash(self.settings.secret, "person", person_key)

    def pairwise_sub(self, sector: str, person_key: str) -> str:
        return keyed_hash(self.settings.secret, "sub", sector, person_key)

    def roles_for(self, identity: UpstreamIdentity) -> list[str]:
        org = identity.attributes.get("org")
        if not org:
            return []
        roles = set()
        for machtiging in identity.attributes.get("machtigingen", []):
            role = MACHTIGING_ROLES.get(machtiging)
            if role == "platform-admin" and org.get("id") not in self.settings.admin_org_ids:
                continue
            if role:
                roles.add(role)
        return sorted(roles)

    def granted_scopes(
        self, client: Client, requested: str, identity: UpstreamIdentity
    ) -> list[str]:
        eligible = set(OIDC_SCOPES) | READ_SCOPES
        for role in self.roles_for(identity):
            eligible |= ROLE_SCOPES.get(role, set())
        if not client.bsn_legal_basis:
            eligible.discard("bsn")
        return [s for s in requested.split() if s in eligible and s in client.allowed_scopes]

    def user_claims(
        self,
        client: Client,
        identity: UpstreamIdentity,
        scopes: list[str],
        claims_request: dict[str, Any] | None,
        target: str,
    ) -> dict[str, Any]:
        """The person's claims for this client (data minimisation by scope and `claims`)."""
        a = identity.attributes
        out: dict[str, Any] = {}
        wanted: set[str] | None = None
        if claims_request and isinstance(claims_request.get(target), dict):
            wanted = set(claims_request[target])
        if "profile" in scopes:
            if "given_name" in a:
                out["given_name"] = a["given_name"]
            if "family_name" in a:
                out["family_name"] = a["family_name"]
            if "given_name" in a and "family_name" in a:
                out["name"] = f"{a['given_name']} {a['family_name']}"
            if "birthdate" in a:
                out["birthdate"] = a["birthdate"]
        if "email" in scopes and "email" in a:
            out["email"] = a["email"]
        if "bsn" in scopes and client.bsn_legal_basis and "bsn" in a:
            out["bsn"] = a["bsn"]
        if wanted is not None:
            out = {k: v for k, v in out.items() if k in wanted}
        rep = a.get("represents")
        if rep:
            represented: dict[str, Any] = {
                "sub": self.pairwise_sub(client.sector, f"bsn:{rep['bsn']}"),
                "name": rep.get("name"),
                "service": rep.get("service"),
                "mandate_service": rep.get("mandate_service"),
                "level": identity.loa,
            }
            if "bsn" in out:
                represented["bsn"] = rep["bsn"]
            out["represents"] = represented
        org = a.get("org")
        if org:
            out["org_id"] = org["id"]
            out["org_type"] = org["type"]
            out["org_name"] = org.get("name")
            out["roles"] = self.roles_for(identity)
            out["represents"] = {
                "org_id": org["id"],
                "id_type": ID_TYPES.get(org.get("id_type", ""), org.get("id_type")),
                "name": org.get("name"),
                "services": list(a.get("machtigingen", [])),
                "mandate_service": "eHerkenning",
                "level": identity.loa,
            }
        return out

    # -------------------------------------------------------------------- tokens
    def access_lifetime(self, client: Client) -> int:
        if client.token_endpoint_auth_method == "none":  # noqa: S105
            return min(self.settings.public_client_access_token_lifetime, 900)
        return min(self.settings.access_token_lifetime, 3600)

    async def mint_access_token(
        self,
        client: Client,
        sub: str,
        scopes: list[str],
        extra: dict[str, Any],
        jti: str | None = None,
    ) -> tuple[str, int]:
        now = int(time.time())
        lifetime = self.access_lifetime(client)
        claims = {
            "iss": self.issuer,
            "aud": ["samen", client.client_id],
            "azp": client.client_id,
            "client_id": client.client_id,
            "sub": sub,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "jti": jti or uuid.uuid4().hex,
            "scope": " ".join(scopes),
            **{k: v for k, v in extra.items() if v not in (None, [], "")},
        }
        return await self.keys.sign(claims, "RS256", typ="at+jwt"), lifetime

    async def client_credentials(self, client: Client, scope: str | None) -> dict[str, Any]:
        if client.grant_type != "client_credentials":
            raise OAuthError("unauthorized_client", "This client may not use client_credentials.")
        if scope is None or not scope.strip():
            scopes = list(client.allowed_scopes)
        else:
            scopes = list(dict.fromkeys(scope.split()))
            refused = [s for s in scopes if s not in client.allowed_scopes]
            if refused:
                raise OAuthError(
                    "invalid_scope", f"Scope not allowed for this client: {' '.join(refused)}"
                )
        extra = {"org_id": client.org_id, "org_type": client.org_type, "roles": list(client.roles)}
        token, lifetime = await self.mint_access_token(client, client.client_id, scopes, extra)
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": lifetime,
            "scope": " ".join(scopes),
        }

    async def authorization_code(self, client: Client, form: dict[str, str]) -> dict[str, Any]:
        if client.grant_type != "authorization_code":
            raise OAuthError("unauthorized_client", "This client may not use the code flow.")
        code = form.get("code")
        if not code:
            raise OAuthError("invalid_request", "code is required.")
        verifier = form.get("code_verifier")
        if not verifier:
            raise OAuthError("invalid_request", "PKCE is required: code_verifier is missing.")
        now = utcnow()
        code_hash = sha256_hex(code)
        failure: OAuthError | None = None
        login: AnySession | None = None
        row: AnyCode | None = None
        replayed = False
        if self._pg is not None:
            # PostgreSQL: the usual redemption in one statement (see _SPEND_CODE). No row
            # back (unknown code, another client's, or already used) changed nothing:
            # the transaction below then decides exactly as before (replay handling).
            row, login, failure = await self._spend_code_pg(client, code_hash, form, verifier, now)
        if row is None:
            async with self.sessionmaker() as session, session.begin():
                row = await session.get(AuthorizationCode, code_hash)
                if row is None or row.client_id != client.client_id:
                    raise OAuthError("invalid_grant", "The code is invalid.")
                # Single use even under concurrency: only one UPDATE can flip used_at.
                result = await session.execute(
                    update(AuthorizationCode)
                    .where(
                        col(AuthorizationCode.code_hash) == code_hash,
                        col(AuthorizationCode.used_at).is_(None),
                    )
                    .values(used_at=now)
                )
                if result.rowcount != 1:  # type: ignore[attr-defined]
                    # A replayed code: revoke what the first redemption produced (RFC 6749
                    # 4.1.2). Marking the code locks its row, so a redemption still in flight
                    # either sees the mark or has committed its refresh token before this.
                    await session.execute(
                        update(AuthorizationCode)
                        .where(col(AuthorizationCode.code_hash) == code_hash)
                        .values(replayed_at=now)
                    )
                    await session.execute(
                        update(RefreshToken)
                        .where(
                            col(RefreshToken.session_hash) == row.session_hash,
                            col(RefreshToken.client_id) == client.client_id,
                        )
                        .values(revoked_at=now)
                    )
                    # And the access tokens: the code's own (its jti is derived from the code)
                    # and those of the refresh tokens redeemed since (derived from theirs).
                    spent = (
                        await session.execute(
                            select(col(RefreshToken.token_hash)).where(
                                col(RefreshToken.session_hash) == row.session_hash,
                                col(RefreshToken.client_id) == client.client_id,
                                col(RefreshToken.used_at).is_not(None),
                            )
                        )
                    ).scalars()
                    jtis = [self.access_jti("code", code_hash)]
                    jtis += [self.access_jti("refresh", h) for h in spent]
                    await self._deny_access_tokens(session, client, jtis, now)
                    add_audit(
                        session,
                        actor=f"client:{client.client_id}",
                        action="code.replayed",
                        subject=code_hash[:16],
                        detail={"access_tokens_revoked": len(jtis)},
                    )
                    replayed = True
                else:
                    replayed = False
                    # Checked inside the transaction that marks the code, so a failed
                    # attempt still spends it; the login session is read in it too.
                    failure = self._code_failure(row, form, verifier, now)
                    if failure is None:
                        login = await session.get(LoginSession, row.session_hash)
                        if login is None or login.ended_at is not None:
                            failure = OAuthError("invalid_grant", "The login session has ended.")
        if replayed:
            raise OAuthError("invalid_grant", "The code was already used.")
        if failure is not None or login is None:
            raise failure or OAuthError("invalid_grant", "The login session has ended.")
        # Signed outside any transaction (on SQLite a key reload inside one would wait for
        # its lock); _user_tokens re-checks the code under a row lock before recording.
        return await self._user_tokens(
            client,
            self.session_identity(login),
            login,
            row.scope,
            row.nonce,
            row.claims_request,
            family_id=None,
            code_hash=code_hash,
            access_jti=self.access_jti("code", code_hash),
        )

    async def _spend_code_pg(
        self,
        client: Client,
        code_hash: str,
        form: dict[str, str],
        verifier: str,
        now: datetime,
    ) -> tuple[CodeRow | None, SessionRow | None, OAuthError | None]:
        """Mark an unused code of this client used and read its login session, in one
        statement; (None, None, None) if no unused code of this client matched."""
        assert self._pg is not None
        records = await self._driver.fetch(_SPEND_CODE, code_hash, client.client_id, now)
        if not records:
            return None, None, None
        r = records[0]
        row = CodeRow(
            code_hash=code_hash,
            client_id=client.client_id,
            redirect_uri=r["redirect_uri"],
            code_challenge=r["code_challenge"],
            nonce=r["nonce"],
            scope=r["scope"],
            session_hash=r["session_hash"],
            claims_request=(
                json.loads(r["claims_request"]) if r["claims_request"] is not None else None
            ),
            expires_at=r["expires_at"],
            used_at=now,
        )
        # Checked after marking, so a failed attempt still spends the code (as below).
        failure = self._code_failure(row, form, verifier, now)
        if failure is not None:
            return row, None, failure
        if r["s_id_hash"] is None or r["s_ended_at"] is not None:
            return row, None, OAuthError("invalid_grant", "The login session has ended.")
        login = SessionRow(
            id_hash=r["s_id_hash"],
            person_hash=r["s_person_hash"],
            means=r["s_means"],
            acr=r["s_acr"],
            auth_time=r["s_auth_time"],
            attributes_encrypted=r["s_attributes"],
            expires_at=r["s_expires_at"],
            ended_at=None,
        )
        return row, login, None

    def _code_failure(
        self, row: AnyCode, form: dict[str, str], verifier: str, now: datetime
    ) -> OAuthError | None:
        if aware(row.expires_at) <= now:
            return OAuthError("invalid_grant", "The code has expired.")
        if form.get("redirect_uri") != row.redirect_uri:
            return OAuthError(
                "invalid_grant", "redirect_uri does not match the authorization request."
            )
        if (
            not PKCE_VERIFIER.match(verifier)
            or create_s256_code_challenge(verifier) != row.code_challenge
        ):
            return OAuthError(
                "invalid_grant", "The code_verifier does not match the code_challenge."
            )
        return None

    async def _user_tokens(
        self,
        client: Client,
        identity: UpstreamIdentity,
        login: AnySession,
        requested_scope: str,
        nonce: str | None,
        claims_request: dict[str, Any] | None,
        family_id: str | None,
        code_hash: str | None = None,
        access_jti: str | None = None,
    ) -> dict[str, Any]:
        scopes = self.granted_scopes(client, requested_scope, identity)
        sub = self.pairwise_sub(client.sector, identity.person_key)
        auth_time = int(aware(login.auth_time).timestamp())
        person = self.user_claims(client, identity, scopes, claims_request, "id_token")
        extra = {
            "acr": login.acr,
            "auth_time": auth_time,
            "sid": login.id_hash,
            "org_id": person.get("org_id"),
            "org_type": person.get("org_type"),
            "roles": person.get("roles"),
            "userinfo_claims": userinfo_allowance(claims_request),
        }
        access, lifetime = await self.mint_access_token(client, sub, scopes, extra, access_jti)
        response: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": lifetime,
            "scope": " ".join(scopes),
        }
        # What this client learns: the ID token's claims, or without an ID token (a
        # refresh) only what the access token carries.
        in_access_token = [k for k in ("org_id", "org_type", "roles") if extra[k] is not None]
        disclosed = sorted({"sub", "acr", *(person if nonce is not None else in_access_token)})
        if nonce is not None:
            now = int(time.time())
            id_claims = {
                "iss": self.issuer,
                "aud": client.client_id,
                "azp": client.client_id,
                "sub": sub,
                "nonce": nonce,
                "jti": uuid.uuid4().hex,
                "iat": now,
                "nbf": now,
                "exp": now + min(self.settings.id_token_lifetime, 300),
                "acr": login.acr,
                "auth_time": auth_time,
                "sid": login.id_hash,
                **person,
            }
            response["id_token"] = await self.keys.sign(
                id_claims, client.id_token_signed_response_alg
            )
        refresh: str | None = None
        now_dt = utcnow()
        if code_hash is not None and self._pg is not None:
            # PostgreSQL: the code check under a row lock and the three records in one
            # statement (atomic by itself; see _RECORD_CODE_TOKENS) instead of a
            # transaction of five round trips through the ORM.
            if client.refresh_tokens_enabled:
                refresh = random_token(32)
            records = await self._driver.fetch(
                _RECORD_CODE_TOKENS,
                code_hash,
                sha256_hex(refresh) if refresh else None,
                family_id or uuid.uuid4().hex,
                client.client_id,
                requested_scope,
                login.id_hash,
                json.dumps(claims_request) if claims_request is not None else None,
                now_dt,
                now_dt + timedelta(seconds=self.settings.refresh_token_lifetime),
                uuid.uuid4(),
                login.person_hash,
                client.name,
                json.dumps(disclosed),
                login.acr,
                current_trace_id(),
                client.sector,
                sub,
            )
            if not records:
                raise OAuthError("invalid_grant", "The code was replayed; nothing is issued.")
            if refresh:
                response["refresh_token"] = refresh
            return response
        async with self.sessionmaker() as session, session.begin():
            if code_hash is not None:
                code = await session.get(AuthorizationCode, code_hash, with_for_update=True)
                if code is None or code.replayed_at is not None:
                    raise OAuthError("invalid_grant", "The code was replayed; nothing is issued.")
            if client.refresh_tokens_enabled:
                refresh = random_token(32)
                session.add(
                    RefreshToken(
                        token_hash=sha256_hex(refresh),
                        family_id=family_id or uuid.uuid4().hex,
                        client_id=client.client_id,
                        scope=requested_scope,
                        session_hash=login.id_hash,
                        claims_request=claims_request,
                        created_at=now_dt,
                        expires_at=now_dt + timedelta(seconds=self.settings.refresh_token_lifetime),
                    )
                )
            session.add(
                Disclosure(
                    person_hash=login.person_hash,
                    client_id=client.client_id,
                    client_name=client.name,
                    channel="token",
                    attributes=disclosed,
                    acr=login.acr,
                    at=now_dt,
                    trace_id=current_trace_id(),
                )
            )
            await self._remember_subject(session, client.sector, sub, login.person_hash)
        if refresh:
            response["refresh_token"] = refresh
        return response

    async def _remember_subject(
        self, session: AsyncSession, sector: str, sub: str, person_hash: str
    ) -> None:
        values = {"sector": sector, "sub": sub, "person_hash": person_hash}
        table = PairwiseSubject.__table__  # type: ignore[attr-defined]
        if session.bind.dialect.name == "postgresql":
            stmt: Any = pg_insert(table).values(**values).on_conflict_do_nothing()
        else:
            stmt = sqlite_insert(table).values(**values).on_conflict_do_nothing()
        await session.execute(stmt)

    async def refresh(self, client: Client, form: dict[str, str]) -> dict[str, Any]:
        if not client.refresh_tokens_enabled:
            raise OAuthError(
                "unauthorized_client", "Refresh tokens are not enabled for this client."
            )
        token = form.get("refresh_token")
        if not token:
            raise OAuthError("invalid_request", "refresh_token is required.")
        token_hash = sha256_hex(token)
        now = utcnow()
        async with self.sessionmaker() as session, session.begin():
            row = await session.get(RefreshToken, token_hash)
            if row is None or row.client_id != client.client_id:
                raise OAuthError("invalid_grant", "The refresh token is invalid.")
            result = await session.execute(
                update(RefreshToken)
                .where(
                    col(RefreshToken.token_hash) == token_hash,
                    col(RefreshToken.used_at).is_(None),
                    col(RefreshToken.revoked_at).is_(None),
                )
                .values(used_at=now)
            )
            reused = result.rowcount != 1  # type: ignore[attr-defined]
            if reused and row.used_at is not None:
                # A spent token came back: someone holds a copy. Revoke the whole family.
                await session.execute(
                    update(RefreshToken)
                    .where(
                        col(RefreshToken.family_id) == row.family_id,
                        col(RefreshToken.revoked_at).is_(None),
                    )
                    .values(revoked_at=now)
                )
                add_audit(
                    session,
                    actor=f"client:{client.client_id}",
                    action="refresh.reuse_detected",
                    subject=row.family_id,
                )
        if reused:
            raise OAuthError("invalid_grant", "The refresh token was already used or revoked.")
        if aware(row.expires_at) <= now:
            raise OAuthError("invalid_grant", "The refresh token has expired.")
        if form.get("scope"):
            asked = form["scope"].split()
            if not set(asked) <= set(row.scope.split()):
                raise OAuthError("invalid_scope", "A refresh cannot widen the scope.")
            scope = " ".join(asked)
        else:
            scope = row.scope
        async with self.sessionmaker() as session:
            login = await session.get(LoginSession, row.session_hash)
        if login is None or login.ended_at is not None:
            raise OAuthError("invalid_grant", "The login session has ended.")
        identity = self.session_identity(login)
        return await self._user_tokens(
            client,
            identity,
            login,
            scope,
            None,
            row.claims_request,
            family_id=row.family_id,
            access_jti=self.access_jti("refresh", token_hash),
        )

    # --------------------------------------------- introspection and revocation
    def access_jti(self, kind: str, grant_hash: str) -> str:
        """The jti of the access token a code or refresh token was redeemed for.

        Derived (keyed) from the grant's stored hash, so a replayed code can revoke the
        access tokens its redemptions produced without storing anything per grant."""
        return keyed_hash(self.settings.secret, "access-jti", kind, grant_hash)

    async def _deny_access_tokens(
        self, session: AsyncSession, client: Client, jtis: list[str], now: Any
    ) -> None:
        """Add jtis to the denylist checked by introspection and userinfo, for as long as
        an access token of this client can live (idempotent)."""
        until = now + timedelta(seconds=self.access_lifetime(client) + 60)
        table = RevokedToken.__table__  # type: ignore[attr-defined]
        for jti in jtis:
            values = {"jti": jti, "client_id": client.client_id, "expires_at": until,
                      "revoked_at": now}  # fmt: skip
            if session.bind.dialect.name == "postgresql":
                stmt: Any = pg_insert(table).values(**values).on_conflict_do_nothing()
            else:
                stmt = sqlite_insert(table).values(**values).on_conflict_do_nothing()
            await session.execute(stmt)

    async def access_token_claims(self, token: str) -> dict[str, Any] | None:
        """Claims of a valid, unexpired, unrevoked access token we issued, else None."""
        if token.count(".") != 2:
            return None
        try:
            claims = await self.keys.verify_own(token)
        except ValueError:
            return None
        now = time.time()
        if claims.get("iss") != self.issuer or not isinstance(claims.get("exp"), int):
            return None
        if claims["exp"] <= now or claims.get("nbf", 0) > now + 30 or "nonce" in claims:
            return None
        async with self.sessionmaker() as session:
            revoked = await session.get(RevokedToken, str(claims.get("jti")))
        if revoked is not None:
            return None
        return claims

    async def introspect(self, client: Client, token: str) -> dict[str, Any]:
        claims = await self.access_token_claims(token)
        if claims is not None:
            return {"active": True, "token_type": "Bearer", **claims}
        async with self.sessionmaker() as session:
            row = await session.get(RefreshToken, sha256_hex(token))
        if (
            row is not None
            and row.client_id == client.client_id
            and row.used_at is None
            and row.revoked_at is None
            and aware(row.expires_at) > utcnow()
        ):
            return {
                "active": True,
                "token_type": "refresh_token",
                "client_id": row.client_id,
                "scope": row.scope,
                "exp": int(aware(row.expires_at).timestamp()),
                "iss": self.issuer,
            }
        return {"active": False}

    async def revoke(self, client: Client, token: str) -> None:
        now = utcnow()
        claims = await self.access_token_claims(token)
        if claims is not None:
            if claims.get("client_id") != client.client_id:
                raise OAuthError("unauthorized_client", "The token was issued to another client.")
            async with self.sessionmaker() as session, session.begin():
                if await session.get(RevokedToken, str(claims["jti"])) is None:
                    session.add(
                        RevokedToken(
                            jti=str(claims["jti"]),
                            client_id=client.client_id,
                            expires_at=utcnow()
                            + timedelta(seconds=max(0, claims["exp"] - int(time.time()))),
                            revoked_at=now,
                        )
                    )
                    add_audit(
                        session,
                        actor=f"client:{client.client_id}",
                        action="token.revoked",
                        subject=str(claims["jti"]),
                    )
            return
        async with self.sessionmaker() as session, session.begin():
            row = await session.get(RefreshToken, sha256_hex(token))
            if row is None:
                return  # RFC 7009: unknown tokens are not an error
            if row.client_id != client.client_id:
                raise OAuthError("unauthorized_client", "The token was issued to another client.")
            await session.execute(
                update(RefreshToken)
                .where(
                    col(RefreshToken.family_id) == row.family_id,
                    col(RefreshToken.revoked_at).is_(None),
                )
                .values(revoked_at=now)
            )
            add_audit(
                session,
                actor=f"client:{client.client_id}",
                action="refresh.revoked",
                subject=row.family_id,
            )

    # ------------------------------------------------------------------ userinfo
    async def userinfo(self, token: str) -> dict[str, Any]:
        claims = await self.access_token_claims(token)
        if claims is None:
            raise OAuthError("invalid_token", "The access token is invalid, expired or revoked.")
        if "openid" not in str(claims.get("scope", "")).split():
            raise OAuthError("insufficient_scope", "The access token lacks the openid scope.")
        client = await self.clients.get(str(claims.get("client_id")))
        sid = str(claims.get("sid") or "")
        login = None
        if sid and client is not None:
            async with self.sessionmaker() as session:
                login = await session.get(LoginSession, sid)
        if client is None or login is None or login.ended_at is not None:
            raise OAuthError("invalid_token", "The login session of this token has ended.")
        identity = self.session_identity(login)
        scopes = str(claims["scope"]).split()
        # The `claims` request's userinfo member, as carried by the access token: only
        # those of the person's attributes (and never more than scope and registration
        # allow, which user_claims enforces).
        allowance = claims.get("userinfo_claims")
        claims_request = (
            {"userinfo": dict.fromkeys(allowance)} if isinstance(allowance, list) else None
        )
        person = self.user_claims(client, identity, scopes, claims_request, "userinfo")
        out = {"sub": claims["sub"], **person}
        released = sorted(out)
        represents = out.get("represents")
        if isinstance(represents, dict) and "bsn" in represents:
            released.append("represents.bsn")
        async with self.sessionmaker() as session, session.begin():
            session.add(
                Disclosure(
                    person_hash=login.person_hash,
                    client_id=client.client_id,
                    client_name=client.name,
                    channel="userinfo",
                    attributes=released,
                    acr=login.acr,
                    at=utcnow(),
                    trace_id=current_trace_id(),
                )
            )
        return out

    def minimum_loa_default(self) -> str:
        return LOA_LOW

    def offered_means(self, required: str) -> tuple[list[MeansInfo], list[MeansInfo]]:
        offered: list[MeansInfo] = []
        unavailable: list[MeansInfo] = []
        for name in self.connectors:
            info = MEANS[name]
            (offered if info.reaches(required) else unavailable).append(info)
        return offered, unavailable


# The code exchange's records on PostgreSQL, in one statement: the code row is locked
# and must not be marked replayed (a replay that marked it first wins, exactly as with
# the ORM transaction's SELECT … FOR UPDATE); only then are the refresh token (if any),
# the disclosure log entry (append-only) and the pairwise subject written. No row back:
# nothing was written. $2 NULL: the client gets no refresh token.
# Authorization requests on PostgreSQL (single statements on the driver connection).
_INSERT_REQUEST = """
INSERT INTO authorization_requests (id, client_id, params, required_loa, means,
                                    upstream_state, upstream_nonce, upstream_verifier,
                                    csrf, created_at, expires_at, completed_at)
VALUES ($1::varchar, $2::varchar, $3::json, $4::varchar, NULL, NULL, NULL, NULL,
        $5::varchar, $6::timestamptz, $7::timestamptz, NULL)
"""
_SELECT_REQUEST = """
SELECT id, client_id, params::text AS params, required_loa, means, upstream_state,
       upstream_nonce, upstream_verifier, csrf, created_at, expires_at, completed_at
FROM authorization_requests
"""
_START_UPSTREAM = """
UPDATE authorization_requests
SET means = $2::varchar, upstream_state = $3::varchar, upstream_nonce = $4::varchar,
    upstream_verifier = $5::varchar, csrf = $6::varchar
WHERE id = $1::varchar
"""
# The means choice in one statement: recorded only on a usable request (not completed,
# not expired) whose required level the means reaches ($8: the levels it reaches).
_START_UPSTREAM_IF_USABLE = """
UPDATE authorization_requests
SET means = $2::varchar, upstream_state = $3::varchar, upstream_nonce = $4::varchar,
    upstream_verifier = $5::varchar, csrf = $6::varchar
WHERE id = $1::varchar AND completed_at IS NULL AND expires_at > $7::timestamptz
      AND required_loa = ANY($8::varchar[])
RETURNING required_loa
"""

# The code redemption on PostgreSQL, in one statement: an unused code of this client is
# marked used (only one UPDATE can flip used_at, so single use holds under concurrency)
# and its login session is read with it. Validity (60 s expiry, redirect URI, PKCE S256)
# is then checked on the returned row, after marking, as in the ORM transaction.
_SPEND_CODE = """
WITH spent AS (
    UPDATE authorization_codes SET used_at = $3::timestamptz
    WHERE code_hash = $1::varchar AND client_id = $2::varchar AND used_at IS NULL
    RETURNING redirect_uri, code_challenge, nonce, scope, session_hash,
              claims_request::text AS claims_request, expires_at
)
SELECT spent.*, s.id_hash AS s_id_hash, s.person_hash AS s_person_hash,
       s.means AS s_means, s.acr AS s_acr, s.auth_time AS s_auth_time,
       s.attributes_encrypted AS s_attributes, s.expires_at AS s_expires_at,
       s.ended_at AS s_ended_at
FROM spent LEFT JOIN login_sessions s ON s.id_hash = spent.session_hash
"""

_RECORD_CODE_TOKENS = """
WITH code AS (
    SELECT 1 FROM authorization_codes
    WHERE code_hash = $1 AND replayed_at IS NULL FOR UPDATE
), refresh AS (
    INSERT INTO refresh_tokens (token_hash, family_id, client_id, scope, session_hash,
                                claims_request, created_at, expires_at)
    SELECT $2::varchar, $3::varchar, $4::varchar, $5::varchar, $6::varchar, $7::json,
           $8::timestamptz, $9::timestamptz
    FROM code WHERE $2::varchar IS NOT NULL
), disclosure AS (
    INSERT INTO disclosures (id, person_hash, client_id, client_name, channel,
                             attributes, acr, at, trace_id)
    SELECT $10::uuid, $11::varchar, $4::varchar, $12::varchar, 'token', $13::json,
           $14::varchar, $8::timestamptz, $15::varchar
    FROM code
), subject AS (
    INSERT INTO pairwise_subjects (sector, sub, person_hash)
    SELECT $16::varchar, $17::varchar, $11::varchar FROM code ON CONFLICT DO NOTHING
)
SELECT 1 FROM code
"""

# A login's records on PostgreSQL, in one statement: the authorization request is marked
# completed only if it was not (a second completion gets no row back and writes nothing,
# as the ORM transaction rolled back); then the login session, its audit event
# (append-only) and the RP's authorization code (60 s, bound to client, redirect URI,
# PKCE challenge and nonce) are written.
_LOGIN_AND_CODE = """
WITH request AS (
    UPDATE authorization_requests SET completed_at = $1::timestamptz
    WHERE id = $2::varchar AND completed_at IS NULL
    RETURNING 1
), login AS (
    INSERT INTO login_sessions (id_hash, person_hash, means, acr, auth_time,
                                attributes_encrypted, expires_at, ended_at)
    SELECT $3::varchar, $4::varchar, $5::varchar, $6::varchar, $7::timestamptz,
           $8::text, $9::timestamptz, NULL
    FROM request
), audit AS (
    INSERT INTO audit_events (id, at, actor, action, subject, detail, trace_id)
    SELECT $10::uuid, $1::timestamptz, $11::varchar, 'session.created', $12::varchar,
           $13::json, $14::varchar
    FROM request
), code AS (
    INSERT INTO authorization_codes (code_hash, client_id, redirect_uri, code_challenge,
                                     nonce, scope, session_hash, claims_request,
                                     expires_at, used_at, replayed_at)
    SELECT $15::varchar, $16::varchar, $17::varchar, $18::varchar, $19::varchar,
           $20::varchar, $3::varchar, $21::json, $22::timestamptz, NULL, NULL
    FROM request
)
SELECT 1 FROM request
"""
