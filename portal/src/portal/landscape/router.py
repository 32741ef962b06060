"""Municipal staff: our landscape of offerings and their integrations."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from ..web.access import require_person
from ..web.templating import render, session_of
from . import service

router = APIRouter()


@router.get("/municipality/landscape")
async def landscape(request: Request) -> Response:
    require_person(request, "municipality", "registry-editor")
    data = await service.landscape(request.app.state.api, session_of(request))
    return render(request, "landscape/landscape.html", data)
