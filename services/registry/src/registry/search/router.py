"""HTTP for /v1/search."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from servicekit.auth import ANONYMOUS_ALLOWED
from servicekit.db import DatabaseDep
from servicekit.http import accept_json
from servicekit.pagination import PageDep
from servicekit.responses import page_body_response

from ..auth import PublicReader
from ..facilities.schemas import Kind
from ..readcache import ReadCacheDep
from . import service
from .schemas import ResultType, SearchQuery, SearchResults

router = APIRouter(tags=["search"], dependencies=[Depends(accept_json)])


@router.get(
    "/v1/search",
    openapi_extra=ANONYMOUS_ALLOWED,
    operation_id="search",
    summary="Full-text search over facilities and offerings, with facet counts",
    response_model=SearchResults,
)
async def search(
    request: Request,
    database: DatabaseDep,
    cache: ReadCacheDep,
    _principal: PublicReader,
    params: PageDep,
    q: Annotated[str, Query(min_length=1, max_length=200, description="Search words")],
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

    body = await cache.get(database, ("search", query), lambda: service.search(database, query))
    return page_body_response(request, body, params)
