"""`sid` is per sector like `sub`: clients of different sectors cannot link their
pairwise subjects by the session id, while userinfo and logout still find the session."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from idkit import Browser, decode_unverified


async def test_sid_differs_per_sector_and_the_session_is_still_found(
    browser: Browser, register: Any
) -> None:
    a = await register(sector="sector-a")
    a_too = await register(sector="sector-a")
    b = await register(sector="sector-b")
    tokens = {}
    for rp in (a, a_too, b):
        login = await browser.login(rp)
        tokens[rp.client_id] = (await browser.token(rp, login)).json()
    ids = {k: decode_unverified(v["id_token"]) for k, v in tokens.items()}
    access = {k: decode_unverified(v["access_token"]) for k, v in tokens.items()}
    assert ids[a.client_id]["sub"] != ids[b.client_id]["sub"]
    assert ids[a.client_id]["sid"] != ids[b.client_id]["sid"]
    assert ids[a.client_id]["sid"] == ids[a_too.client_id]["sid"]  # one sector, one sid

    # Nothing in the access tokens is shared across sectors either.
    def strings(claims: dict[str, Any]) -> set[str]:
        return {v for v in claims.values() if isinstance(v, str) and len(v) >= 32 and ":" not in v}

    shared = strings(access[a.client_id]) & strings(access[b.client_id])
    assert not shared, shared
    for rp in (a, b):
        assert access[rp.client_id]["sid"] == ids[rp.client_id]["sid"]
        info = await browser.http.get(
            "/auth/userinfo",
            headers={"Authorization": f"Bearer {tokens[rp.client_id]['access_token']}"},
        )
        assert info.status_code == 200, info.text
    # A's own ID token still logs out at once (its sid is this session's for A's sector).
    hint = tokens[a.client_id]["id_token"]
    done = await browser.http.get("/auth/end-session?" + urlencode({"id_token_hint": hint}))
    assert done.status_code == 200
    assert "csrf" not in done.text
    after = await browser.login(b, prompt="none")
    assert after.params.get("error") == "login_required"
