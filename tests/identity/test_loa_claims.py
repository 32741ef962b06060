"""The required level of assurance also follows essential `acr` requests in the `claims`
parameter (OIDC Core §5.5.1.1): no downgrade by leaving `acr_values` out."""

from __future__ import annotations

import json
from typing import Any

from idkit import LOA_HIGH, LOA_LOW, LOA_SUBSTANTIAL, Browser, decode_unverified, query_of

DIGID_SUBSTANTIEEL = "urn:oasis:names:tc:SAML:2.0:ac:classes:Smartcard"
DIGID_HOOG = "urn:oasis:names:tc:SAML:2.0:ac:classes:SmartcardPKI"


def essential_acr(member: str, *values: str) -> str:
    return json.dumps({member: {"acr": {"essential": True, "values": list(values)}}})


async def test_the_downgrade_attack_is_refused(browser: Browser, register: Any) -> None:
    """The issue's attack: no acr_values, an essential acr of high in `claims`, a DigiD
    Substantieel login. Before: a code with acr substantial. Now: a failed authentication."""
    rp = await register(minimum_loa=LOA_LOW)
    login = await browser.login(
        rp,
        "digid",
        "digid-jan",
        level=DIGID_SUBSTANTIEEL,
        claims=essential_acr("id_token", LOA_HIGH),
    )
    assert "code" not in login.params, login.location
    assert login.params["error"] == "access_denied"


async def test_userinfo_member_counts_too_and_high_is_answered_with_high(
    browser: Browser, register: Any
) -> None:
    rp = await register(minimum_loa=LOA_LOW)
    refused = await browser.login(
        rp,
        "digid",
        "digid-jan",
        level=DIGID_SUBSTANTIEEL,
        claims=essential_acr("userinfo", LOA_HIGH),
    )
    assert refused.params["error"] == "access_denied"
    met = await browser.login(
        rp, "digid", "digid-jan", level=DIGID_HOOG, claims=essential_acr("id_token", LOA_HIGH)
    )
    tokens = (await browser.token(rp, met)).json()
    assert decode_unverified(tokens["id_token"])["acr"] == LOA_HIGH


async def test_the_lowest_acceptable_value_and_voluntary_requests(
    browser: Browser, register: Any
) -> None:
    rp = await register(minimum_loa=LOA_LOW)
    # Either value satisfies an essential request: substantial is enough.
    either = await browser.login(
        rp,
        "digid",
        "digid-jan",
        level=DIGID_SUBSTANTIEEL,
        claims=essential_acr("id_token", LOA_HIGH, LOA_SUBSTANTIAL),
    )
    tokens = (await browser.token(rp, either)).json()
    assert decode_unverified(tokens["id_token"])["acr"] == LOA_SUBSTANTIAL
    # A voluntary acr request does not raise the level.
    voluntary = json.dumps({"id_token": {"acr": {"values": [LOA_HIGH]}}})
    login = await browser.login(
        rp, "digid", "digid-jan", level=DIGID_SUBSTANTIEEL, claims=voluntary
    )
    assert "code" in login.params, login.location


async def test_an_essential_acr_nobody_can_meet_fails_at_once(
    browser: Browser, register: Any
) -> None:
    rp = await register(minimum_loa=LOA_LOW)
    for claims in (
        essential_acr("id_token", "urn:example:unknown-level"),
        json.dumps({"id_token": {"acr": {"essential": True, "value": "urn:example:x"}}}),
    ):
        response, _params, _verifier = await browser.start(rp, claims=claims)
        assert response.status_code == 303, response.text
        result = query_of(response.headers["location"])
        assert result["error"] == "access_denied", result
