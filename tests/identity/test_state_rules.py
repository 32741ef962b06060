"""`state` at the authorization endpoint: required (NL GOV OIDC profile), and a refused
one is not echoed back to the client."""

from __future__ import annotations

from typing import Any

import pytest
from idkit import Browser, query_of


@pytest.mark.parametrize("state", [None, ""])
async def test_authorize_without_state_is_refused(
    browser: Browser, register: Any, state: str | None
) -> None:
    rp = await register()
    response, _, _ = await browser.start(rp, state=state)
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith(rp.redirect_uri)
    result = query_of(location)
    assert result["error"] == "invalid_request"
    assert "state" in result["error_description"]
    assert "code" not in result
