"""Page-based pagination with ``_links`` (self, next, prev) and a total."""

from __future__ import annotations

import math
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query, Request
from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


class Link(BaseModel):
    href: str


class PageLinks(BaseModel):
    self: Link
    next: Link | None = None
    prev: Link | None = None
    first: Link | None = None
    last: Link | None = None


class Page(BaseModel, Generic[T]):
    """One page of a collection."""

    model_config = ConfigDict(populate_by_name=True)

    items: list[T]
    total: int = Field(description="Number of items in the whole (filtered) collection")
    page: int
    page_size: int = Field(alias="pageSize")
    links: PageLinks = Field(alias="_links")


class PageParams(BaseModel):
    page: int
    page_size: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


def page_params(
    page: Annotated[int, Query(ge=1, le=1_000_000, description="Page number, from 1")] = 1,
    page_size: Annotated[
        int,
        Query(alias="pageSize", ge=1, le=MAX_PAGE_SIZE, description="Items per page"),
    ] = DEFAULT_PAGE_SIZE,
) -> PageParams:
    return PageParams(page=page, page_size=page_size)


def _href(request: Request, page: int, page_size: int) -> Link:
    params: dict[str, Any] = {
        k: v for k, v in request.query_params.items() if k not in ("page", "pageSize")
    }
    params["page"] = str(page)
    params["pageSize"] = str(page_size)
    url = request.url.replace(query=None).include_query_params(**params)
    query = url.query
    return Link(href=f"{url.path}?{query}" if query else url.path)


def make_page(request: Request, items: list[Any], total: int, params: PageParams) -> dict[str, Any]:
    """Build the page body; hrefs are absolute paths (the gateway rewrites prefixes)."""
    last = max(1, math.ceil(total / params.page_size))
    links: dict[str, Link | None] = {
        "self": _href(request, params.page, params.page_size),
        "first": _href(request, 1, params.page_size),
        "last": _href(request, last, params.page_size),
        "next": _href(request, params.page + 1, params.page_size) if params.page < last else None,
        "prev": _href(request, params.page - 1, params.page_size) if params.page > 1 else None,
    }
    return {
        "items": items,
        "total": total,
        "page": params.page,
        "pageSize": params.page_size,
        "_links": {k: v.model_dump() for k, v in links.items() if v is not None},
    }
