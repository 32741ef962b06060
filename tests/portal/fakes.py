"""A fake gateway for the portal's unit and API tests: identity's token endpoint and JWKS
(it checks the portal's private_key_jwt assertion and PKCE, and signs ID tokens with a
throw-away key) and whatever API answers a test scripts. The portal's HTTP client talks
to it in process (httpx's ASGI transport): no sockets, no other service."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

GATEWAY = "https://gateway.test"
LOW = "http://eidas.europa.eu/LoA/low"
SUBSTANTIAL = "http://eidas.europa.eu/LoA/substantial"

Handler = Callable[[Request, bytes], Response]
# Turns the claims behind a fake access token (None: the portal's read token) into the
# Authorization header a real service behind the gateway verifies.
Bearer = Callable[[dict[str, Any] | None], str]


@dataclass
class Forward:
    """A public path prefix served by a real service app in process (e.g. the registry)."""

    prefix: str
    upstream: str
    client: Any  # httpx.AsyncClient on the service app
    bearer: Bearer


@dataclass
class Grant:
    nonce: str
    challenge: str
    claims: dict[str, Any]


@dataclass
class FakeGateway:
    portal_key: RSAKey
    client_id: str = "samen-portal"
    reader_id: str = "samen-portal-reader"
    key: RSAKey = field(
        default_factory=lambda: RSAKey.generate_key(
            2048, parameters={"kid": "op-1", "use": "sig", "alg": "RS256"}
        )
    )
    codes: dict[str, Grant] = field(default_factory=dict)
    refresh_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    routes: dict[tuple[str, str], Handler] = field(default_factory=dict)
    calls: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    access_lifetime: int = 3600
    down: bool = False
    # Tampering for the ID-token tests: claims overridden in the next ID token.
    id_token_overrides: dict[str, Any] = field(default_factory=dict)
    sign_with: RSAKey | None = None
    # Access token -> the person's claims (for forwards to real services).
    token_claims: dict[str, dict[str, Any]] = field(default_factory=dict)
    forwards: list[Forward] = field(default_factory=list)

    # ---------------------------------------------------------------- the "person" side
    def issue_code(self, nonce: str, challenge: str, acr: str = LOW, **claims: Any) -> str:
        code = secrets.token_urlsafe(16)
        self.codes[code] = Grant(nonce, challenge, {"acr": acr, **claims})
        return code

    def on(self, method: str, path: str, handler: Handler) -> None:
        self.routes[(method, path)] = handler

    def json(self, method: str, path: str, body: Any, status: int = 200, **headers: str) -> None:
        media = "application/problem+json" if status >= 400 else "application/json"
        self.on(
            method,
            path,
            lambda _r, _b: JSONResponse(
                body, status_code=status, headers=headers, media_type=media
            ),
        )

    def api_calls(self, path: str) -> list[tuple[str, str, dict[str, str], bytes]]:
        return [c for c in self.calls if c[1] == path]

    # ---------------------------------------------------------------- identity side
    def _check_assertion(self, form: dict[str, str]) -> str:
        assert form["client_assertion_type"].endswith("jwt-bearer")
        token = jwt.decode(form["client_assertion"], self.portal_key, algorithms=["RS256"])
        claims = token.claims
        assert claims["iss"] == claims["sub"] == form["client_id"]
        assert claims["aud"] == GATEWAY
        assert claims["exp"] > time.time()
        return str(form["client_id"])

    def _access_token(self, sub: str, scope: str, acr: str | None) -> dict[str, Any]:
        token = f"at-{uuid.uuid4().hex}"
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": self.access_lifetime,
            "scope": scope,
        }

    def _id_token(self, grant: Grant) -> str:
        now = int(time.time())
        claims = {
            "iss": GATEWAY,
            "aud": self.client_id,
            "azp": self.client_id,
            "sub": grant.claims.get("sub", "person-1"),
            "nonce": grant.nonce,
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            "jti": uuid.uuid4().hex,
            **grant.claims,
            **self.id_token_overrides,
        }
        claims = {k: v for k, v in claims.items() if v is not None}
        key = self.sign_with or self.key
        return jwt.encode({"alg": "RS256", "kid": key.kid, "typ": "JWT"}, claims, key)

    def token(self, form: dict[str, str]) -> Response:
        self.token_requests.append(form)
        client = self._check_assertion(form)
        grant_type = form["grant_type"]
        if grant_type == "client_credentials":
            assert client == self.reader_id
            return JSONResponse(self._access_token(client, form.get("scope", ""), None))
        assert client == self.client_id
        if grant_type == "authorization_code":
            grant = self.codes.pop(form["code"], None)
            if grant is None:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            digest = hashlib.sha256(form["code_verifier"].encode()).digest()
            if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant.challenge:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            body = self._access_token("p", "openid registry:read", grant.claims["acr"])
            self.token_claims[body["access_token"]] = grant.claims
            refresh = f"rt-{uuid.uuid4().hex}"
            self.refresh_tokens[refresh] = grant.claims
            body.update(id_token=self._id_token(grant), refresh_token=refresh)
            return JSONResponse(body)
        if grant_type == "refresh_token":
            claims = self.refresh_tokens.pop(form["refresh_token"], None)
            if claims is None:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            refresh = f"rt-{uuid.uuid4().hex}"
            self.refresh_tokens[refresh] = claims
            body = self._access_token("p", "openid registry:read", claims["acr"])
            self.token_claims[body["access_token"]] = claims
            body["refresh_token"] = refresh
            return JSONResponse(body)
        return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)

    async def forward(self, to: Forward, request: Request, path: str, body: bytes) -> Response:
        """As the gateway does: the person's token checked, the request passed on with a
        token the service verifies, the answer passed back."""
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        headers = {
            k: v
            for k, v in request.headers.items()
            if k in ("accept", "content-type", "idempotency-key", "if-match")
        }
        headers["authorization"] = to.bearer(self.token_claims.get(token))
        answer = await to.client.request(
            request.method,
            to.upstream + path.removeprefix(to.prefix),
            params=request.query_params.multi_items(),
            content=body,
            headers=headers,
        )
        kept = {
            k: v for k, v in answer.headers.items() if k in ("content-type", "location", "etag")
        }
        return Response(answer.content, status_code=answer.status_code, headers=kept)

    def app(self) -> FastAPI:
        app = FastAPI()
        fake = self

        @app.get("/auth/jwks")
        async def jwks() -> dict[str, Any]:
            return dict(KeySet([fake.key]).as_dict(private=False))

        @app.post("/auth/token")
        async def token(request: Request) -> Response:
            if fake.down:
                return JSONResponse({"title": "down"}, status_code=503)
            form = {k: str(v) for k, v in (await request.form()).items()}
            return fake.token(form)

        @app.api_route("/api/{rest:path}", methods=["GET", "POST", "PATCH", "PUT", "DELETE"])
        async def api(request: Request, rest: str) -> Response:
            path = f"/api/{rest}"
            body = await request.body()
            fake.calls.append((request.method, path, dict(request.headers), body))
            if fake.down:
                return JSONResponse({"title": "Service Unavailable", "status": 503}, 503)
            handler = fake.routes.get((request.method, path))
            forward = next((f for f in fake.forwards if path.startswith(f.prefix)), None)
            if handler is None and forward is not None:
                return await fake.forward(forward, request, path, body)
            if handler is None:
                return JSONResponse(
                    {"title": "Not Found", "status": 404, "detail": f"No {path}"},
                    status_code=404,
                    media_type="application/problem+json",
                )
            return handler(request, body)

        return app
