"""Failures become pages people understand: problem+json next to the field with the input
kept, 403/404/5xx pages, "temporarily unavailable" when something behind the portal is
down, never a stack trace; CSRF on every POST; the security headers."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from conftest import Portal

from portal.api import problem_of
from portal.web.forms import Form, human_reason, problem_message
from portal.web.i18n import Translator

UTRECHT = {
    "org_type": "municipality",
    "org_id": "00000001001234567000",
    "org_name": "Gemeente Utrecht",
    "roles": ["registry-editor"],
}


def page_of(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"items": items, "total": len(items), "page": 1, "pageSize": 100}


def script_registry(portal: Portal) -> None:
    fake = portal.fake
    fake.json(
        "GET",
        "/api/registry/v1/organisations",
        page_of([{"id": "m-1", "name": "Utrecht", "type": "municipality", "cbsCode": "GM0344"}]),
    )
    fake.json(
        "GET",
        "/api/registry/v1/facilities",
        page_of([{"id": "f-1", "name": "GGI-Netwerk", "slug": "ggi-netwerk"}]),
    )
    fake.json("GET", "/api/registry/v1/offerings", page_of([]))
    fake.json("GET", "/api/registry/v1/usages", page_of([]))


def csrf_of(html: str) -> str:
    return html.split('name="csrf" value="')[1].split('"')[0]


def form_id_of(html: str) -> str:
    return html.split('name="form_id" value="')[1].split('"')[0]


async def test_security_headers_on_every_page(portal: Portal) -> None:
    response = await portal.client.get("/accessibility")
    headers = response.headers
    csp = headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "style-src 'self'" in csp
    assert "script-src" not in csp  # no script at all
    assert "frame-ancestors 'none'" in csp
    assert "form-action 'self'" in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["cache-control"] == "no-store"
    assert headers["strict-transport-security"].startswith("max-age=")
    assert "<script" not in response.text
    assert "style=" not in response.text
    css = await portal.client.get("/static/vendor/utrecht/index.css")
    assert css.status_code == 200
    assert "utrecht-button" in css.text
    assert (await portal.client.get("/static/vendor/voorbeeld/LICENCE.md")).status_code == 200


async def test_head_answers_every_page_without_a_body(portal: Portal) -> None:
    # Uptime checks and link checkers ask HEAD; it was a 405.
    for path in ("/accessibility", "/static/vendor/utrecht/index.css"):
        get = await portal.client.get(path)
        head = await portal.client.head(path)
        assert head.status_code == get.status_code == 200, path
        assert head.headers["content-type"] == get.headers["content-type"]
        assert head.content == b""
    assert (await portal.client.head("/nowhere")).status_code == 404


async def test_a_browser_asking_favicon_ico_gets_the_icon(portal: Portal) -> None:
    # A page without an icon link (a JSON document) makes the browser ask /favicon.ico.
    moved = await portal.client.get("/favicon.ico")
    assert moved.status_code == 301
    assert moved.headers["location"] == "/static/favicon.svg"
    icon = await portal.client.get(moved.headers["location"])
    assert icon.status_code == 200
    assert icon.headers["content-type"] == "image/svg+xml"


async def test_unknown_pages_and_bad_ids_get_the_404_page(portal: Portal) -> None:
    for path in ("/nowhere", "/organisations/not-a-uuid", "/tenders/123"):
        response = await portal.client.get(path)
        assert response.status_code == 404, path
        assert "Pagina niet gevonden" in response.text
    portal.fake.json(
        "GET",
        "/api/procurement/v1/tenders/" + "0" * 8 + "-0000-0000-0000-" + "0" * 12,
        {"status": 404, "title": "Not Found"},
        status=404,
    )
    gone = await portal.client.get("/tenders/00000000-0000-0000-0000-000000000000")
    assert gone.status_code == 404
    assert "Pagina niet gevonden" in gone.text


async def test_a_public_tender_page_in_words_and_no_page_for_a_draft(portal: Portal) -> None:
    tender_id = "11111111-2222-3333-4444-555555555555"
    tender = {"id": tender_id, "title": "Telefonie 2027", "status": "open-for-enrollment", "description": None,
              "procedure": "open", "leadParty": {"id": "l", "name": "Dienst Dommelvallei"},
              "facility": {"id": "f", "name": "GT"}, "enrollmentOpensAt": "2027-01-01T00:00:00Z",
              "enrollmentClosesAt": "2027-02-01T00:00:00Z", "plannedStartDate": "2027-06-01",
              "contractDurationMonths": 36, "lots": [],
              "estimatedValue": {"amount": 250000, "currency": "EUR"}}  # fmt: skip
    portal.fake.json("GET", f"/api/procurement/v1/tenders/{tender_id}", tender)
    page = await portal.client.get(f"/tenders/{tender_id}")
    assert page.status_code == 200
    assert "<dd>Openbaar</dd>" in page.text
    assert "<dd>€ 250.000</dd>" in page.text
    # The portal's own read token sees drafts; a visitor must not.
    portal.fake.json(
        "GET", f"/api/procurement/v1/tenders/{tender_id}", {**tender, "status": "draft"}
    )
    draft = await portal.client.get(f"/tenders/{tender_id}")
    assert draft.status_code == 404
    assert "Telefonie 2027" not in draft.text


async def test_a_platform_that_is_down_gives_try_again_never_a_trace(portal: Portal) -> None:
    portal.fake.down = True
    response = await portal.client.get("/tenders")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert "Tijdelijk niet beschikbaar" in response.text
    assert "Traceback" not in response.text


async def test_an_api_error_gives_the_500_page_in_english_too(portal: Portal) -> None:
    portal.fake.json("GET", "/api/procurement/v1/tenders", {"status": 500}, status=500)
    await portal.client.get("/language", params={"lang": "en"})
    response = await portal.client.get("/tenders")
    assert response.status_code == 500
    assert "Something went wrong" in response.text
    assert '<html lang="en"' in response.text


async def test_a_page_for_staff_only_says_no_access(portal: Portal) -> None:
    await portal.login(org_type="supplier", org_id="90000001", roles=["registry-editor"])
    response = await portal.client.get("/municipality/usages")
    assert response.status_code == 403
    assert "Geen toegang" in response.text


async def test_pages_that_need_a_login_send_the_person_to_log_in(portal: Portal) -> None:
    response = await portal.client.get("/municipality/radar")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fmunicipality%2Fradar"


async def test_every_post_needs_the_form_token(portal: Portal) -> None:
    await portal.login(**UTRECHT)
    script_registry(portal)
    page = await portal.client.get("/municipality/usages/new")
    token = csrf_of(page.text)
    fields = {"facilityId": "f-1", "status": "active", "form_id": form_id_of(page.text)}
    for sent in ({}, {"csrf": ""}, {"csrf": token + "x"}):
        refused = await portal.client.post("/municipality/usages/new", data={**fields, **sent})
        assert refused.status_code == 400
        assert "formulier is verlopen" in refused.text
    assert portal.fake.api_calls("/api/registry/v1/usages") == [
        c for c in portal.fake.api_calls("/api/registry/v1/usages") if c[0] == "GET"
    ]
    logout = await portal.client.post("/logout")
    assert logout.status_code == 400


async def test_invalid_params_appear_next_to_their_fields_with_the_input_kept(
    portal: Portal,
) -> None:
    await portal.login(**UTRECHT)
    script_registry(portal)
    portal.fake.json(
        "POST",
        "/api/registry/v1/usages",
        {
            "type": "about:blank",
            "title": "Bad Request",
            "status": 400,
            "invalidParams": [
                {"name": "body.contractEndDate", "reason": "Input should be a valid date"},
                {"name": "municipalityId", "reason": "Field required"},
            ],
        },
        status=400,
    )
    page = await portal.client.get("/municipality/usages/new")
    first_id = form_id_of(page.text)
    response = await portal.client.post(
        "/municipality/usages/new",
        data={
            "csrf": csrf_of(page.text),
            "form_id": first_id,
            "facilityId": "f-1",
            "status": "active",
            "contractEndDate": "31-02-2027",
            "noticePeriodMonths": "3",
        },
    )
    assert response.status_code == 400
    html = response.text
    assert 'id="f-contractEndDate-error"' in html
    assert "Vul een geldige datum in" in html
    assert 'value="31-02-2027"' in html
    assert 'value="3"' in html
    assert 'aria-invalid="true"' in html
    assert "municipalityId: Vul dit veld in." in html  # not a field of this form: on top
    assert form_id_of(html) != first_id  # a new attempt gets a new Idempotency-Key
    (post,) = [c for c in portal.fake.api_calls("/api/registry/v1/usages") if c[0] == "POST"]
    assert post[2]["idempotency-key"] == first_id
    assert post[2]["authorization"].startswith("Bearer at-")


async def test_a_double_submit_sends_the_same_idempotency_key(portal: Portal) -> None:
    await portal.login(**UTRECHT)
    script_registry(portal)
    portal.fake.json("POST", "/api/registry/v1/usages", {"id": "u-1"}, status=201)
    page = await portal.client.get("/municipality/usages/new")
    data = {
        "csrf": csrf_of(page.text),
        "form_id": form_id_of(page.text),
        "facilityId": "f-1",
        "status": "active",
    }
    first = await portal.client.post("/municipality/usages/new", data=data)
    second = await portal.client.post("/municipality/usages/new", data=data)
    assert first.status_code == second.status_code == 303
    keys = {
        c[2]["idempotency-key"]
        for c in portal.fake.api_calls("/api/registry/v1/usages")
        if c[0] == "POST"
    }
    assert keys == {data["form_id"]}  # the registry stores one usage for both


async def test_step_up_goes_through_identity_and_back_to_the_same_form(portal: Portal) -> None:
    await portal.login(**UTRECHT)  # at level low
    script_registry(portal)
    portal.fake.json(
        "POST",
        "/api/registry/v1/usages",
        {
            "status": 403,
            "title": "Forbidden",
            "requiredAcr": "http://eidas.europa.eu/LoA/substantial",
        },
        status=403,
        **{"WWW-Authenticate": 'Bearer error="insufficient_user_authentication"'},
    )
    page = await portal.client.get("/municipality/usages/new")
    typed = {"facilityId": "f-1", "status": "planned", "contractEndDate": "2027-12-31"}
    sent = await portal.client.post(
        "/municipality/usages/new",
        data={"csrf": csrf_of(page.text), "form_id": form_id_of(page.text), **typed},
    )
    assert sent.status_code == 303
    assert sent.headers["location"] == (
        "/login?next=%2Fmunicipality%2Fusages%2Fnew&acr=http%3A%2F%2Feidas.europa.eu%2FLoA%2Fsubstantial"
        "&sendAgain=1"
    )
    start = await portal.client.get(sent.headers["location"])
    query = portal.authorize_query(start)
    assert query["acr_values"] == "http://eidas.europa.eu/LoA/substantial"
    code = portal.fake.issue_code(
        query["nonce"],
        query["code_challenge"],
        "http://eidas.europa.eu/LoA/substantial",
        sub="person-1",
        name="Anouk Bakker",
        **UTRECHT,
    )
    back = await portal.client.get(
        "/login/callback", params={"state": query["state"], "code": code}
    )
    assert back.headers["location"] == "/municipality/usages/new"
    form = await portal.client.get("/municipality/usages/new")
    assert 'value="2027-12-31"' in form.text
    assert '<option value="planned" selected>' in form.text
    # Nothing was sent before the log-in: the page says so, once.
    assert "Er is nog niets verstuurd" in form.text
    again = await portal.client.get("/municipality/usages/new")
    assert 'value="2027-12-31"' not in again.text  # kept once, then forgotten
    assert "Er is nog niets verstuurd" not in again.text


async def test_a_stale_etag_shows_the_newer_data_and_keeps_the_input(portal: Portal) -> None:
    await portal.login(**UTRECHT)
    script_registry(portal)
    usage = {
        "id": "11111111-1111-1111-1111-111111111111",
        "facilityId": "f-1",
        "municipalityId": "m-1",
        "offeringId": None,
        "versionId": None,
        "status": "active",
        "startDate": None,
        "contractEndDate": "2028-01-31",
        "noticePeriodMonths": 6,
        "contractValueBand": None,
    }
    path = f"/api/registry/v1/usages/{usage['id']}"
    portal.fake.json("GET", path, usage, ETag='"v2"')
    portal.fake.json("GET", "/api/registry/v1/facilities/f-1", {"id": "f-1", "name": "GGI-Netwerk"})
    portal.fake.json("PATCH", path, {"status": 412, "title": "Precondition Failed"}, status=412)
    page = await portal.client.get(f"/municipality/usages/{usage['id']}")
    assert 'name="etag" value="&#34;v2&#34;"' in page.text
    # An active usage can stay active or end; it cannot go back to planned.
    assert '<option value="active" selected>' in page.text
    assert '<option value="ended">' in page.text
    assert '<option value="planned"' not in page.text
    response = await portal.client.post(
        f"/municipality/usages/{usage['id']}",
        data={
            "csrf": csrf_of(page.text),
            "form_id": form_id_of(page.text),
            "etag": '"v1"',
            "status": "active",
            "contractEndDate": "2029-06-30",
            "noticePeriodMonths": "3",
            "action": "save",
        },
    )
    assert response.status_code == 409
    html = response.text
    assert "Iemand anders heeft dit intussen gewijzigd" in html
    assert 'value="2029-06-30"' in html  # the person's input
    assert "2028-01-31" in html  # the newer data
    assert 'name="etag" value="&#34;v2&#34;"' in html  # saving again applies it knowingly
    (patch,) = [c for c in portal.fake.api_calls(path) if c[0] == "PATCH"]
    assert patch[2]["if-match"] == '"v1"'


def test_problem_mapping_reads_invalid_params_and_translates_reasons() -> None:
    import httpx

    response = httpx.Response(
        400,
        json={
            "title": "Bad Request",
            "detail": "2 problems",
            "invalidParams": [
                {"name": "body.name", "reason": "String should have at least 1 character"},
                {"name": "lots[0].expectedVolume", "reason": "Input should be greater than 0"},
                "junk",
            ],
        },
    )
    problem = problem_of(response)
    assert problem.invalid_params == {
        "name": "String should have at least 1 character",
        "lots[0].expectedVolume": "Input should be greater than 0",
    }
    t = Translator("en")
    assert human_reason(t, "Field required") == "Please fill in this field."
    assert human_reason(t, "required") == "Please fill in this field."  # a PATCH's null
    assert human_reason(t, "List should have at least 1 item after validation, not 0") == (
        "Choose at least one."
    )
    assert human_reason(t, "Something odd") == "This value is not valid (Something odd)."
    # A limit keeps its number, written as the language writes numbers.
    too_long = "String should have at most 200 characters"
    assert human_reason(t, too_long) == "Use at most 200 characters."
    assert human_reason(Translator("nl"), too_long) == "Gebruik ten hoogste 200 tekens."
    assert human_reason(t, "String should have at least 3 characters") == (
        "Use at least 3 characters."
    )
    highest = "Input should be less than or equal to 10.5"
    assert human_reason(t, highest) == "Enter a number of at most 10.5."
    assert human_reason(Translator("nl"), highest) == "Vul een getal in van ten hoogste 10,5."
    assert human_reason(t, "Input should be greater than or equal to 0") == (
        "Enter a number of at least 0."
    )
    assert human_reason(t, "Input should be less than 100") == "Enter a number less than 100."
    form = Form(values={"name": ""}).apply_problem(t, problem)
    assert form.errors == {"name": "Please fill in this field."}

    assert form.general == ["lots[0].expectedVolume: Enter a number greater than 0."]
    assert problem_of(httpx.Response(502, text="<html>")).status == 502


def test_the_services_own_reasons_are_said_in_the_page_s_language() -> None:
    """The reasons the services give for their rules (dates, amounts, co-funding, CSV
    values) become sentences without API names, with dates and choices written out."""
    nl, en = Translator("nl"), Translator("en")
    assert human_reason(nl, "lies in the past") == "Deze datum ligt in het verleden."
    assert human_reason(nl, "before startDate") == "Deze datum ligt vóór de startdatum."
    assert human_reason(nl, "Input should be True") == "Vink dit aan om door te gaan."
    assert human_reason(nl, "exceeds the tender's estimatedValue") == (
        "Dit bedrag is hoger dan de geraamde waarde van de hele aanbesteding.")  # fmt: skip
    assert human_reason(nl, "outside the joint contract: from 2027-06-01 to 2031-05-31") == (
        "Deze datum valt buiten het gezamenlijke contract (van 01-06-2027 tot 31-05-2031).")  # fmt: skip
    assert human_reason(en, "outside the joint contract: from 2027-06-01 to 2031-05-31") == (
        "This date lies outside the joint contract (from 01 Jun 2027 to 31 May 2031).")  # fmt: skip
    assert human_reason(en, "Input should be 'planned', 'active' or 'ended'") == (
        "Use one of these values: planned, active, ended.")  # fmt: skip
    assert human_reason(nl, "Decimal input should have no more than 16 digits in total") == (
        "Gebruik ten hoogste 16 cijfers.")  # fmt: skip
    assert human_reason(en, "required (above 0) for co-fund") == (
        "Enter an amount above 0 for co-funding.")  # fmt: skip
    assert human_reason(en, "only for co-fund") == "An amount belongs only with co-funding."
    from_csv = "must be an amount in euro like 1250 or 1250,50 (no thousands separators)"
    assert human_reason(nl, from_csv) == (
        "Schrijf een bedrag in euro zoals 1250 of 1250,50, zonder punten tussen de duizendtallen.")  # fmt: skip
    assert human_reason(en, "Value error, must be a JSON number") == "Enter a number."
    assert human_reason(en, "Value error, must be a JSON integer") == "Enter a number."
    assert human_reason(nl, "before 2026-01-30 (a year before the tender's creation)") == (
        "Vul een datum in vanaf 30-01-2026: een volmacht voor deze aanbesteding is ten hoogste "
        "een jaar vóór het aanmaken ervan getekend.")  # fmt: skip
    for said in (human_reason(nl, r) for r in ("after today", "not after opensAt",
                 "in the future: record it on or after that day", "unknown facility id or slug")):  # fmt: skip
        assert "(" not in said, said  # said in Dutch, not the API's words in brackets


@pytest.mark.parametrize("lang", ["nl", "en"])
async def test_language_switch_is_kept_in_a_cookie(portal: Portal, lang: str) -> None:
    switched = await portal.client.get("/language", params={"lang": lang, "next": "/accessibility"})
    assert switched.status_code == 303
    assert switched.headers["location"] == "/accessibility"
    assert f"samen_lang={lang}" in switched.headers["set-cookie"]
    page = await portal.client.get("/accessibility")
    assert f'<html lang="{lang}"' in page.text
    other = "en" if lang == "nl" else "nl"
    assert f"/language?lang={other}" in page.text


async def test_an_unexpected_error_gives_the_500_page_with_the_security_headers(
    portal: Portal,
) -> None:
    async def broken() -> None:
        raise RuntimeError("a bug")

    portal.app.add_api_route("/broken-for-test", broken)
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=portal.app, raise_app_exceptions=False),
        base_url=str(portal.client.base_url),
    )
    async with client:
        response = await client.get("/broken-for-test")
    assert response.status_code == 500
    assert "Traceback" not in response.text
    assert "a bug" not in response.text
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["strict-transport-security"].startswith("max-age=")


def test_a_known_problem_is_said_in_the_person_s_language() -> None:
    from portal.api import ApiProblem

    base = "https://samen.example.nl/problems/"
    closed = ApiProblem(
        status=409,
        detail="The enrollment window is closed.",
        body={"type": base + "enrollment-window-closed"},
    )
    assert problem_message(Translator("nl"), closed) == (
        "Dit kan nu niet. De aanmelding voor deze aanbesteding is gesloten. "
        "(The enrollment window is closed.)"
    )
    assert problem_message(Translator("en"), closed) == (
        "This is not possible now. The enrollment window is closed."
    )
    bare = ApiProblem(status=409, body={"type": base + "enrollment-window-closed"})
    assert problem_message(Translator("en"), bare) == (
        "This is not possible now. Enrollment in this tender is closed."
    )
    unknown = ApiProblem(status=409, detail="Something new.", body={"type": base + "new-rule"})
    assert problem_message(Translator("nl"), unknown) == "Dit kan nu niet. Something new."
