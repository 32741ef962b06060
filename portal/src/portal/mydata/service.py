"""My data: identity's disclosure log of the logged-in person."""

from __future__ import annotations

from typing import Any

from ..api import Api
from ..catalogue.service import all_items
from ..sessions.service import Session

DISCLOSURES = "/api/identity/v1/me/disclosures"


async def disclosures(api: Api, session: Session) -> list[Any]:
    """Newest first: the log answers per person, as that person (their own token)."""
    rows = await all_items(api, DISCLOSURES, None, session)
    return sorted(rows, key=lambda row: str(row.get("at", "")), reverse=True)
