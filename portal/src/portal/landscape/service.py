"""A municipality's landscape: the offerings it uses and the integrations between them."""

from __future__ import annotations

from typing import Any

from ..api import Api
from ..catalogue.service import REGISTRY
from ..municipality.service import my_organisation
from ..sessions.service import Session


async def landscape(api: Api, session: Session) -> dict[str, Any]:
    organisation = await my_organisation(api, session)
    data: dict[str, Any] = await api.get(
        f"{REGISTRY}/organisations/{organisation['id']}/landscape", session=session
    )
    offerings = {o["offeringId"]: o["offeringName"] for o in data["offerings"]}
    return {"organisation": organisation, "landscape": data, "offering_names": offerings}
