"""Municipal staff import their usages from CSV (pasted or uploaded): a check first, the
registry's problems per line and column shown with the text kept, the import with an
Idempotency-Key; and the registry's exports downloaded through the portal."""

from __future__ import annotations

from typing import Any

from conftest import Portal
from fastapi.responses import Response
from test_errors import UTRECHT, csrf_of, form_id_of, script_registry

IMPORTS = "/api/registry/v1/organisations/m-1/usage-imports"
GOOD = "facilityId,status,contractEndDate\r\nggi-netwerk,active,2027-12-31\r\n"
BAD = "facilityId,status,contractEndDate\r\nggi-netwerk,paused,2027-02-30\r\n"
PROBLEM = {
    "type": "https://samen.example.nl/problems/bad-request",
    "title": "Bad Request",
    "status": 400,
    "detail": "1 row(s) are invalid; nothing was stored.",
    "invalidParams": [
        {"name": "rows[2].status", "reason": "Input should be 'planned', 'active' or 'ended'"},
        {"name": "rows[2].contractEndDate", "reason": "Input should be a valid date"},
    ],
}


async def _post(portal: Portal, data: dict[str, str], files: Any = None) -> Any:
    page = await portal.client.get("/municipality/usages/import")
    assert page.status_code == 200, page.text
    fields = {"csrf": csrf_of(page.text), "form_id": form_id_of(page.text), **data}
    return await portal.client.post("/municipality/usages/import", data=fields, files=files)


async def test_check_then_import(portal: Portal) -> None:
    await portal.login(**UTRECHT)
    script_registry(portal)
    portal.fake.json("POST", IMPORTS, {"dryRun": True, "rowCount": 1, "usages": []})
    checked = await _post(portal, {"csv": GOOD, "action": "check"})
    assert checked.status_code == 200, checked.text
    assert "Alle 1 regels kloppen" in checked.text
    assert "ggi-netwerk,active,2027-12-31" in checked.text  # the text stays in the form
    ((method, _path, headers, body),) = portal.fake.api_calls(IMPORTS)
    assert (method, headers["content-type"], body) == ("POST", "text/csv", GOOD.encode())
    assert "idempotency-key" not in headers
    assert portal.fake.calls[-1][1] == IMPORTS
    portal.fake.json("POST", IMPORTS, {"dryRun": False, "rowCount": 1, "usages": []}, status=201)
    done = await _post(portal, {"csv": GOOD, "action": "import"})
    assert done.status_code == 303
    assert done.headers["location"] == "/municipality/usages"
    sent = portal.fake.api_calls(IMPORTS)[-1]
    assert sent[2]["idempotency-key"]
    page = await portal.client.get("/municipality/usages")
    assert "Het gebruik is geïmporteerd." in page.text
    for link in (
        "/municipality/usages/import",
        "/municipality/downloads/usages.csv",
        "/municipality/downloads/landscape.xml",
        "/municipality/downloads/offerings.csv",
    ):
        assert f'href="{link}"' in page.text  # fmt: skip


async def test_problems_per_line_and_column_with_the_text_kept(portal: Portal) -> None:
    await portal.login(**UTRECHT)
    script_registry(portal)
    portal.fake.json("POST", IMPORTS, PROBLEM, status=400)
    await portal.client.get("/language", params={"lang": "en"})
    shown = await _post(
        portal,
        {"csv": "ignored", "action": "import"},
        files={"file": ("usages.csv", BAD.encode("utf-8-sig"), "text/csv")},
    )
    assert shown.status_code == 400
    report = shown.text.split('id="import-report"')[1].split("</table>")[0]
    assert report.count("<tr") == 3
    assert '<td class="utrecht-table__cell">2</td>' in report
    assert "<code>status</code>" in report
    assert "<code>contractEndDate</code>" in report
    assert "Problems in the file: 2, in 1 row(s). Nothing was stored." in shown.text
    assert "Use one of these values: planned, active, ended." in report
    assert "write yyyy-mm-dd" in report
    assert "ggi-netwerk,paused,2027-02-30" in shown.text  # the uploaded file, kept as text
    assert portal.fake.api_calls(IMPORTS)[-1][3] == BAD.encode()
    # Nothing to send, or a file that is not UTF-8: a message next to the field, no call.
    calls = len(portal.fake.api_calls(IMPORTS))
    empty = await _post(portal, {"csv": "  ", "action": "check"})
    assert empty.status_code == 400
    assert 'id="f-csv-error"' in empty.text
    # The summary above the form names the field of its message.
    summary = empty.text.split('role="alert"')[1].split("</ul>")[0]
    assert '<a class="utrecht-link" href="#f-csv">Contents of the CSV file: ' in summary
    latin = await _post(portal, {"csv": "", "action": "check"},
                        files={"file": ("u.csv", "é".encode("latin-1"), "text/csv")})  # fmt: skip
    assert latin.status_code == 400
    assert 'id="f-file-error"' in latin.text
    assert 'href="#f-file">Or choose a file: ' in latin.text
    assert len(portal.fake.api_calls(IMPORTS)) == calls


async def test_downloads_come_through_the_portal(portal: Portal) -> None:
    await portal.login(**UTRECHT)
    script_registry(portal)
    portal.fake.on(
        "GET",
        "/api/registry/v1/exports/usages.csv",
        lambda _r, _b: Response("id,status\r\n1,active\r\n", media_type="text/csv"),
    )
    portal.fake.on(
        "GET",
        "/api/registry/v1/organisations/m-1/landscape.xml",
        lambda _r, _b: Response("<model/>", media_type="application/xml"),
    )
    csv = await portal.client.get("/municipality/downloads/usages.csv")
    assert csv.status_code == 200
    assert csv.text == "id,status\r\n1,active\r\n"
    assert csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="usages-GM0344-' in csv.headers["content-disposition"]
    ((_m, _p, headers, _b),) = portal.fake.api_calls("/api/registry/v1/exports/usages.csv")
    assert headers["accept"] == "text/csv"
    xml = await portal.client.get("/municipality/downloads/landscape.xml")
    assert xml.text == "<model/>"
    assert xml.headers["content-type"] == "application/xml; charset=utf-8"
    assert (await portal.client.get("/municipality/downloads/secrets.txt")).status_code == 404
