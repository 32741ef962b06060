"""Helpers for the identity tests (imported by conftest and the test modules)."""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.jwk import RSAKey

from identity.broker.means import UpstreamIdentity
from identity.config import Settings

ISSUER = "http://127.0.0.1:8000"
RP_CALLBACK = "https://rp.example.nl/callback"
LOA_LOW = "http://eidas.europa.eu/LoA/low"
LOA_SUBSTANTIAL = "http://eidas.europa.eu/LoA/substantial"
LOA_HIGH = "http://eidas.europa.eu/LoA/high"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ADMIN_ORG = "00000001009876543000"  # the default IDENTITY_ADMIN_ORG_IDS (VNG operator)


def basic_header(user: str, password: str) -> str:
    import base64
    from urllib.parse import quote

    raw = f"{quote(user, safe='')}:{quote(password, safe='')}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def make_settings(url: str, **kw: Any) -> Settings:
    base: dict[str, Any] = {
        "environment": "test",
        "database_url": url,
        "issuer": ISSUER,
        "log_json": False,
        "client_cache_seconds": 0.0,
    }
    base.update(kw)
    return Settings(**base)


@dataclass
class RP:
    client_id: str
    key: RSAKey | None = None
    secret: str | None = None
    redirect_uri: str = RP_CALLBACK
    extra: dict[str, Any] = field(default_factory=dict)

    def assertion(self, aud: str = f"{ISSUER}/auth/token", **overrides: Any) -> str:
        assert self.key is not None
        now = int(time.time())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": aud,
            "jti": uuid.uuid4().hex,
            "iat": now,
            "exp": now + 60,
        }
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode({"alg": "RS256", "kid": self.key.kid}, claims, self.key)

    def auth(self, form: dict[str, str], **overrides: Any) -> tuple[dict[str, str], dict[str, str]]:
        """(form, headers) with this client's authentication added."""
        if self.key is not None:
            return {
                **form,
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": self.assertion(**overrides),
            }, {}
        if self.secret is not None:
            return form, {"Authorization": basic_header(self.client_id, self.secret)}
        return {**form, "client_id": self.client_id}, {}


def authorize_params(rp: RP, **kw: Any) -> tuple[dict[str, str], str]:
    """An authorization request's parameters (None drops one) and its PKCE verifier."""
    verifier = kw.pop("verifier", uuid.uuid4().hex + uuid.uuid4().hex)
    params = {
        "response_type": "code",
        "client_id": rp.client_id,
        "redirect_uri": rp.redirect_uri,
        "scope": "openid profile",
        "state": uuid.uuid4().hex,
        "nonce": uuid.uuid4().hex,
        "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256",
    }
    params.update(kw)
    return {k: v for k, v in params.items() if v is not None}, verifier


def person(name: str = "jan", loa: str = LOA_SUBSTANTIAL) -> UpstreamIdentity:
    """A DigiD login of a made-up person (``name`` tells persons apart)."""
    native = {LOA_LOW: "MobileTwoFactorContract", LOA_SUBSTANTIAL: "Smartcard",
              LOA_HIGH: "SmartcardPKI"}[loa]  # fmt: skip
    return UpstreamIdentity(
        means="digid",
        native_level="urn:oasis:names:tc:SAML:2.0:ac:classes:" + native,
        loa=loa,
        person_key=f"bsn:{name}",
        attributes={"given_name": name.title(), "family_name": "Jansen"},
    )


async def issue_code(
    authorization: Any, rp: RP, who: UpstreamIdentity | None = None, **kw: Any
) -> tuple[str, str]:
    """(code, verifier) from the authorization service itself, without a browser: the
    request validated and stored, then completed by a new login of ``who``."""
    params, verifier = authorize_params(rp, **kw)
    request = await authorization.store(await authorization.validate(params))
    _cookie, redirect = await authorization.login_and_issue_code(request, who or person())
    return query_of(redirect)["code"], verifier


def code_form(rp: RP, code: str, verifier: str) -> dict[str, str]:
    """The token request's form for a code (client authentication is not the service's)."""
    return {"grant_type": "authorization_code", "code": code, "redirect_uri": rp.redirect_uri,
            "code_verifier": verifier}  # fmt: skip


HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


def hidden_fields(html: str) -> dict[str, str]:
    import html as htmllib

    return {k: htmllib.unescape(v) for k, v in HIDDEN.findall(html)}


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def path_of(location: str) -> str:
    parts = urlsplit(location)
    return parts.path + ("?" + parts.query if parts.query else "")


@dataclass
class Login:
    """The outcome of a browser login: where the OP sent the browser back to the RP."""

    location: str
    verifier: str
    nonce: str
    state: str

    @property
    def params(self) -> dict[str, str]:
        return query_of(self.location)


class Browser:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    def authorize_params(self, rp: RP, **kw: Any) -> tuple[dict[str, str], str]:
        return authorize_params(rp, **kw)

    async def start(self, rp: RP, **kw: Any) -> tuple[httpx.Response, dict[str, str], str]:
        params, verifier = self.authorize_params(rp, **kw)
        response = await self.http.get("/auth/authorize?" + urlencode(params))
        return response, params, verifier

    async def choose(self, login_location: str, means: str) -> httpx.Response:
        page = await self.http.get(path_of(login_location))
        assert page.status_code == 200, page.text
        fields = hidden_fields(page.text)
        return await self.http.post("/auth/login", data={**fields, "means": means})

    async def simulator(
        self, location: str, identity: str, level: str, action: str = "login"
    ) -> httpx.Response:
        page = await self.http.get(path_of(location))
        assert page.status_code == 200, page.text
        fields = hidden_fields(page.text)
        means = urlsplit(location).path.split("/")[3]
        return await self.http.post(
            f"/auth/simulators/{means}/authorize",
            data={**fields, "identity": identity, "level": level, "action": action},
        )

    async def login(
        self,
        rp: RP,
        means: str = "digid",
        identity: str = "digid-jan",
        level: str | None = None,
        **kw: Any,
    ) -> Login:
        """Authorize → login page → simulator → callback; returns the RP redirect."""
        level = level or DEFAULT_LEVELS[means]
        response, params, verifier = await self.start(rp, **kw)
        assert response.status_code == 303, response.text
        location = response.headers["location"]
        if location.startswith("/auth/login"):
            chosen = await self.choose(location, means)
            assert chosen.status_code == 303, chosen.text
            back = await self.simulator(chosen.headers["location"], identity, level)
            assert back.status_code == 303, back.text
            final = await self.http.get(path_of(back.headers["location"]))
            assert final.status_code == 303, final.text
            location = final.headers["location"]
        return Login(location, verifier, params.get("nonce", ""), params.get("state", ""))

    async def token(self, rp: RP, login: Login, **overrides: str) -> httpx.Response:
        form = {
            "grant_type": "authorization_code",
            "code": login.params["code"],
            "redirect_uri": rp.redirect_uri,
            "code_verifier": login.verifier,
        }
        form.update(overrides)
        form = {k: v for k, v in form.items() if v is not None}
        data, headers = rp.auth(form)
        return await self.http.post("/auth/token", data=data, headers=headers)


DEFAULT_LEVELS = {
    "digid": "urn:oasis:names:tc:SAML:2.0:ac:classes:Smartcard",
    "eherkenning": "urn:etoegang:core:assurance-class:loa3",
    "eidas": LOA_SUBSTANTIAL,
    "yivi": "urn:yivi:level:brp",
}


def decode_unverified(token: str) -> dict[str, Any]:
    import base64
    import json

    payload = token.split(".")[1]
    payload += "=" * (-len(payload) % 4)
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload))
    return data


_KEYS: dict[int, RSAKey] = {}


def client_key(slot: int) -> RSAKey:
    """Test RP keys, generated once per session (RSA generation is slow on a busy box);
    a different slot gives a different key."""
    if slot not in _KEYS:
        _KEYS[slot] = RSAKey.generate_key(
            2048, parameters={"kid": f"test-rp-{slot}", "alg": "RS256", "use": "sig"}
        )
    return _KEYS[slot]


async def machine_token(http: httpx.AsyncClient, register: Any, **kw: Any) -> dict[str, str]:
    """The Authorization header of a client_credentials token for a client registered
    with ``kw``."""
    rp: RP = await register(grant_type="client_credentials", **kw)
    data, _ = rp.auth({"grant_type": "client_credentials"})
    response = await http.post("/auth/token", data=data)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
