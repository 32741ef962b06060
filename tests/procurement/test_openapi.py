"""The OpenAPI document: every operation named, tagged, scoped and documented."""

from __future__ import annotations

from typing import Any

import httpx

SCOPES = {"procurement:read", "procurement:enroll", "procurement:manage"}


async def test_every_operation_declares_id_summary_tags_and_scopes(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/v1/openapi.json")
    assert response.status_code == 200
    doc: dict[str, Any] = response.json()
    operations = [
        (path, method, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]
    assert len(operations) >= 20
    ids = set()
    for path, method, op in operations:
        where = f"{method.upper()} {path}"
        assert op.get("operationId"), where
        assert op.get("summary"), where
        assert op.get("tags"), where
        ids.add(op["operationId"])
        scopes = {s for req in op.get("security", []) for s in req.get("oauth2", [])}
        assert scopes, where
        assert scopes <= SCOPES, where
        assert {"400", "401"} <= set(op["responses"]), where
    assert len(ids) == len(operations)
    enroll = doc["paths"]["/tenders/{tenderId}/enrollments"]["post"]
    assert {"201", "409", "503"} <= set(enroll["responses"])
    csv = doc["paths"]["/tenders/{tenderId}/demand.csv"]["get"]["responses"]["200"]
    assert "text/csv" in csv["content"]
