"""BSNs as people type them (grouped, with spaces, dots, hyphens, pluses, percent-encoded)
stay out of traces and log lines; numbers that are not BSNs stay as they are.
123456782 and 999993653 pass the 11-check; 999123456 and 123456789 do not."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from servicekit.logs import configure_logging, mask_bsns, request_id_var
from servicekit.masking import mask_query, mask_url, masked_value
from servicekit.middleware import Message, Receive, Scope, Send
from servicekit.telemetry import ServerSpanMiddleware, instrument_httpx_client


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("123 456 782", "[BSN]"),
        ("1234 56 782", "[BSN]"),
        ("1234+56+782", "[BSN]"),
        ("12-34-56-782", "[BSN]"),
        ("123.456.782", "[BSN]"),
        ("1234%2056%20782", "[BSN]"),
        ("123%2e456%2D782", "[BSN]"),
        ("x.123456782", "x.[BSN]"),
        ("name%20123456782", "name%20[BSN]"),
        ("bsn:123456782, bsn 999993653.", "bsn:[BSN], bsn [BSN]."),
        # A failing candidate does not hide a valid one that starts inside it.
        ("999 123 456 782", "999 [BSN]"),
        # Not BSNs: the 11-check fails, or the digits belong to a longer run.
        ("123 456 789", "123 456 789"),
        ("1234567820", "1234567820"),
        ("01234567820", "01234567820"),
        ("oin 00000001001234567000", "oin 00000001001234567000"),
        ("123  456  782", "123  456  782"),  # one separator between digits, not a gap
        ("ab1234-56-782", "ab1234-56-782"),  # glued to a word: not typed as a number
        # A UUID's groups (whose digits 1-4646-4424 would pass the check) are no BSN.
        ("5c2b75b1-4646-4424-9442-e40a6239af4f", "5c2b75b1-4646-4424-9442-e40a6239af4f"),
    ],
)
def test_mask_bsns_finds_grouped_and_separated_numbers(text: str, expected: str) -> None:
    assert mask_bsns(text) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=1234+56+782", "q=[BSN]"),
        ("q=1234%2056%20782&page=2", "q=[BSN]&page=2"),
        ("q=123%20456%20782", "q=[BSN]"),
        ("q=%31%32%33%34%35%36%37%38%32", "q=[BSN]"),
        ("q=mr+123456782+jansen", "q=mr+[BSN]+jansen"),
        ("q=a%26b+123456782", "q=a%26b+[BSN]"),  # the parameters stay apart
        ("q=123+456+789&name=a%20b", "q=123+456+789&name=a%20b"),  # nothing to mask
    ],
)
def test_a_query_is_masked_by_what_it_means(query: str, expected: str) -> None:
    assert mask_query(query) == expected


def test_a_url_keeps_its_path_and_masks_its_query() -> None:
    assert mask_url("http://r.test/v1/p/1234%2056%20782?q=1234+56+782#x") == (
        "http://r.test/v1/p/[BSN]?q=[BSN]#x"
    )
    assert mask_url("http://r.test/v1/p/%31%32%33456782/a%20b") == "http://r.test/v1/p/[BSN]/a%20b"
    assert mask_url("http://r.test/v1/p/a%2Fb?q=x") == "http://r.test/v1/p/a%2Fb?q=x"


async def _ok(scope: Scope, receive: Receive, send: Send) -> None:
    start: Message = {"type": "http.response.start", "status": 200, "headers": []}
    await send(start)
    await send({"type": "http.response.body", "body": b"ok"})


async def test_server_and_client_spans_mask_encoded_queries() -> None:
    exported = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exported))
    queries = ["q=1234+56+782", "q=1234%2056%20782", "q=123%20456%20782", "q=x.123456782"]
    transport = httpx.ASGITransport(app=ServerSpanMiddleware(_ok, provider))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        for query in queries:
            assert (await client.get(f"/v1/search/1234+56+782?{query}")).status_code == 200
    servers = exported.get_finished_spans()
    assert [s.attributes["url.query"] for s in servers if s.attributes] == [
        "q=[BSN]",
        "q=[BSN]",
        "q=[BSN]",
        "q=x.[BSN]",
    ]
    assert {s.attributes["url.path"] for s in servers if s.attributes} == {"/v1/search/[BSN]"}

    exported.clear()
    mock = httpx.MockTransport(lambda request: httpx.Response(200, json={}))
    async with httpx.AsyncClient(transport=mock, base_url="http://registry.test") as http:
        instrument_httpx_client(http, provider)
        await http.get("/v1/search", params={"q": "123 456 782"})
    (called,) = exported.get_finished_spans()
    assert called.attributes is not None
    urls = {called.attributes.get(k) for k in ("url.full", "http.url")} - {None}
    assert urls == {"http://registry.test/v1/search?q=[BSN]"}


def test_masked_values_keep_their_shape() -> None:
    assert masked_value(123456782) == "[BSN]"
    assert masked_value(123456789) == 123456789
    assert masked_value(123456782.0) == "[BSN]"
    assert masked_value(True) is True
    assert masked_value({"bsn": ["123456782", (999993653, None)], 123456782: 1}) == {
        "bsn": ["[BSN]", ["[BSN]", None]],
        "[BSN]": 1,
    }
    assert masked_value(ValueError("no such person 123456782")) == "no such person [BSN]"


def test_json_log_lines_mask_every_value(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("t", "INFO", True)
    logger = logging.getLogger("test.bsn.lines")
    token = request_id_var.set("123456782")  # a caller chose this X-Request-ID
    try:
        logger.info(
            "lookup %s",
            999993653,
            extra={
                "bsn": 123456782,
                "citizen": {"bsn": "123456782", "partners": ["999993653"]},
                "numbers": (123456782, 7),
                "error": LookupError("no person 1234 56 782"),
                "count": 3,
            },
        )
        try:
            raise ValueError("bad bsn 123.456.782")
        except ValueError:
            logger.exception("failed for %s", "999993653", stack_info=True)
    finally:
        request_id_var.reset(token)
        logging.getLogger().handlers = [
            h for h in logging.getLogger().handlers if type(h).__name__ != "ServiceLogHandler"
        ]
    err = capsys.readouterr().err
    for digits in ("123456782", "999993653", "1234 56 782", "123.456.782"):
        assert digits not in err, err
    first, second = (json.loads(line) for line in err.strip().splitlines())
    assert first["message"] == "lookup [BSN]"
    assert first["bsn"] == "[BSN]"
    assert first["citizen"] == {"bsn": "[BSN]", "partners": ["[BSN]"]}
    assert first["numbers"] == ["[BSN]", 7]
    assert first["error"] == "no person [BSN]"
    assert first["count"] == 3
    assert first["request_id"] == "[BSN]"
    assert second["message"] == "failed for [BSN]"
    assert "ValueError: bad bsn [BSN]" in second["exception"]
    assert "Traceback" in second["exception"]
    assert "stack" in second


def test_text_log_lines_mask_the_request_id(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("t", "INFO", False)
    token = request_id_var.set("req-123456782")
    try:
        logging.getLogger("test.bsn.text").warning("hello")
    finally:
        request_id_var.reset(token)
        logging.getLogger().handlers = [
            h for h in logging.getLogger().handlers if type(h).__name__ != "ServiceLogHandler"
        ]
    err = capsys.readouterr().err
    assert "123456782" not in err
    assert "[req-[BSN]]" in err
