"""Every error is RFC 9457 problem+json with the right status; never a 500 for bad input."""

from __future__ import annotations

import httpx
import pytest

from servicekit import errors

PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith("https://")
    assert body["title"]
    assert body["detail"]
    assert response.headers["api-version"] == "1.2.3"
    assert response.headers["x-request-id"]
    return body


async def test_unknown_path_is_404_problem(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/v1/nothing-here"), 404)
    assert body["instance"] == "/v1/nothing-here"
    # The path is the instance (the gateway's, as the client sent it), not in the detail
    # as the service sees it.
    assert "/v1" not in body["detail"]


async def test_wrong_method_is_405_problem(client: httpx.AsyncClient, writer: dict) -> None:
    response = await client.delete("/v1/widgets", headers=writer)
    assert "/v1" not in assert_problem(response, 405)["detail"]
    # Every method of the path, not only the first route's (RFC 9110 §15.5.6).
    assert response.headers["allow"] == "GET, HEAD, POST"


async def test_malformed_json_is_400_with_invalid_params(
    client: httpx.AsyncClient, writer: dict
) -> None:
    response = await client.post(
        "/v1/widgets", content=b'{"name": ', headers={**writer, "content-type": "application/json"}
    )
    body = assert_problem(response, 400)
    assert body["invalidParams"][0]["reason"] == "Body is not valid JSON"


async def test_validation_error_names_the_field(client: httpx.AsyncClient, writer: dict) -> None:
    response = await client.post("/v1/widgets", json={"displayName": 3}, headers=writer)
    body = assert_problem(response, 400)
    names = {p["name"] for p in body["invalidParams"]}
    assert names == {"name", "displayName"}


async def test_unknown_field_is_refused(client: httpx.AsyncClient, writer: dict) -> None:
    response = await client.post("/v1/widgets", json={"name": "a", "colour": "red"}, headers=writer)
    body = assert_problem(response, 400)
    assert body["invalidParams"] == [{"name": "colour", "reason": "Extra inputs are not permitted"}]


async def test_bad_query_parameter_is_400(client: httpx.AsyncClient, reader: dict) -> None:
    body = assert_problem(await client.get("/v1/widgets?pageSize=0", headers=reader), 400)
    assert body["invalidParams"][0]["name"] == "pageSize"


async def test_oversized_body_by_content_length_is_413(
    client: httpx.AsyncClient, writer: dict
) -> None:
    response = await client.post("/v1/widgets", json={"name": "x" * 5000}, headers=writer)
    assert_problem(response, 413)


async def test_oversized_streamed_body_is_413(client: httpx.AsyncClient, writer: dict) -> None:
    async def chunks():
        yield b'{"name": "'
        for _ in range(10):
            yield b"x" * 500
        yield b'"}'

    response = await client.post(
        "/v1/widgets", content=chunks(), headers={**writer, "content-type": "application/json"}
    )
    assert_problem(response, 413)


async def test_wrong_content_type_is_415(client: httpx.AsyncClient, writer: dict) -> None:
    response = await client.post(
        "/v1/widgets", content=b"name=a", headers={**writer, "content-type": "text/plain"}
    )
    assert_problem(response, 415)


async def test_unmet_accept_is_406(client: httpx.AsyncClient, reader: dict) -> None:
    response = await client.get("/v1/widgets", headers={**reader, "accept": "application/xml"})
    assert_problem(response, 406)
    # Checked before anything else of the request: no token, no valid body, still 406.
    anonymous = await client.post(
        "/v1/widgets",
        content=b"{}",
        headers={"accept": "text/html", "content-type": "application/json"},
    )
    assert_problem(anonymous, 406)
    assert "application/json" in anonymous.json()["detail"]
    for accept in ("application/json", "application/*", "*/*", "application/problem+json"):
        ok = await client.get("/v1/widgets", headers={**reader, "accept": accept})
        assert ok.status_code == 200, accept


async def test_accept_wildcards_and_problem_json_are_fine(
    client: httpx.AsyncClient, reader: dict
) -> None:
    for accept in ("*/*", "application/*", "application/json;q=0.9", "application/problem+json"):
        response = await client.get("/v1/widgets", headers={**reader, "accept": accept})
        assert response.status_code == 200, accept


async def test_unexpected_error_is_generic_500(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    response = await client.get("/v1/crash")
    body = assert_problem(response, 500)
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text
    assert body["detail"] == "The server could not complete the request."


async def test_retry_after_on_429(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/throttled")
    assert_problem(response, 429)
    assert response.headers["retry-after"] == "7"


async def test_request_id_is_echoed_or_generated(client: httpx.AsyncClient) -> None:
    echoed = await client.get("/health/live", headers={"x-request-id": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    generated = await client.get("/health/live", headers={"x-request-id": "bad id\twith spaces"})
    assert generated.headers["x-request-id"] != "bad id\twith spaces"
    assert len(generated.headers["x-request-id"]) == 32


@pytest.mark.parametrize(
    ("cls", "status"),
    [
        (errors.BadRequest, 400),
        (errors.Unauthorized, 401),
        (errors.Forbidden, 403),
        (errors.NotFound, 404),
        (errors.MethodNotAllowed, 405),
        (errors.NotAcceptable, 406),
        (errors.Conflict, 409),
        (errors.PreconditionFailed, 412),
        (errors.PayloadTooLarge, 413),
        (errors.UnsupportedMediaType, 415),
        (errors.UnprocessableContent, 422),
        (errors.PreconditionRequired, 428),
        (errors.TooManyRequests, 429),
        (errors.InternalError, 500),
        (errors.NotImplementedYet, 501),
        (errors.BadGateway, 502),
        (errors.ServiceUnavailable, 503),
        (errors.GatewayTimeout, 504),
    ],
)
def test_each_problem_type_renders_its_status(cls: type[errors.ProblemError], status: int) -> None:
    error = cls("something specific")
    response = errors.problem_response(error, "/v1/x")
    assert response.status_code == status
    assert response.media_type == PROBLEM
    body = error.to_dict("/v1/x")
    assert body["status"] == status
    assert body["detail"] == "something specific"
    assert body["instance"] == "/v1/x"
    assert errors.problem_for_status(status).status == status


def test_unauthorized_carries_www_authenticate() -> None:
    error = errors.Unauthorized("The token has expired.")
    assert error.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')


async def test_nul_characters_are_bad_input(client: httpx.AsyncClient, writer: dict) -> None:
    body = assert_problem(await client.get("/v1/widgets?q=a%00b", headers=writer), 400)
    assert "NUL" in body["detail"]
    response = await client.post("/v1/widgets", json={"name": "a\x00b"}, headers=writer)
    body = assert_problem(response, 400)
    assert "NUL characters are not allowed (in name)" in body["invalidParams"][0]["reason"]


async def test_event_cursor_beyond_64_bits_is_400(client: httpx.AsyncClient, reader: dict) -> None:
    response = await client.get(f"/v1/events?after={2**63}", headers=reader)
    body = assert_problem(response, 400)
    assert body["invalidParams"][0]["name"] == "after"


async def test_an_unknown_query_parameter_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, reader: dict, writer: dict
) -> None:
    """As an unknown body member is (make fuzz: ``?x-schemathesis-unknown-property=42``
    was answered 200 by every list): a misspelt filter must not answer the unfiltered
    list. Parameters of the operation's dependencies (page, pageSize) are its own."""
    before = (await client.get("/v1/widgets", headers=reader)).json()["total"]
    r = await client.get("/v1/widgets", params={"q": "a", "page": 1, "pageSize": 5}, headers=reader)
    assert r.status_code == 200, r.text
    body = assert_problem(await client.get("/v1/widgets?Q=a&pagesize=5", headers=reader), 400)
    assert body["invalidParams"] == [
        {"name": "Q", "reason": "not a parameter of this operation"},
        {"name": "pagesize", "reason": "not a parameter of this operation"},
    ]
    r = await client.post("/v1/widgets?dryRun=true", json={"name": "kept out"}, headers=writer)
    assert [p["name"] for p in assert_problem(r, 400)["invalidParams"]] == ["dryRun"]
    assert_problem(await client.get("/v1/events?limit=5&afterr=3", headers=reader), 400)
    r = await client.get("/v1/widgets", params={"q": "kept out"}, headers=reader)
    assert r.json()["total"] == 0
    r = await client.get("/v1/widgets", headers=reader)
    assert r.json()["total"] == before
    # What the client can accept is checked first (406).
    r = await client.get("/v1/widgets?x=1", headers={**reader, "Accept": "text/html"})
    assert_problem(r, 406)
