"""Proposing an initiative, a pilot's participants (join and leave), recording an impact
analysis, and the operator's population CSV upload: the portal against the real registry
(in process, behind the fake gateway), so what the registry refuses is what a person sees
next to the field, with their input kept."""

from __future__ import annotations

import re
from typing import Any

import httpx
from conftest import Portal
from test_errors import UTRECHT, csrf_of, form_id_of
from test_flows import OPERATOR, SUPPLIER

from servicekit.testing import TestIssuer

COOPERATION = {
    "org_type": "cooperation",
    "org_id": "00000001008765432000",
    "org_name": "Dienst Dommelvallei",
    "roles": ["registry-editor"],
}


def operator_headers(issuer: TestIssuer) -> dict[str, str]:
    return issuer.headers(
        sub="vng-admin",
        scopes=["registry:read", "registry:write"],
        org_id=OPERATOR["org_id"],
        org_type="operator",
    )


async def seed(registry: httpx.AsyncClient, issuer: TestIssuer, stage: str = "pilot") -> str:
    """Utrecht, Amersfoort and Dommelvallei in the registry, and a facility in ``stage``;
    its id."""
    headers = operator_headers(issuer)
    for body in (
        {"type": "municipality", "name": "Gemeente Utrecht", "cbsCode": "GM0344",
         "province": "Utrecht", "oin": UTRECHT["org_id"]},
        {"type": "municipality", "name": "Gemeente Amersfoort", "cbsCode": "GM0307",
         "province": "Utrecht"},
        {"type": "cooperation", "name": "Dienst Dommelvallei", "oin": COOPERATION["org_id"]},
    ):  # fmt: skip
        r = await registry.post("/v1/organisations", json=body, headers=headers)
        assert r.status_code == 201, r.text
    r = await registry.post(
        "/v1/facilities",
        json={"slug": "samen-zaken", "name": "Samen Zaken", "kind": "application",
              "theme": "zaakgericht-werken", "stage": stage},
        headers=headers,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def post_form(portal: Portal, page: str, action: str, data: dict[str, Any]) -> Any:
    html = (await portal.client.get(page)).text
    fields = {"csrf": csrf_of(html), "form_id": form_id_of(html), **data}
    return await portal.client.post(action, data=fields)


def field_error(html: str, name: str) -> str:
    found = re.search(rf'id="f-{name}-error">([^<]*)<', html)
    assert found, f"no message next to {name}"
    return found.group(1)


# --- proposing ---------------------------------------------------------------------------


async def test_a_cooperation_proposes_an_initiative(
    portal: Portal, registry: httpx.AsyncClient, issuer: TestIssuer
) -> None:
    await seed(registry, issuer)
    await portal.login(**COOPERATION)
    listing = (await portal.client.get("/initiatives")).text
    assert 'href="/initiatives/new"' in listing
    assert "/initiatives/pledge" not in listing, "pledging is for municipalities"

    wrong = {"name": "Samen Inkopen", "slug": "Samen Inkopen!", "kind": "application",
             "theme": "", "description": "Eén inkoopteam voor de regio"}  # fmt: skip
    response = await post_form(portal, "/initiatives/new", "/initiatives/new", wrong)
    assert response.status_code == 400
    assert field_error(response.text, "slug") == "Deze waarde heeft niet de juiste vorm."
    assert field_error(response.text, "theme")
    assert 'value="Samen Inkopen!"' in response.text
    assert "Eén inkoopteam voor de regio</textarea>" in response.text
    assert '<option value="application" selected>' in response.text

    good = {**wrong, "slug": "samen-inkopen", "theme": "inkoop"}
    html = (await portal.client.get("/initiatives/new")).text
    fields = {"csrf": csrf_of(html), "form_id": form_id_of(html), **good}
    done = await portal.client.post("/initiatives/new", data=fields)
    assert done.status_code == 303, done.text
    again = await portal.client.post("/initiatives/new", data=fields)  # a double submit
    assert again.status_code == 303
    assert again.headers["location"] == done.headers["location"]
    page = await portal.client.get(done.headers["location"])
    assert page.status_code == 200
    assert "Het initiatief is voorgesteld" in page.text
    assert "Dienst Dommelvallei" in page.text
    initiatives = (await registry.get("/v1/initiatives", headers=operator_headers(issuer))).json()
    assert [i["name"] for i in initiatives["items"]].count("Samen Inkopen") == 1

    taken = await post_form(portal, "/initiatives/new", "/initiatives/new", good)
    assert taken.status_code == 400
    assert "al in gebruik" in field_error(taken.text, "slug")
    assert 'value="samen-inkopen"' in taken.text


async def test_only_municipal_or_cooperation_staff_propose(
    portal: Portal, registry: httpx.AsyncClient, issuer: TestIssuer
) -> None:
    await seed(registry, issuer)
    assert (await portal.client.get("/initiatives/new")).status_code == 303  # log in first
    await portal.login(**SUPPLIER)
    assert (await portal.client.get("/initiatives/new")).status_code == 403
    assert 'href="/initiatives/new"' not in (await portal.client.get("/initiatives")).text
    html = (await portal.client.get("/initiatives")).text
    response = await portal.client.post(
        "/initiatives/new",
        data={"csrf": csrf_of(html), "name": "x", "slug": "x", "kind": "service", "theme": "x"},
    )
    assert response.status_code == 403


# --- pilots ------------------------------------------------------------------------------


async def test_a_municipality_joins_and_leaves_a_pilot(
    portal: Portal, registry: httpx.AsyncClient, issuer: TestIssuer
) -> None:
    facility = await seed(registry, issuer, stage="pilot")
    page_path = f"/initiatives/{facility}"
    catalogue = await portal.client.get(f"/facilities/{facility}")
    assert f'href="{page_path}"' in catalogue.text, "the catalogue leads to the pilot"
    public = await portal.client.get(page_path)
    assert public.status_code == 200
    assert "Er doen nog geen gemeenten mee aan de pilot." in public.text
    assert "pilot-participants" not in public.text, "no join form without a staff login"

    await portal.login(**UTRECHT)
    assert f'href="/initiatives/{facility}"' in (await portal.client.get("/initiatives")).text
    joined = await post_form(portal, page_path, f"{page_path}/pilot-participants", {})
    assert joined.status_code == 303, joined.text
    page = (await portal.client.get(page_path)).text
    assert "Uw gemeente doet mee aan de pilot." in page
    table = page.split('<table class="utrecht-table')[1].split("</table>")[0]
    assert "Gemeente Utrecht" in table
    assert "Meedoen aan de pilot</button>" not in page
    participants = (
        await registry.get(f"/v1/facilities/{facility}/pilot-participants",
                           headers=operator_headers(issuer))
    ).json()["items"]  # fmt: skip
    assert [p["municipality"]["name"] for p in participants] == ["Gemeente Utrecht"]

    leave = re.search(r'action="(/initiatives/[^"]+/leave)"', page)
    assert leave
    left = await portal.client.post(leave.group(1), data={"csrf": csrf_of(page)})
    assert left.status_code == 303
    page = (await portal.client.get(page_path)).text
    assert "Uw gemeente doet niet meer mee aan de pilot." in page
    assert "Er doen nog geen gemeenten mee aan de pilot." in page


async def test_joining_outside_the_pilot_stage_says_why(
    portal: Portal, registry: httpx.AsyncClient, issuer: TestIssuer
) -> None:
    facility = await seed(registry, issuer, stage="initiative")
    await portal.login(**UTRECHT)
    page = (await portal.client.get(f"/initiatives/{facility}")).text
    assert "Meedoen kan alleen in de fase pilot" in page
    assert "Meedoen aan de pilot</button>" not in page
    # A form kept open from before the stage changed: the registry's 409, on the page.
    response = await portal.client.post(
        f"/initiatives/{facility}/pilot-participants",
        data={"csrf": csrf_of(page), "form_id": "old-form"},
    )
    assert response.status_code == 400
    assert "Meedoen aan de pilot kan alleen zolang de voorziening in de pilotfase is." in (
        response.text
    )
    assert "stage pilot" in response.text  # the API's own words, after it
    await portal.login(**SUPPLIER)
    forbidden = await portal.client.post(
        f"/initiatives/{facility}/pilot-participants",
        data={"csrf": csrf_of((await portal.client.get("/initiatives")).text)},
    )
    assert forbidden.status_code == 403


# --- impact analyses ---------------------------------------------------------------------


async def test_the_operator_records_an_impact_analysis(
    portal: Portal, registry: httpx.AsyncClient, issuer: TestIssuer
) -> None:
    facility = await seed(registry, issuer, stage="impact-analysis")
    page_path = f"/initiatives/{facility}"
    action = f"{page_path}/impact-analyses"
    await portal.login(**OPERATOR)
    operator_page = (await portal.client.get(f"/operator/facilities/{facility}")).text
    assert f'href="/initiatives/{facility}"' in operator_page
    page = (await portal.client.get(page_path)).text
    assert f'action="{action}"' in page
    assert '<option value="">Maak een keuze</option>' in page, "no outcome chosen for them"

    wrong = {"outcome": "conditional", "summary": "", "completedOn": "31-02-2026",
             "documentUrl": "https://www.vng.nl/impact.pdf"}  # fmt: skip
    response = await post_form(portal, page_path, action, wrong)
    assert response.status_code == 400
    assert field_error(response.text, "summary")
    assert field_error(response.text, "completedOn")
    assert 'value="https://www.vng.nl/impact.pdf"' in response.text
    assert '<option value="conditional" selected>' in response.text

    good = {**wrong, "summary": "Haalbaar met een regionale beheerorganisatie",
            "completedOn": "2026-11-30"}  # fmt: skip
    done = await post_form(portal, page_path, action, good)
    assert done.status_code == 303, done.text
    page = (await portal.client.get(page_path)).text
    assert "De impactanalyse is vastgelegd." in page
    assert "Positief onder voorwaarden" in page
    assert "30-11-2026" in page
    analyses = (
        await registry.get(f"/v1/facilities/{facility}/impact-analyses",
                           headers=operator_headers(issuer))
    ).json()["items"]  # fmt: skip
    assert [(a["outcome"], a["completedOn"]) for a in analyses] == [("conditional", "2026-11-30")]

    # With that outcome the facility may move on to implementation.
    moved = await post_form(
        portal, f"/operator/facilities/{facility}", f"/operator/facilities/{facility}/stage",
        {"toStage": "implementation", "reason": "Impactanalyse positief"},
    )  # fmt: skip
    assert moved.status_code == 303, moved.text
    page = (await portal.client.get(page_path)).text
    assert f'action="{action}"' not in page, "no analyses after the facility moved on"


async def test_only_the_operator_records_impact_analyses(
    portal: Portal, registry: httpx.AsyncClient, issuer: TestIssuer
) -> None:
    facility = await seed(registry, issuer, stage="impact-analysis")
    await portal.login(**UTRECHT)
    page = (await portal.client.get(f"/initiatives/{facility}")).text
    assert "impact-analyses" not in page
    response = await portal.client.post(
        f"/initiatives/{facility}/impact-analyses",
        data={"csrf": csrf_of(page), "outcome": "positive", "summary": "x",
              "completedOn": "2026-11-30"},
    )  # fmt: skip
    assert response.status_code == 403
    assert "Geen toegang" in response.text
    analyses = (
        await registry.get(f"/v1/facilities/{facility}/impact-analyses",
                           headers=operator_headers(issuer))
    ).json()  # fmt: skip
    assert analyses["total"] == 0


# --- population figures by CSV -----------------------------------------------------------


async def upload(portal: Portal, content: bytes, dry_run: bool, name: str = "cbs.csv") -> Any:
    html = (await portal.client.get("/operator/population")).text
    data = {"csrf": csrf_of(html), "form_id": form_id_of(html)}
    if dry_run:
        data["dryRun"] = "on"
    files = {"file": (name, content, "text/csv")}
    return await portal.client.post("/operator/population", data=data, files=files)


async def test_the_operator_uploads_population_figures(
    portal: Portal, registry: httpx.AsyncClient, issuer: TestIssuer
) -> None:
    await seed(registry, issuer)
    await portal.login(**OPERATOR)
    assert 'href="/operator/population"' in (await portal.client.get("/operator/facilities")).text
    page = await portal.client.get("/operator/population")
    assert page.status_code == 200
    assert "Er zijn nog geen inwonertallen geladen." in page.text

    wrong = (
        b"gemeentecode;inwoners;jaar;bron\n"
        b"GM0344;367984;2024;CBS StatLine\n"
        b"GM9999;10;2024;CBS StatLine\n"
        b"GM0307;veel;2024;\n"
    )
    response = await upload(portal, wrong, dry_run=False, name="fout.csv")
    assert response.status_code == 400
    assert "fout.csv is niet geladen" in field_error(response.text, "file")
    report = response.text.split("Wat er niet klopt in fout.csv")[-1].split("</table>")[0]
    rows = re.findall(
        r'<td class="utrecht-table__cell">([^<]*)</td>\s*'
        r'<td class="utrecht-table__cell">([^<]*)</td>\s*'
        r'<td class="utrecht-table__cell">([^<]*)</td>',
        report,
    )
    assert rows == [
        ("3", "Gemeentecode", "Er is geen gemeente met deze code."),
        ("4", "Inwoners", "Vul een getal in."),
        ("4", "Bron", "Vul dit veld in."),
    ]
    assert "checked" not in response.text.split('id="f-dryRun"')[1].split(">")[0]
    figures = await registry.get("/v1/population-figures", headers=operator_headers(issuer))
    assert figures.json()["total"] == 0

    good = b"code,inhabitants,year,source\nGM0344,367984,2024,CBS StatLine\n"
    checked = await upload(portal, good, dry_run=True)
    assert checked.status_code == 200
    assert "cbs.csv gecontroleerd: alle 1 rijen zijn in orde" in checked.text
    assert "Er zijn nog geen inwonertallen geladen." in checked.text
    stored = await upload(portal, good, dry_run=False)
    assert stored.status_code == 200
    assert "cbs.csv geladen: 1 inwonertallen opgeslagen" in stored.text
    assert "2024, CBS StatLine: 1 gemeenten" in stored.text
    loaded = stored.text.split("Inwonertallen per gemeente en jaar")[-1]
    assert "Gemeente Utrecht" in loaded
    assert "367.984" in loaded


async def test_population_upload_problems_and_access(
    portal: Portal, registry: httpx.AsyncClient, issuer: TestIssuer
) -> None:
    await seed(registry, issuer)
    await portal.login(**OPERATOR)
    html = (await portal.client.get("/operator/population")).text
    missing = await portal.client.post(
        "/operator/population",
        data={"csrf": csrf_of(html), "form_id": form_id_of(html), "dryRun": "on"},
    )
    assert missing.status_code == 400
    assert field_error(missing.text, "file") == "Kies een CSV-bestand."
    assert 'id="f-dryRun" name="dryRun" type="checkbox" checked' in missing.text
    latin = "code;inhabitants;year;source\nGM0344;5;2024;Gemeente Súdwest\n".encode("latin-1")
    response = await upload(portal, latin, dry_run=True)
    assert response.status_code == 400
    assert "Sla het op als CSV UTF-8." in response.text
    no_csrf = await portal.client.post(
        "/operator/population", files={"file": ("a.csv", b"x", "text/csv")}
    )
    assert no_csrf.status_code == 400

    await portal.login(**UTRECHT)
    assert (await portal.client.get("/operator/population")).status_code == 403
    html = (await portal.client.get("/initiatives")).text
    refused = await portal.client.post(
        "/operator/population",
        data={"csrf": csrf_of(html)},
        files={"file": ("a.csv", b"code,inhabitants,year,source\n", "text/csv")},
    )
    assert refused.status_code == 403
