"""Hostile input never gives a 500, a stack trace or a partial write: oversized and
deeply nested JSON, path traversal in ids, header injection, SQL and full-text-search
injection in ``q``."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from seckit import FACILITY_ID, LEAD_ID, OPERATOR_OIN, assert_problem

from servicekit.testing import TestIssuer

WRITES = {
    "registry": "/v1/organisations",
    "procurement": "/v1/tenders",
    "identity": "/v1/clients",
}
READS = {
    "registry": "/v1/organisations/{id}",
    "procurement": "/v1/tenders/{id}",
    "identity": "/v1/clients/{id}",
}


def operator(issuer: TestIssuer) -> dict[str, str]:
    return issuer.headers(
        scopes=["registry:read", "registry:write", "procurement:read", "procurement:manage",
                "identity:admin"],
        org_id=OPERATOR_OIN, org_type="operator", roles=["platform-admin"],
    )  # fmt: skip


@pytest.mark.parametrize("service", sorted(WRITES))
async def test_oversized_body_is_413(
    clients: dict[str, httpx.AsyncClient], issuer: TestIssuer, service: str
) -> None:
    big = b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    r = await clients[service].post(
        WRITES[service],
        content=big,
        headers={**operator(issuer), "Content-Type": "application/json"},
    )
    assert_problem(r, 413)


@pytest.mark.parametrize("service", sorted(WRITES))
@pytest.mark.parametrize("depth", [64, 5_000, 100_000])
async def test_deeply_nested_json_is_refused_cleanly(
    clients: dict[str, httpx.AsyncClient], issuer: TestIssuer, service: str, depth: int
) -> None:
    for opening, closing in (("[", "]"), ('{"a":', "}")):
        body = (opening * depth + "1" + closing * depth).encode()
        if len(body) > 1_000_000:
            body = body[:1_000_000]  # stays under the body limit: the parser must cope
        r = await clients[service].post(
            WRITES[service],
            content=body,
            headers={**operator(issuer), "Content-Type": "application/json"},
        )
        assert r.status_code in (400, 413), (service, depth, r.status_code, r.text[:200])
        assert_problem(r, r.status_code)


@pytest.mark.parametrize("service", sorted(READS))
async def test_path_traversal_and_odd_ids(
    clients: dict[str, httpx.AsyncClient], issuer: TestIssuer, service: str
) -> None:
    for bad in (
        "..%2F..%2F..%2Fetc%2Fpasswd",
        "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "..%5C..%5Cwindows%5Cwin.ini",
        "%00",
        "00000000-0000-0000-0000-000000000000%00.json",
        "1%27%20OR%20%271%27%3D%271",
        "%E2%80%AE",
        "x" * 2000,
    ):
        r = await clients[service].get(READS[service].format(id=bad), headers=operator(issuer))
        assert r.status_code in (400, 404), (service, bad, r.status_code, r.text[:200])
        assert "root:" not in r.text
        assert_problem(r, r.status_code)
    # Literal ../ segments never reach another route's handler either.
    r = await clients[service].get(
        READS[service].format(id="../../health/live"), headers=operator(issuer)
    )
    assert r.status_code in (200, 400, 404)


async def _raw_asgi(app: Any, headers: list[tuple[bytes, bytes]]) -> tuple[int, list[Any]]:
    """One request straight through ASGI (httpx refuses to send CR/LF in headers)."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": "/health/live", "raw_path": b"/health/live",
        "query_string": b"", "root_path": "", "headers": headers,
        "client": ("127.0.0.1", 1234), "server": ("test", 80),
    }  # fmt: skip
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    return int(start["status"]), list(start["headers"])


@pytest.mark.parametrize("service", ["registry", "procurement", "identity"])
async def test_header_injection_via_request_id(apps: dict[str, Any], service: str) -> None:
    for value in (
        b"abc\r\nSet-Cookie: pwned=1",
        b"abc\nX-Injected: 1",
        b"abc\r\n\r\n<html>",
        b"x" * 10_000,
    ):
        status, headers = await _raw_asgi(
            apps[service], [(b"host", b"test"), (b"x-request-id", value)]
        )
        assert status == 200
        names = {name.lower() for name, _ in headers}
        assert b"set-cookie" not in names
        assert b"x-injected" not in names
        for name, header_value in headers:
            assert b"\r" not in header_value, name
            assert b"\n" not in header_value, name
            if name.lower() == b"x-request-id":
                assert len(header_value) <= 200


INJECTIONS = [
    "' OR '1'='1",
    "'; DROP TABLE organisations; --",
    '" OR ""="',
    "1) OR (1=1",
    "%",
    "_",
    "\\",
    "*",
    "a*",
    "NEAR(a b)",
    "a AND",
    "OR",
    '"unterminated',
    "(((",
    "^a",
    "col:value",
    "a -b",
    "a & b | !c",
    "<->",
    ":*",
    "a:*",
    "é" * 50,
    "🙂",
]


@pytest.mark.parametrize(
    "path",
    ["/v1/organisations", "/v1/facilities", "/v1/offerings", "/v1/search"],
)
async def test_sql_and_fts_injection_in_q(
    clients: dict[str, httpx.AsyncClient], issuer: TestIssuer, path: str
) -> None:
    http = clients["registry"]
    headers = operator(issuer)
    total = (await http.get(path, headers=headers, params={"q": "zzzqqqnomatch"})).status_code
    assert total == 200
    for q in INJECTIONS:
        r = await http.get(path, headers=headers, params={"q": q})
        assert r.status_code in (200, 400), (path, q, r.status_code, r.text[:300])
        if r.status_code == 400:
            assert_problem(r, 400)
            continue
        body = r.json()
        # An always-true injection does not turn the filter into "everything".
        if "OR" in q and "=" in q:
            assert body.get("total", len(body.get("items", []))) == 0, (path, q, body)
    # The tables are still there.
    r = await http.get("/v1/organisations", headers=headers)
    assert r.status_code == 200


async def test_nul_characters_in_text_are_refused_or_stored_never_500(
    clients: dict[str, httpx.AsyncClient], issuer: TestIssuer
) -> None:
    headers = operator(issuer)
    failures = []
    for service, path, param in (
        ("registry", "/v1/organisations", "q"),
        ("registry", "/v1/facilities", "q"),
        ("registry", "/v1/facilities", "slug"),
        ("registry", "/v1/facilities", "theme"),
        ("registry", "/v1/offerings", "q"),
        ("registry", "/v1/search", "q"),
    ):
        r = await clients[service].get(path, params={param: "a\x00b"}, headers=headers)
        if r.status_code >= 500:
            failures.append(f"GET {service} {path}?{param}=a%00b -> {r.status_code}")
    for service, path, body in (
        ("registry", "/v1/organisations",
         {"type": "supplier", "name": "a\x00b", "kvkNumber": "12341234"}),
        ("identity", "/v1/clients",
         {"clientId": "nul-test", "name": "a\x00b", "grantType": "client_credentials",
          "tokenEndpointAuthMethod": "client_secret_basic"}),
        ("procurement", "/v1/tenders",
         {"facilityId": FACILITY_ID, "leadPartyId": LEAD_ID, "title": "a\x00b",
          "procedure": "open", "estimatedValue": {"amount": 1}, "contractDurationMonths": 1,
          "enrollmentOpensAt": "2030-01-01T00:00:00Z", "enrollmentClosesAt": "2030-02-01T00:00:00Z",
          "plannedStartDate": "2031-01-01"}),
    ):  # fmt: skip
        r = await clients[service].post(path, json=body, headers=headers)
        if r.status_code >= 500:
            failures.append(f"POST {service} {path} with a NUL in a text field -> {r.status_code}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("service", ["registry", "procurement"])
async def test_event_feed_cursor_beyond_64_bits_is_400(
    clients: dict[str, httpx.AsyncClient], issuer: TestIssuer, service: str
) -> None:
    r = await clients[service].get(
        "/v1/events", params={"after": str(2**63)}, headers=operator(issuer)
    )
    assert_problem(r, 400)
