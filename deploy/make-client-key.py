#!/usr/bin/env python3
"""A fresh RSA key pair for a machine client that authenticates with private_key_jwt.

    python3 deploy/make-client-key.py samen-procurement
    python3 deploy/make-client-key.py samen-portal https://samen.example.org

prints three lines of JSON:
  1. the private JWK (kid, alg RS256): the service's secret, e.g. procurement's
     PROCUREMENT_CLIENT_PRIVATE_KEY_JWK or the registry's REGISTRY_AUTH_CLIENT_PRIVATE_KEY_JWK;
  2. the public JWK Set: what identity keeps for the client;
  3. the client's registration for `python -m identity register-client` (public keys only).

Needs only python3 (standard library) and the `openssl` command, so it runs on an
operator's machine without the project installed (deploy/compose/make-env.sh,
deploy/k8s/create-secrets.sh). Nothing is written to disk: openssl writes the key to a pipe.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import sys

# The clients the platform registers with private_key_jwt: client_id -> registration.
# "{public}" stands for the public URL (second argument, default http://127.0.0.1:8000).
CLIENTS: dict[str, dict[str, object]] = {
    "samen-procurement": {
        "name": "Samen procurement service",
        "grantType": "client_credentials",
        "tokenEndpointAuthMethod": "private_key_jwt",
        "allowedScopes": ["registry:read", "registry:contracts"],
        # A resource server of the platform's APIs: reads identity's revocation feed.
        "resourceAudiences": ["samen"],
    },
    # The registry and the gateway verify tokens too: resource servers that only read the
    # revocation feed (no scopes: they ask identity for no access tokens).
    "samen-registry": {
        "name": "Samen registry service",
        "grantType": "client_credentials",
        "tokenEndpointAuthMethod": "private_key_jwt",
        "allowedScopes": [],
        "resourceAudiences": ["samen"],
    },
    "samen-gateway": {
        "name": "Samen gateway",
        "grantType": "client_credentials",
        "tokenEndpointAuthMethod": "private_key_jwt",
        "allowedScopes": [],
        "resourceAudiences": ["samen"],
    },
    # The portal: people log in through it (python -m portal client-registration prints
    # the same documents from the portal's own settings).
    "samen-portal": {
        "name": "Samen portal",
        "grantType": "authorization_code",
        "tokenEndpointAuthMethod": "private_key_jwt",
        "redirectUris": ["{public}/login/callback"],
        "postLogoutRedirectUris": ["{public}/logged-out", "{public}/"],
        "allowedScopes": [
            "openid",
            "profile",
            "registry:read",
            "registry:write",
            "registry:exposure",
            "registry:contracts",
            "procurement:read",
            "procurement:enroll",
            "procurement:manage",
            "identity:admin",
        ],
        "minimumLoa": "http://eidas.europa.eu/LoA/low",
        "sector": "samen-platform",
        "refreshTokens": True,
    },
    # The portal's public pages read with this machine client.
    "samen-portal-reader": {
        "name": "Samen portal (public pages)",
        "grantType": "client_credentials",
        "tokenEndpointAuthMethod": "private_key_jwt",
        "allowedScopes": ["registry:read", "procurement:read"],
    },
}

# `openssl pkey -text` names the RSA private key's numbers like this (OpenSSL 1.1 and 3).
FIELDS = {
    "modulus": "n",
    "publicExponent": "e",
    "privateExponent": "d",
    "prime1": "p",
    "prime2": "q",
    "exponent1": "dp",
    "exponent2": "dq",
    "coefficient": "qi",
}


def b64url(number: int) -> str:
    raw = number.to_bytes(max(1, (number.bit_length() + 7) // 8), "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def rsa_numbers(bits: int = 3072) -> dict[str, int]:
    # openssl from PATH, fixed arguments: the operator's own tool, no untrusted input.
    pem = subprocess.run(  # noqa: S603
        ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", f"rsa_keygen_bits:{bits}"],  # noqa: S607
        check=True,
        capture_output=True,
    ).stdout
    text = subprocess.run(
        ["openssl", "pkey", "-noout", "-text"],  # noqa: S607
        input=pem,
        check=True,
        capture_output=True,
    ).stdout.decode()
    numbers: dict[str, int] = {}
    current = None
    hex_digits = ""
    for line in text.splitlines():
        head = re.match(r"^(\w+):\s*(.*)$", line)
        if head:
            if current:
                numbers[current] = int(hex_digits, 16)
            current, hex_digits = None, ""
            name, rest = head.groups()
            if name == "publicExponent":
                numbers[name] = int(rest.split()[0])
            elif name in FIELDS:
                current = name
        elif current:
            hex_digits += line.strip().replace(":", "")
    if current:
        numbers[current] = int(hex_digits, 16)
    missing = set(FIELDS) - set(numbers)
    if missing:
        raise SystemExit(f"openssl did not print {sorted(missing)}")
    return numbers


def thumbprint(public: dict[str, str]) -> str:
    """RFC 7638 JWK thumbprint (SHA-256), used as the kid."""
    canonical = json.dumps(
        {k: public[k] for k in ("e", "kty", "n")}, separators=(",", ":"), sort_keys=True
    )
    return (
        base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
    )


def main() -> None:
    client_id = sys.argv[1] if len(sys.argv) > 1 else "samen-procurement"
    public_url = (sys.argv[2] if len(sys.argv) > 2 else "http://127.0.0.1:8000").rstrip("/")
    if client_id not in CLIENTS:
        raise SystemExit(f"unknown client {client_id}; known: {', '.join(CLIENTS)}")
    numbers = rsa_numbers()
    jwk = {"kty": "RSA", **{FIELDS[k]: b64url(v) for k, v in numbers.items()}}
    public = {"kty": "RSA", "n": jwk["n"], "e": jwk["e"]}
    kid = thumbprint(public)
    meta = {"kid": kid, "alg": "RS256", "use": "sig"}
    jwks = {"keys": [{**public, **meta}]}
    registration = json.loads(
        json.dumps({"clientId": client_id, **CLIENTS[client_id], "jwks": jwks}).replace(
            "{public}", public_url
        )
    )
    for document in ({**jwk, **meta}, jwks, registration):
        print(json.dumps(document, separators=(",", ":")))


if __name__ == "__main__":
    main()
