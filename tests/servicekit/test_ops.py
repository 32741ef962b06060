"""Health, metrics, OpenAPI (ADR shape), offline docs, BSN masking in logs, tracing."""

from __future__ import annotations

import json
import logging
import re
from urllib.parse import urljoin

import httpx
import pytest

from servicekit.app import create_service_app
from servicekit.db import Database
from servicekit.logs import (
    BsnMaskingFilter,
    ContextFilter,
    JsonFormatter,
    mask_bsns,
    request_id_var,
)
from servicekit.settings import ServiceSettings
from servicekit.testing import TestIssuer


async def test_live_and_ready(client: httpx.AsyncClient) -> None:
    live = await client.get("/health/live")
    assert live.status_code == 200
    ready = await client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"]["status"] == "pass"


async def test_ready_is_503_when_the_database_is_down(issuer: TestIssuer) -> None:
    down = Database("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere")
    app = create_service_app(
        service="demo",
        title="Demo",
        version="1.0.0",
        description="d",
        settings=ServiceSettings(environment="test"),
        database=down,
        token_verifier=issuer.verifier(),
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        ready = await c.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"]["status"] == "fail"
        assert (await c.get("/health/live")).status_code == 200
    await down.dispose()


async def test_metrics_count_requests_per_route_template(
    client: httpx.AsyncClient, reader: dict
) -> None:
    await client.get("/v1/widgets/41", headers=reader)
    await client.get("/v1/widgets/42", headers=reader)
    text = (await client.get("/metrics")).text
    assert (
        'http_server_requests_total{method="GET",route="/v1/widgets/{widget_id}",status="404"} 2.0'
        in text
    )


async def test_head_answers_as_get_without_a_body(client: httpx.AsyncClient, reader: dict) -> None:
    get = await client.get("/v1/widgets", headers=reader)
    head = await client.head("/v1/widgets", headers=reader)
    assert get.status_code == head.status_code == 200
    assert head.content == b""
    for name in ("content-type", "content-length", "api-version"):
        assert head.headers[name] == get.headers[name], name
    missing = await client.head("/v1/widgets/41", headers=reader)
    assert missing.status_code == 404
    assert missing.content == b""
    assert (await client.head("/v1/widgets")).status_code == 401  # still authenticated
    assert (await client.head("/v1/docs")).status_code == 200
    text = (await client.get("/metrics")).text
    assert 'http_server_requests_total{method="HEAD",route="/v1/widgets",status="200"} 1.0' in text


async def test_openapi_document_has_adr_shape(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["info"]["version"] == "1.2.3"
    assert set(doc["info"]["contact"]) == {"name", "email", "url"}
    assert all("/v1" in s["url"] for s in doc["servers"])
    assert "/widgets/{widget_id}" in doc["paths"]
    assert not any(p.startswith("/v1") for p in doc["paths"])
    for item in doc["paths"].values():
        for operation in item.values():
            assert operation["operationId"]
            assert operation["summary"]
            assert operation["tags"]
            assert "400" in operation["responses"]
            assert "422" not in operation["responses"]
            for code, resp in operation["responses"].items():
                if code[0] in "23":
                    assert "API-Version" in resp["headers"]
                else:
                    assert list(resp["content"]) == ["application/problem+json"]
    assert "oauth2" in doc["components"]["securitySchemes"]
    secured = doc["paths"]["/widgets"]["post"]
    assert secured["security"] == [{"oauth2": ["demo:write"]}]
    assert "401" in secured["responses"]
    assert "403" in secured["responses"]


def _addresses(html: str) -> list[str]:
    """What a docs page loads: scripts, styles, icon and the OpenAPI document."""
    return re.findall(r'(?:src|href|spec-url|data-openapi-url)="([^"]+)"', html)


async def test_docs_pages_use_local_assets_only(client: httpx.AsyncClient) -> None:
    for page in ("/v1/docs", "/v1/redoc"):
        response = await client.get(page)
        html = response.text
        # Its own policy, so a proxy's stricter default for API answers does not apply.
        policy = response.headers["content-security-policy"]
        assert "default-src 'none'" in policy
        assert "script-src 'self'" in policy
        assert "cdn" not in html.lower()
        assert "http://" not in html
        assert "https://" not in html
        assert "<script>" not in html  # no inline scripts: works under a strict CSP
        addresses = _addresses(html)
        assert any(a.endswith("openapi.json") for a in addresses), html
        for address in addresses:
            # Relative to the page: the same page works behind the gateway's prefix.
            assert urljoin(f"http://gateway/api/demo{page}", address).startswith(
                "http://gateway/api/demo/v1/"
            ), address
            response = await client.get(urljoin(f"http://demo{page}", address))
            assert response.status_code == 200, (page, address)
    for asset in (
        "swagger-ui-bundle.js",
        "swagger-ui.css",
        "redoc.standalone.js",
        "swagger-init.js",
    ):
        response = await client.get(f"/v1/docs-assets/{asset}")
        assert response.status_code == 200, asset


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("citizen 999993653 logged in", "citizen [BSN] logged in"),
        ("bsn=9999.93.653;", "bsn=[BSN];"),
        ("order 123456789 shipped", "order 123456789 shipped"),  # fails the 11-check
        ("oin 00000001001234567000", "oin 00000001001234567000"),  # part of a longer number
    ],
)
def test_mask_bsns(text: str, expected: str) -> None:
    assert mask_bsns(text) == expected


def test_log_records_never_carry_a_bsn(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.bsn")
    logger.addFilter(BsnMaskingFilter())
    with caplog.at_level(logging.INFO, logger="test.bsn"):
        logger.info("login for %s", "999993653", extra={"subject": "bsn 999993653"})
        try:
            raise ValueError("bad bsn 999993653")
        except ValueError:
            logger.exception("failed")
    text = caplog.text + json.dumps([r.__dict__.get("subject") for r in caplog.records])
    text += "".join(r.exc_text or "" for r in caplog.records)
    assert "999993653" not in text
    assert "[BSN]" in text


def test_json_log_lines_carry_request_id_and_are_masked() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "user %s", ("999993653",), None)
    token = request_id_var.set("req-1")
    try:
        ContextFilter().filter(record)
        BsnMaskingFilter().filter(record)
    finally:
        request_id_var.reset(token)
    line = json.loads(JsonFormatter("demo").format(record))
    assert line["message"] == "user [BSN]"
    assert line["request_id"] == "req-1"
    assert line["service"] == "demo"


async def test_requests_continue_the_callers_trace(
    client: httpx.AsyncClient, reader: dict, spans
) -> None:  # type: ignore[no-untyped-def]
    spans.clear()
    response = await client.get(
        "/v1/widgets",
        headers={
            **reader,
            "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        },
    )
    assert response.status_code == 200
    finished = spans.get_finished_spans()
    assert finished
    assert {s.context.trace_id for s in finished} == {0x0AF7651916CD43DD8448EB211C80319C}
    assert any(s.attributes and s.attributes.get("http.route") == "/v1/widgets" for s in finished)


def test_adr_document_normalises_optional_dates_and_generic_names() -> None:
    from servicekit.openapi import _collapse_nullable, _pascal_case_schema_names

    doc = {
        "components": {
            "schemas": {
                "Page_TenderOut_": {
                    "properties": {"items": {"$ref": "#/components/schemas/TenderOut"}}
                },
                "TenderOut": {
                    "properties": {
                        "startDate": {
                            "anyOf": [{"type": "string", "format": "date"}, {"type": "null"}]
                        },
                        "lead": {"anyOf": [{"$ref": "#/components/schemas/X"}, {"type": "null"}]},
                    }
                },
            }
        },
        "paths": {
            "/t": {"get": {"responses": {"200": {"$ref": "#/components/schemas/Page_TenderOut_"}}}}
        },
    }
    _collapse_nullable(doc)
    _pascal_case_schema_names(doc)
    schemas = doc["components"]["schemas"]
    assert schemas["TenderOut"]["properties"]["startDate"] == {
        "type": ["string", "null"],
        "format": "date",
    }
    assert "anyOf" in schemas["TenderOut"]["properties"]["lead"]
    assert "PageTenderOut" in schemas
    assert (
        doc["paths"]["/t"]["get"]["responses"]["200"]["$ref"]
        == "#/components/schemas/PageTenderOut"
    )


async def test_schema_check_needs_the_newest_migration(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    from servicekit.migrations import SchemaNotCurrent, migration_head, schema_check

    versions = tmp_path / "migrations" / "versions"
    versions.mkdir(parents=True)
    for revision, down in (("0001", None), ("0002", "0001")):
        (versions / f"{revision}_x.py").write_text(
            f"revision = {revision!r}\ndown_revision = {down!r}\n"
            "branch_labels = None\ndepends_on = None\n"
            "def upgrade():\n    return None\ndef downgrade():\n    return None\n"
        )
    assert migration_head(str(tmp_path / "migrations")) == "0002"
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'schema.db'}")
    check = schema_check(database, str(tmp_path / "migrations"))
    with pytest.raises(SchemaNotCurrent):
        await check()  # never migrated
    async with database.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32))"))
    with pytest.raises(SchemaNotCurrent, match="no revision"):
        await check()  # the table, but no migration recorded
    async with database.engine.begin() as conn:
        await conn.execute(text("INSERT INTO alembic_version VALUES ('0001')"))
    with pytest.raises(SchemaNotCurrent, match="code expects 0002"):
        await check()  # behind: this code's own older revision
    async with database.engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = '0002'"))
    await check()
    await database.dispose()


async def test_schema_check_serves_on_a_later_release_schema(tmp_path, caplog) -> None:  # type: ignore[no-untyped-def]
    """The previous release keeps serving once the next one's migration has run (a
    rolling upgrade, a rollback): a revision it does not know is newer, not broken."""
    from sqlalchemy import text

    from servicekit.migrations import schema_check

    versions = tmp_path / "migrations" / "versions"
    versions.mkdir(parents=True)
    for revision, down in (("0001", None), ("0002", "0001")):
        (versions / f"{revision}_x.py").write_text(
            f"revision = {revision!r}\ndown_revision = {down!r}\n"
        )
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'schema.db'}")
    async with database.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32))"))
        await conn.execute(text("INSERT INTO alembic_version VALUES ('0003')"))
    check = schema_check(database, str(tmp_path / "migrations"))
    with caplog.at_level(logging.WARNING, logger="servicekit.migrations"):
        await check()
        await check()
    warnings = [r for r in caplog.records if r.name == "servicekit.migrations"]
    assert len(warnings) == 1  # once, not on every probe
    assert "0003" in warnings[0].getMessage()
    assert "0002" in warnings[0].getMessage()
    await database.dispose()


def test_configure_logging_keeps_uvicorn_access_lines_off() -> None:
    from servicekit.logs import configure_logging

    logging.getLogger("uvicorn.access").propagate = True
    configure_logging("demo", "INFO", json_logs=True)
    access = logging.getLogger("uvicorn.access")
    assert access.propagate is False
    assert access.handlers == []
    assert logging.getLogger("uvicorn.error").propagate is True
