"""Helpers for the security suite: forged tokens, a fake registry for procurement, and
the organisations the object-level tests act as."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import httpx
from joserfc import jws

from servicekit.testing import TestIssuer

OPERATOR_OIN = "00000001003214345000"
LEAD_OIN = "00000001001234567000"
OTHER_LEAD_OIN = "00000001007777777000"
UTRECHT_OIN = "00000001000000344000"
ZWOLLE_OIN = "00000001000000193000"
SUPPLIER_A = "68750110"
SUPPLIER_B = "90000002"
ALL_SCOPES = (
    "registry:read",
    "registry:write",
    "registry:exposure",
    "registry:contracts",
    "procurement:read",
    "procurement:enroll",
    "procurement:manage",
    "identity:admin",
)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(issuer: TestIssuer, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": issuer.issuer,
        "aud": issuer.audience,
        "sub": "attacker",
        "azp": "test-client",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
        "scope": " ".join(ALL_SCOPES),
        "acr": "http://eidas.europa.eu/LoA/substantial",
        "org_id": OPERATOR_OIN,
        "org_type": "operator",
        "roles": ["platform-admin"],
    }
    base.update(overrides)
    return base


def unsigned(payload: dict[str, Any], alg: str = "none") -> str:
    header = {"alg": alg, "typ": "JWT"}
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}."


def hs256_with_public_key(issuer: TestIssuer, payload: dict[str, Any]) -> str:
    """The classic key-confusion forgery: HMAC-signed with the RSA public key's PEM."""
    import hashlib
    import hmac

    pem = issuer.key.as_pem(private=False)
    header = {"alg": "HS256", "typ": "JWT", "kid": issuer.key.kid}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    signature = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def tampered(issuer: TestIssuer) -> str:
    """A genuine token whose payload was changed afterwards (more scopes, another org)."""
    token = issuer.token(sub="reader", scopes=["registry:read"], org_id=UTRECHT_OIN,
                         org_type="municipality")  # fmt: skip
    header, payload, signature = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data.update(scope=" ".join(ALL_SCOPES), org_id=OPERATOR_OIN, org_type="operator")
    return f"{header}.{b64(json.dumps(data).encode())}.{signature}"


def forged_tokens(issuer: TestIssuer) -> dict[str, str]:
    """Name → a token every service must refuse with 401."""
    other = TestIssuer(issuer=issuer.issuer, audience=issuer.audience)
    now = int(time.time())
    good = claims(issuer)
    return {
        "other-key": other.token(**_token_kwargs(good)),
        "other-key-same-kid": jws.serialize_compact(
            {"alg": "RS256", "kid": issuer.key.kid}, json.dumps(good).encode(), other.key
        ),
        "alg-none": unsigned(good),
        "alg-None": unsigned(good, "None"),
        "hs256-public-key": hs256_with_public_key(issuer, good),
        "expired": issuer.token(**_token_kwargs(good), lifetime=-3600),
        "not-yet-valid": issuer.token(**_token_kwargs(good), nbf=now + 3600),
        "wrong-aud": issuer.token(**_token_kwargs(good), aud="another-api"),
        "wrong-iss": issuer.token(**_token_kwargs(good), iss="https://evil.example"),
        "tampered": tampered(issuer),
        "garbage": "not-a-jwt",
        "empty-signature": ".".join(issuer.token(**_token_kwargs(good)).split(".")[:2]) + ".",
    }


def _token_kwargs(c: dict[str, Any]) -> dict[str, Any]:
    return {
        "sub": c["sub"],
        "scopes": c["scope"].split(),
        "org_id": c["org_id"],
        "org_type": c["org_type"],
        "roles": c["roles"],
    }


# ------------------------------------------------------------------ fake registry

FACILITY_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "samen-security/facility"))
LEAD_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "samen-security/lead"))
OTHER_LEAD_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "samen-security/other-lead"))


def _org(oid: str, kind: str, name: str, oin: str, **extra: Any) -> dict[str, Any]:
    return {"id": oid, "type": kind, "name": name, "oin": oin, "cbsCode": None,
            "kvkNumber": None, "province": None, "memberIds": [], **extra}  # fmt: skip


ORGS = {
    LEAD_ID: _org(LEAD_ID, "cooperation", "VNG", LEAD_OIN),
    OTHER_LEAD_ID: _org(OTHER_LEAD_ID, "cooperation", "Dommelvallei", OTHER_LEAD_OIN),
    "u": _org(str(uuid.uuid4()), "municipality", "Utrecht", UTRECHT_OIN, cbsCode="GM0344"),
    "z": _org(str(uuid.uuid4()), "municipality", "Zwolle", ZWOLLE_OIN, cbsCode="GM0193"),
}


def fake_registry(request: httpx.Request) -> httpx.Response:
    path = request.url.path
    if path.endswith("/auth/token"):
        return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
    if path == f"/v1/facilities/{FACILITY_ID}":
        return httpx.Response(200, json={"id": FACILITY_ID, "slug": "gt", "name": "GT",
                                         "kind": "agreement", "stage": "operational"})  # fmt: skip
    by_id = {o["id"]: o for o in ORGS.values()}
    if path.startswith("/v1/organisations/") and path.rsplit("/", 1)[1] in by_id:
        return httpx.Response(200, json=by_id[path.rsplit("/", 1)[1]])
    if path == "/v1/organisations":
        oin = request.url.params.get("oin")
        items = [o for o in by_id.values() if o["oin"] == oin]
        return httpx.Response(200, json={"items": items, "total": len(items), "page": 1,
                                         "pageSize": 100, "_links": {}})  # fmt: skip
    if path == "/v1/usages":
        return httpx.Response(200, json={"items": [], "total": 0, "page": 1, "pageSize": 100,
                                         "_links": {}})  # fmt: skip
    return httpx.Response(404, json={"status": 404})


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert "Traceback" not in response.text
    return body
