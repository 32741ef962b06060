"""HTTP for the notice alerts of a usage."""

from __future__ import annotations

from servicekit.http import json_router
from servicekit.routes import Routes

from ..auth import Reader
from ..common import UsageId
from ..contracts import ContractViewDep
from . import service
from .schemas import NoticeAlertOut

router = json_router("usages")


Routes(router, "/v1/usages/{usageId}/notice-alerts", NoticeAlertOut, UsageId, readers=Reader).page(
    service.alerts,
    "listNoticeAlerts",
    "Which notice-deadline announcements (180, 90, 30 days before) a usage had",
    view=ContractViewDep,
    description="Each is also a `nl.samen.registry.usage.notice-deadline-approaching` event "
    "on the change feed (and to webhooks). For the municipality's own staff, the operator "
    "and callers with `registry:contracts` (403 for others).",
)
