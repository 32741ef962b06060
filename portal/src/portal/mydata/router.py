"""My data: the disclosure log in plain language."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from ..api import Api
from ..web.access import require_person
from ..web.i18n import Translator, language_of
from ..web.templating import render, session_of
from . import service

router = APIRouter(prefix="/mydata")


@router.get("")
async def my_data(request: Request) -> Response:
    require_person(request)
    api: Api = request.app.state.api
    t = Translator(language_of(request))
    rows = [
        {
            "client": row.get("clientName") or row.get("clientId", ""),
            "at": row.get("at"),
            "channel": t.value("mydata.channel", str(row.get("channel", ""))),
            # claim names become words people know; an unknown claim shows as it is
            "attributes": [t.value("attribute", str(a)) for a in row.get("attributes", [])],
        }
        for row in await service.disclosures(api, session_of(request))
    ]
    return render(request, "mydata/disclosures.html", {"rows": rows})
