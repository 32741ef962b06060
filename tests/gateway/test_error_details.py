"""What the gateway's own problems say: the path is in ``instance`` (BSNs masked), never
repeated in ``detail``, for every answer the gateway writes itself about a path."""

from __future__ import annotations

import httpx
import pytest
from gateway_testkit import RunningGateway

from servicekit.testing import TestIssuer

BSN = "123456782"  # passes the 11-check


def _problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert BSN not in response.text, body
    assert "[BSN]" in body["instance"]
    assert "/" not in body["detail"], body  # no path in the detail at all


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", f"/api/unknown/{BSN}", 404),  # no route
        ("GET", f"/api/registry/v1/facilities/{BSN}/", 404),  # trailing slash
        ("TRACE", f"/api/registry/v1/facilities/{BSN}", 405),  # method not served
        ("GET", f"/health/{BSN}", 404),  # the gateway's own pages
        ("POST", f"/health/{BSN}", 405),
        ("GET", f"/docs/{BSN}", 404),  # the developer portal
        ("GET", f"/docs/registry/{BSN}", 404),
        ("DELETE", f"/docs/{BSN}", 405),
    ],
)
async def test_problem_details_never_repeat_the_path(
    gw: RunningGateway, issuer: TestIssuer, method: str, path: str, status: int
) -> None:
    auth = issuer.headers(scopes=["registry:read"])
    async with gw.client() as client:
        _problem(await client.request(method, path, headers=auth), status)
        _problem(await client.request(method, path), status)
