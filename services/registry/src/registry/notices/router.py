"""HTTP for the notice alerts of a usage."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Path, Request, Response

from servicekit.db import SessionDep
from servicekit.http import json_router
from servicekit.pagination import Page, PageDep
from servicekit.responses import listed_response

from ..auth import Reader
from ..contracts import ContractViewDep
from . import service
from .schemas import NoticeAlertOut

router = json_router("usages")


@router.get(
    "/v1/usages/{usageId}/notice-alerts",
    operation_id="listNoticeAlerts",
    summary="Which notice-deadline announcements (180, 90, 30 days before) a usage had",
    description="Each is also a `nl.samen.registry.usage.notice-deadline-approaching` event "
    "on the change feed (and to webhooks). For the municipality's own staff, the operator "
    "and callers with `registry:contracts` (403 for others).",
    response_model=Page[NoticeAlertOut],
)
async def list_alerts(
    request: Request,
    session: SessionDep,
    _principal: Reader,
    view: ContractViewDep,
    usage_id: Annotated[uuid.UUID, Path(alias="usageId")],
    params: PageDep,
) -> Response:
    items = await service.alerts(session, usage_id, view)
    return listed_response(request, items, params)
