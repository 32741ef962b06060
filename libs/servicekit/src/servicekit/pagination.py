"""Page-based pagination with ``_links`` (self, next, prev) and a total."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Any, Generic, TypeVar
from urllib.parse import urlencode

from fastapi import Depends, Query, Request
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

    def window(self, items: Sequence[T]) -> Sequence[T]:
        """This page's part of a list computed whole."""
        return items[self.offset : self.offset + self.page_size]


async def page_params(
    page: Annotated[int, Query(ge=1, le=1_000_000, description="Page number, from 1")] = 1,
    page_size: Annotated[
        int,
        Query(alias="pageSize", ge=1, le=MAX_PAGE_SIZE, description="Items per page"),
    ] = DEFAULT_PAGE_SIZE,
) -> PageParams:
    return PageParams(page=page, page_size=page_size)


PageDep = Annotated[PageParams, Depends(page_params)]


def _href_factory(request: Request) -> Any:
    """Builds page links: the request's path and its other query parameters (encoded
    once), then ``page`` and ``pageSize``."""
    # What request.url.path gives, without building and parsing the whole URL.
    path = request.scope["path"].replace("?", "%3F").replace("#", "%23").replace("\\", "%5C")
    kept = urlencode(
        [(k, v) for k, v in request.query_params.items() if k not in ("page", "pageSize")]
    )
    prefix = f"{path}?{kept}&" if kept else f"{path}?"

    def href(page: int, page_size: int) -> str:
        return f"{prefix}page={page}&pageSize={page_size}"

    return href


def make_page(request: Request, items: list[Any], total: int, params: PageParams) -> dict[str, Any]:
    """Build the page body; hrefs are absolute paths (the gateway rewrites prefixes)."""
    last = max(1, math.ceil(total / params.page_size))
    href = _href_factory(request)
    size = params.page_size
    links: dict[str, dict[str, str]] = {
        "self": {"href": href(params.page, size)},
        "first": {"href": href(1, size)},
        "last": {"href": href(last, size)},
    }
    if params.page < last:
        links["next"] = {"href": href(params.page + 1, size)}
    if params.page > 1:
        links["prev"] = {"href": href(params.page - 1, size)}
    return {
        "items": items,
        "total": total,
        "page": params.page,
        "pageSize": params.page_size,
        "_links": links,
    }
