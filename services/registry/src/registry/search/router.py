"""HTTP for /v1/search."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Response

from servicekit.auth import ANONYMOUS_ALLOWED
from servicekit.http import json_router
from servicekit.pagination import PageDep

from ..auth import PublicReader
from ..common import CachedPagesDep
from ..facilities.schemas import Kind
from . import service
from .schemas import ResultType, SearchQuery, SearchResults

router = json_router("search")


@router.get(
    "/v1/search",
    openapi_extra=ANONYMOUS_ALLOWED,
    operation_id="search",
    summary="Full-text search over facilities and offerings, with facet counts",
    description="Names weigh more than descriptions. Every word must occur, in any of its "
    "Dutch word forms (`netwerken` finds GGI-Netwerk); `OR` between words gives "
    "alternatives (`glasvezel OR telefonie`; it binds looser than the implied AND); "
    '`-word` leaves out what contains the word; `"two words"` must occur as a phrase. '
    "When the words as typed find fewer than three matches, words close to indexed words "
    "are searched as those too (`telefnie` finds telefonie), ranked after the matches as "
    "typed. Readable without a token.",
    response_model=SearchResults,
)
async def search(
    pages: CachedPagesDep,
    _principal: PublicReader,
    params: PageDep,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=200,
            description='Search words: `word`, `a OR b`, `-word`, `"a phrase"`',
            examples=["telefonie -mobiel", "glasvezel OR netwerken"],
        ),
    ],
    type: Annotated[ResultType | None, Query(description="Only this kind of result")] = None,
    kind: Annotated[Kind | None, Query(description="Facility kind")] = None,
    theme: Annotated[str | None, Query(max_length=100, description="Facility theme")] = None,
) -> Response:
    query = SearchQuery(
        q=q,
        type=type,
        kind=kind,
        theme=theme.lower() if theme else None,
        offset=params.offset,
        limit=params.page_size,
    )
    return await pages.answer(
        ("search", query), params, lambda: service.search(pages.database, query)
    )
