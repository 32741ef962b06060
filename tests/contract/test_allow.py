"""Every 405 of every service names, in ``Allow``, every method its path supports
(RFC 9110 §15.5.6): the methods of the service's own OpenAPI document for that path, and
HEAD wherever GET is, which every such path answers."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from contractkit import HEADERS, identity_app, procurement_app, registry_app

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
APPS = {"registry": registry_app, "procurement": procurement_app, "identity": identity_app}


@pytest.mark.parametrize("service", sorted(APPS))
async def test_every_405_lists_every_method_of_the_path(
    service: str, contract_databases: dict[str, str]
) -> None:
    app = APPS[service]()
    document: dict[str, Any] = app.openapi()
    checked = 0
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app), base_url="http://localhost"
    ) as client:
        for template, item in document["paths"].items():
            documented = {m.upper() for m in item if m.upper() in METHODS}
            if "GET" in documented:
                documented.add("HEAD")
            path = "/v1" + re.sub(r"\{[^}]+\}", "00000000-0000-4000-8000-000000000001", template)
            if "HEAD" in documented:
                head = await client.head(path, headers=HEADERS[service])
                assert head.status_code != 405, (path, head.status_code)
                assert head.content == b"", path
            for method in sorted(set(METHODS) - documented):
                r = await client.request(method, path, headers=HEADERS[service])
                assert r.status_code == 405, (method, path, r.status_code, r.text)
                assert r.headers["content-type"] == "application/problem+json"
                allow = {m.strip() for m in r.headers["allow"].split(",")}
                assert allow == documented, (method, path, allow)
                checked += 1
    assert checked >= len(document["paths"])
