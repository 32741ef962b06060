"""Malformed input never produces a 500: protocol errors or problem+json instead."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from idkit import ASSERTION_TYPE

FORM = {"content-type": "application/x-www-form-urlencoded"}
CASES: list[tuple[str, str, dict[str, str], bytes | None]] = [
    (
        "POST",
        "/auth/token",
        FORM,
        b"grant_type=client_credentials&client_assertion_type="
        + ASSERTION_TYPE.encode()
        + b"&client_assertion=a.b.c",
    ),
    (
        "POST",
        "/auth/token",
        FORM,
        b"grant_type=client_credentials&client_assertion_type="
        + ASSERTION_TYPE.encode()
        + b"&client_assertion=%FF%FE",
    ),
    (
        "POST",
        "/auth/token",
        FORM,
        b"grant_type=client_credentials&client_assertion_type="
        + ASSERTION_TYPE.encode()
        + b"&client_assertion=eyJhbGciOiJub25lIn0.eyJpc3MiOjF9.",
    ),
    (
        "POST",
        "/auth/token",
        {**FORM, "authorization": "Basic !!!"},
        b"grant_type=client_credentials",
    ),
    (
        "POST",
        "/auth/token",
        {**FORM, "authorization": "Basic " + "A" * 5000},
        b"grant_type=client_credentials",
    ),
    ("POST", "/auth/token", FORM, b"grant_type=authorization_code&client_id=" + b"x" * 500),
    ("POST", "/auth/token", FORM, b"\xff\xfe\x00"),
    ("POST", "/auth/token", {"content-type": "text/plain"}, b"grant_type=client_credentials"),
    ("POST", "/auth/token", {"content-type": "multipart/form-data; boundary=x"}, b"--x--"),
    ("GET", "/auth/authorize?client_id=%00%FF&redirect_uri=%FF", {}, None),
    ("GET", "/auth/authorize?" + "client_id=a&" * 3, {}, None),
    ("GET", "/auth/login?request=" + "x" * 5000, {}, None),
    ("GET", "/auth/login/callback?state=" + "x" * 5000 + "&code=1", {}, None),
    ("GET", "/auth/login/callback?state=a&state=b", {}, None),
    ("POST", "/auth/login", FORM, b"request=x&csrf=y&means=digid"),
    ("GET", "/auth/end-session?id_token_hint=a.b.c", {}, None),
    ("GET", "/auth/end-session?id_token_hint=%FF", {}, None),
    ("POST", "/auth/introspect", FORM, b"token=x"),
    ("POST", "/auth/revoke", {**FORM, "authorization": "Basic Og=="}, b"token=x"),
    ("GET", "/auth/userinfo", {"authorization": "Bearer a.b.c"}, None),
    ("GET", "/auth/userinfo", {"authorization": "Bearer " + "x" * 10000}, None),
    (
        "POST",
        "/auth/simulators/digid/token",
        {**FORM, "authorization": "Basic %%%"},
        b"grant_type=authorization_code",
    ),
    ("POST", "/auth/simulators/digid/authorize", FORM, b"state=x"),
    ("GET", "/auth/simulators/digid/authorize?client_id=samen-broker", {}, None),
    ("GET", "/v1/clients/not-a-uuid", {"authorization": "Bearer x"}, None),
    ("GET", "/v1/me/disclosures", {"authorization": "Bearer a.b.c"}, None),
]


@pytest.mark.parametrize(("method", "path", "headers", "body"), CASES)
async def test_never_500(
    http: httpx.AsyncClient, method: str, path: str, headers: dict[str, str], body: bytes | None
) -> None:
    response = await http.request(method, path, headers=headers, content=body)
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])


async def test_simulator_code_tampering(http: httpx.AsyncClient, app: Any) -> None:
    idp = app.state.simulators
    import base64

    basic = "Basic " + base64.b64encode(f"samen-broker:{idp.broker_secret()}".encode()).decode()
    for code in ("", "garbage", "gAAAAA" + "x" * 100):
        r = await http.post(
            "/auth/simulators/digid/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": idp.broker_redirect_uri(),
                "code_verifier": "v" * 43,
            },
            headers={"authorization": basic},
        )
        assert r.status_code == 400
        assert r.json()["error"] == "invalid_grant"
