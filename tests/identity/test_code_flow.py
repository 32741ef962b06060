"""Authorization code flow with PKCE and private_key_jwt, through the HTTP API:
every simulator means and level, sessions, step-up, and every refusal."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from idkit import (
    DEFAULT_LEVELS,
    ISSUER,
    LOA_HIGH,
    LOA_LOW,
    LOA_SUBSTANTIAL,
    RP_CALLBACK,
    Browser,
    decode_unverified,
    hidden_fields,
    path_of,
    query_of,
)

from identity.broker.means import MEANS
from identity.broker.means import test_identities as load_identities

LEVELS = [
    (means, level.native, level.loa) for means, info in MEANS.items() for level in info.levels
]
FIRST_IDENTITY = {m: ids[0]["id"] for m, ids in load_identities().items()}


async def test_digid_login_gives_id_and_access_token(browser: Browser, register: Any) -> None:
    rp = await register(allowed_scopes=["openid", "profile"])
    login = await browser.login(rp, "digid", "digid-jan")
    assert login.location.startswith(RP_CALLBACK + "?")
    assert login.params["state"] == login.state
    assert login.params["iss"] == ISSUER
    response = await browser.token(rp, login)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert "refresh_token" not in body  # off unless the client enables them
    id_claims = decode_unverified(body["id_token"])
    for name in ("iss", "aud", "sub", "nonce", "jti", "exp", "iat", "nbf", "acr", "auth_time"):
        assert name in id_claims, name
    assert id_claims["nonce"] == login.nonce
    assert id_claims["aud"] == rp.client_id
    assert id_claims["acr"] == LOA_SUBSTANTIAL
    assert "amr" not in id_claims
    assert id_claims["exp"] - id_claims["iat"] <= 300
    assert id_claims["given_name"] == "Jan"
    assert "bsn" not in id_claims
    assert "999993653" not in json.dumps(id_claims)
    access = decode_unverified(body["access_token"])
    assert "samen" in access["aud"]
    assert access["sub"] == id_claims["sub"]
    assert access["acr"] == LOA_SUBSTANTIAL
    assert access["exp"] - access["iat"] <= 3600


@pytest.mark.parametrize(("means", "native", "loa"), LEVELS)
async def test_every_means_and_level(
    browser: Browser, register: Any, means: str, native: str, loa: str
) -> None:
    rp = await register(allowed_scopes=["openid", "profile", "email"])
    login = await browser.login(
        rp, means, FIRST_IDENTITY[means], native, scope="openid profile email"
    )
    body = (await browser.token(rp, login)).json()
    id_claims = decode_unverified(body["id_token"])
    assert id_claims["acr"] == loa
    assert decode_unverified(body["access_token"])["acr"] == loa


async def test_eherkenning_user_gets_org_claims_roles_and_eligible_scopes(
    browser: Browser, register: Any
) -> None:
    scopes = "openid profile registry:read procurement:read procurement:enroll procurement:manage"
    rp = await register(allowed_scopes=scopes.split())
    login = await browser.login(rp, "eherkenning", "eh-utrecht-inkoop", scope=scopes)
    body = (await browser.token(rp, login)).json()
    access = decode_unverified(body["access_token"])
    assert access["org_id"] == "00000001001234567000"
    assert access["org_type"] == "municipality"
    assert access["roles"] == ["procurement-enroller", "registry-editor"]
    granted = access["scope"].split()
    assert "procurement:enroll" in granted
    assert "procurement:manage" not in granted  # no machtiging for it
    assert body["scope"] == access["scope"]
    id_claims = decode_unverified(body["id_token"])
    assert id_claims["represents"]["org_id"] == "00000001001234567000"
    assert "deelname gezamenlijke aanbesteding" in id_claims["represents"]["services"]
    assert id_claims["represents"]["level"] == LOA_SUBSTANTIAL

    # A municipal employee without the machtiging does not get procurement:enroll.
    browser.http.cookies.clear()
    login = await browser.login(rp, "eherkenning", "eh-amersfoort-beheer", scope=scopes)
    access = decode_unverified((await browser.token(rp, login)).json()["access_token"])
    assert "procurement:enroll" not in access["scope"].split()
    assert access["roles"] == ["registry-editor"]


async def test_supplier_and_admin_org_users(browser: Browser, register: Any) -> None:
    rp = await register(allowed_scopes=["openid", "registry:write", "identity:admin"])
    login = await browser.login(
        rp, "eherkenning", "eh-leverancier", scope="openid registry:write identity:admin"
    )
    access = decode_unverified((await browser.token(rp, login)).json()["access_token"])
    assert access["org_id"] == "90000001"
    assert access["org_type"] == "supplier"
    assert access["scope"] == "openid registry:write"
    browser.http.cookies.clear()
    login = await browser.login(rp, "eherkenning", "eh-operator", scope="openid identity:admin")
    access = decode_unverified((await browser.token(rp, login)).json()["access_token"])
    assert access["org_type"] == "operator"
    assert "platform-admin" in access["roles"]
    assert access["scope"] == "openid identity:admin"


async def test_bsn_only_for_clients_with_legal_basis(browser: Browser, register: Any) -> None:
    with_basis = await register(
        allowed_scopes=["openid", "bsn"], bsn_legal_basis="Wet X art. 1", sector="sector-a"
    )
    login = await browser.login(with_basis, "digid", "digid-jan", scope="openid bsn")
    body = (await browser.token(with_basis, login)).json()
    id_claims = decode_unverified(body["id_token"])
    assert id_claims["bsn"] == "999993653"
    assert id_claims["sub"] != "999993653"
    assert "bsn" not in decode_unverified(body["access_token"])
    # A client without a legal basis cannot even register the scope; asking for it, it is
    # dropped (RFC 6749 §3.3) and the granted scope says so.
    without = await register(allowed_scopes=["openid"], sector="sector-a")
    login2 = await browser.login(without, "digid", "digid-jan", scope="openid bsn")
    body2 = (await browser.token(without, login2)).json()
    assert body2["scope"] == "openid"
    assert "bsn" not in decode_unverified(body2["id_token"])
    # Same person, same sector → same pairwise sub; another sector → another sub.
    sub2 = decode_unverified(body2["id_token"])["sub"]
    assert sub2 == id_claims["sub"]
    other_sector = await register(allowed_scopes=["openid"], sector="sector-b")
    login3 = await browser.login(other_sector, "digid", "digid-jan", scope="openid")
    sub3 = decode_unverified((await browser.token(other_sector, login3)).json()["id_token"])["sub"]
    assert sub3 != sub2


async def test_represents_for_digid_machtigen(browser: Browser, register: Any) -> None:
    rp = await register(allowed_scopes=["openid", "profile"])
    login = await browser.login(rp, "digid", "digid-machtiging")
    id_claims = decode_unverified((await browser.token(rp, login)).json()["id_token"])
    rep = id_claims["represents"]
    assert rep["name"] == "Johanna de Vries"
    assert rep["service"] == "aanvragen parkeervergunning"
    assert rep["level"] == LOA_SUBSTANTIAL
    assert "bsn" not in rep
    assert rep["sub"] != id_claims["sub"]


async def test_eidas_and_yivi_attributes(browser: Browser, register: Any) -> None:
    rp = await register(allowed_scopes=["openid", "profile", "email"])
    login = await browser.login(rp, "eidas", "eidas-erika")
    id_claims = decode_unverified((await browser.token(rp, login)).json()["id_token"])
    assert id_claims["family_name"] == "Mustermann"
    assert id_claims["birthdate"] == "1964-08-12"
    browser.http.cookies.clear()
    login = await browser.login(rp, "yivi", "yivi-lotte", scope="openid email")
    id_claims = decode_unverified((await browser.token(rp, login)).json()["id_token"])
    assert id_claims["email"] == "lotte.smit@example.nl"
    assert "family_name" not in id_claims  # profile was not asked


async def test_claims_parameter_minimises(browser: Browser, register: Any) -> None:
    rp = await register(allowed_scopes=["openid", "profile"])
    claims = json.dumps({"id_token": {"given_name": None}})
    login = await browser.login(rp, "digid", "digid-fatima", claims=claims)
    id_claims = decode_unverified((await browser.token(rp, login)).json()["id_token"])
    assert id_claims["given_name"] == "Fatima"
    assert "family_name" not in id_claims
    assert "birthdate" not in id_claims


async def test_session_reuse_prompt_login_max_age_and_prompt_none(
    browser: Browser, register: Any
) -> None:
    rp = await register()
    response, _, _ = await browser.start(rp, prompt="none")
    assert query_of(response.headers["location"])["error"] == "login_required"
    await browser.login(rp, "digid", "digid-jan")
    # The session is reused: straight back to the RP with a code.
    response, params, _ = await browser.start(rp)
    assert response.headers["location"].startswith(RP_CALLBACK)
    assert query_of(response.headers["location"])["state"] == params["state"]
    response, _, _ = await browser.start(rp, prompt="none")
    assert "code" in query_of(response.headers["location"])
    # prompt=login and max_age=0 force a new login.
    for extra in ({"prompt": "login"}, {"max_age": "0"}):
        response, _, _ = await browser.start(rp, **extra)
        assert response.headers["location"].startswith("/auth/login?")


async def test_acr_values_limit_the_means_and_step_up(browser: Browser, register: Any) -> None:
    rp = await register(minimum_loa=LOA_LOW)
    low = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
    login = await browser.login(rp, "digid", "digid-jan", low)
    assert decode_unverified((await browser.token(rp, login)).json()["id_token"])["acr"] == LOA_LOW
    # A request for substantial after a low session: the login page asks to log in again.
    response, _, _ = await browser.start(rp, acr_values=LOA_SUBSTANTIAL)
    location = response.headers["location"]
    assert location.startswith("/auth/login?")
    page = await browser.http.get(path_of(location) + "&lang=en")
    assert "not enough" in page.text
    login = await browser.login(rp, "digid", "digid-jan", acr_values=LOA_SUBSTANTIAL)
    token = (await browser.token(rp, login)).json()
    assert decode_unverified(token["id_token"])["acr"] == LOA_SUBSTANTIAL
    # high: Yivi (at most substantial) is not offered, and the page says why.
    response, _, _ = await browser.start(rp, acr_values=LOA_HIGH)
    page = await browser.http.get(path_of(response.headers["location"]) + "&lang=nl")
    assert 'value="yivi"' not in page.text
    assert "Yivi" in page.text
    assert "haalt hoogstens niveau substantieel" in page.text
    assert 'value="digid"' in page.text
    fields = hidden_fields(page.text)
    refused = await browser.http.post("/auth/login", data={**fields, "means": "yivi"})
    assert refused.status_code == 400
    assert "location" not in refused.headers


async def test_login_below_the_required_level_is_refused(browser: Browser, register: Any) -> None:
    rp = await register(minimum_loa=LOA_SUBSTANTIAL)
    response, params, _ = await browser.start(rp)
    chosen = await browser.choose(response.headers["location"], "digid")
    basis = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
    back = await browser.simulator(chosen.headers["location"], "digid-jan", basis)
    final = await browser.http.get(path_of(back.headers["location"]))
    assert final.status_code == 303
    result = query_of(final.headers["location"])
    assert result["error"] == "access_denied"
    assert result["state"] == params["state"]
    assert "samen_session" not in final.headers.get("set-cookie", "")


async def test_cancel_at_the_simulator(browser: Browser, register: Any) -> None:
    rp = await register()
    response, params, _ = await browser.start(rp)
    chosen = await browser.choose(response.headers["location"], "eidas")
    back = await browser.simulator(chosen.headers["location"], "eidas-jean", LOA_HIGH, "cancel")
    final = await browser.http.get(path_of(back.headers["location"]))
    assert query_of(final.headers["location"]) | {} == {
        "error": "access_denied",
        "error_description": "The login was cancelled or refused.",
        "state": params["state"],
        "iss": ISSUER,
    }


async def test_public_client_short_lived_tokens(browser: Browser, register: Any) -> None:
    rp = await register(token_endpoint_auth_method="none")
    login = await browser.login(rp, "digid", "digid-jan")
    body = (await browser.token(rp, login)).json()
    access = decode_unverified(body["access_token"])
    assert access["exp"] - access["iat"] <= 900
    assert body["expires_in"] <= 900


async def test_id_token_ps256_for_clients_that_ask(
    browser: Browser, register: Any, app: Any
) -> None:
    rp = await register(id_token_signed_response_alg="PS256")
    login = await browser.login(rp)
    body = (await browser.token(rp, login)).json()
    import base64

    header = json.loads(base64.urlsafe_b64decode(body["id_token"].split(".")[0] + "=="))
    assert header["alg"] == "PS256"
    claims = await app.state.identity.keys.verify_own(body["id_token"])
    assert claims["nonce"] == login.nonce


# ------------------------------------------------------------------ refusals


async def test_authorize_refusals_without_redirect(browser: Browser, register: Any) -> None:
    rp = await register()
    machine = await register(grant_type="client_credentials")
    cases = [
        {"client_id": "no-such-client"},
        {"redirect_uri": "https://evil.example/callback"},
        {"redirect_uri": RP_CALLBACK + "/"},
        {"redirect_uri": RP_CALLBACK + "?x=1"},
        {"redirect_uri": None},
    ]
    for case in cases:
        response, _, _ = await browser.start(rp, **case)
        assert response.status_code == 400, case
        assert "location" not in response.headers
        assert response.headers["content-type"].startswith("text/html")
        assert '<html lang="' in response.text
    response, _, _ = await browser.start(machine)
    assert response.status_code == 400
    assert "location" not in response.headers


@pytest.mark.parametrize(
    ("override", "error"),
    [
        ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge": "short"}, "invalid_request"),
        ({"nonce": None}, "invalid_request"),
        ({"nonce": "a\x00b"}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": "code id_token"}, "unsupported_response_type"),
        ({"scope": "profile"}, "invalid_scope"),
        ({"prompt": "none login"}, "invalid_request"),
        ({"max_age": "soon"}, "invalid_request"),
        ({"acr_values": "urn:unknown"}, "invalid_request"),
        ({"claims": "not json"}, "invalid_request"),
        ({"request": "eyJ..."}, "invalid_request_object"),
    ],
)
async def test_authorize_refusals_redirect_to_registered_uri(
    browser: Browser, register: Any, override: dict[str, Any], error: str
) -> None:
    rp = await register()
    response, params, _ = await browser.start(rp, **override)
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith(RP_CALLBACK + "?")
    result = query_of(location)
    assert result["error"] == error
    assert result["state"] == params["state"]


async def test_token_refusals(browser: Browser, register: Any, app: Any) -> None:
    rp = await register()
    other = await register()
    login = await browser.login(rp)

    async def expect(response: httpx.Response, error: str) -> None:
        assert response.status_code in (400, 401), response.text
        assert response.json()["error"] == error

    await expect(await browser.token(rp, login, code_verifier="x" * 43), "invalid_grant")
    # the failed attempt spent the code: single use even after an error
    await expect(await browser.token(rp, login), "invalid_grant")

    login = await browser.login(rp)
    await expect(await browser.token(rp, login, code_verifier=None), "invalid_request")
    await expect(
        await browser.token(rp, login, redirect_uri="https://rp.example.nl/other"), "invalid_grant"
    )

    login = await browser.login(rp)
    await expect(await browser.token(other, login), "invalid_grant")  # bound to the client
    ok = await browser.token(rp, login)
    assert ok.status_code == 200  # the other client's attempt did not spend it
    await expect(await browser.token(rp, login), "invalid_grant")  # used

    settings = app.state.identity.settings
    settings.code_lifetime = 0
    try:
        login = await browser.login(rp)
    finally:
        settings.code_lifetime = 60
    await expect(await browser.token(rp, login), "invalid_grant")
    await expect(
        await browser.token(
            rp, login.__class__("https://x/?code=nonsense", login.verifier, "", "")
        ),
        "invalid_grant",
    )


async def test_login_form_needs_csrf_token(browser: Browser, register: Any) -> None:
    rp = await register()
    response, _, _ = await browser.start(rp)
    page = await browser.http.get(path_of(response.headers["location"]))
    fields = hidden_fields(page.text)
    fields["csrf"] = "forged"
    refused = await browser.http.post("/auth/login", data={**fields, "means": "digid"})
    assert refused.status_code == 403
    # Another browser (no CSRF cookie) replaying the form is refused too.
    async with httpx.AsyncClient(transport=browser.http._transport, base_url=ISSUER) as stranger:
        fields = hidden_fields(page.text)
        refused = await stranger.post("/auth/login", data={**fields, "means": "digid"})
        assert refused.status_code == 403
    # Expired or unknown authorization request.
    page = await browser.http.get("/auth/login?request=unknown")
    assert page.status_code == 400


async def test_bsn_never_in_urls_or_logs(
    browser: Browser, register: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    rp = await register(allowed_scopes=["openid", "bsn"], bsn_legal_basis="Wet X")
    seen: list[str] = []

    async def record(response: httpx.Response) -> None:
        seen.append(str(response.request.url))
        if "location" in response.headers:
            seen.append(response.headers["location"])

    browser.http.event_hooks["response"].append(record)
    login = await browser.login(rp, "digid", "digid-jan", scope="openid bsn")
    body = (await browser.token(rp, login)).json()
    assert decode_unverified(body["id_token"])["bsn"] == "999993653"
    assert seen
    assert not any("999993653" in url for url in seen)
    assert "999993653" not in caplog.text


async def test_simulator_refuses_foreign_clients(http: httpx.AsyncClient) -> None:
    params = {
        "client_id": "someone",
        "redirect_uri": "https://evil.example/cb",
        "response_type": "code",
        "state": "s",
        "nonce": "n",
        "code_challenge": "a" * 43,
        "code_challenge_method": "S256",
    }
    response = await http.get("/auth/simulators/digid/authorize?" + urlencode(params))
    assert response.status_code == 400
    assert (await http.get("/auth/simulators/nope/jwks")).status_code == 404
    token = await http.post(
        "/auth/simulators/digid/token", data={"grant_type": "authorization_code"}
    )
    assert token.status_code == 401


async def test_callback_must_return_to_the_browser_that_started(
    browser: Browser, register: Any
) -> None:
    """Login CSRF: an attacker's upstream login cannot be finished in the victim's browser."""
    rp = await register()
    response, _, _ = await browser.start(rp)
    chosen = await browser.choose(response.headers["location"], "digid")
    back = await browser.simulator(
        chosen.headers["location"], "digid-jan", "urn:oasis:names:tc:SAML:2.0:ac:classes:Smartcard"
    )
    transport = browser.http._transport
    async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as victim:
        stolen = await victim.get(path_of(back.headers["location"]))
        assert stolen.status_code == 403
        assert "location" not in stolen.headers
    # The browser that started it can still finish.
    final = await browser.http.get(path_of(back.headers["location"]))
    assert final.status_code == 303
    assert "code" in query_of(final.headers["location"])
    # The callback is single use.
    again = await browser.http.get(path_of(back.headers["location"]))
    assert again.status_code == 400
    assert "location" not in again.headers


async def test_means_choice_needs_a_usable_request(browser: Browser, register: Any) -> None:
    """The means choice is recorded only on a request that is still open: once its login
    completed, the same form is refused and the upstream leg is not restarted."""
    rp = await register()
    response, _, _ = await browser.start(rp)
    page = await browser.http.get(path_of(response.headers["location"]))
    fields = hidden_fields(page.text)
    chosen = await browser.http.post("/auth/login", data={**fields, "means": "digid"})
    assert chosen.status_code == 303
    back = await browser.simulator(chosen.headers["location"], "digid-jan", DEFAULT_LEVELS["digid"])
    final = await browser.http.get(path_of(back.headers["location"]))
    assert final.status_code == 303
    assert "code=" in final.headers["location"]
    again = await browser.http.post("/auth/login", data={**fields, "means": "digid"})
    assert again.status_code == 400
    assert "location" not in again.headers
    # The upstream leg of the completed request was not replaced: its callback (same
    # state) still finds the request, which is completed, so the code is not issued twice.
    replay = await browser.http.get(path_of(back.headers["location"]))
    assert replay.status_code == 400
    assert "location" not in replay.headers
