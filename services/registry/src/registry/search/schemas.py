"""API schemas of the search."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from servicekit.pagination import PageLinks
from servicekit.schemas import ApiOutModel

ResultType = Literal["facility", "offering"]


class SearchHit(ApiOutModel):
    type: ResultType
    id: uuid.UUID
    name: str
    facility_id: uuid.UUID = Field(description="The facility itself, or the offering's facility")
    kind: str
    theme: str
    stage: str
    score: float = Field(description="Relevance; higher is better (engine-specific scale)")


class FacetCount(ApiOutModel):
    value: str
    count: int


class Facets(ApiOutModel):
    type: list[FacetCount]
    kind: list[FacetCount]
    theme: list[FacetCount]


class SearchResults(ApiOutModel):
    """One page of hits, best first, with facet counts over all matches of ``q``
    (before the type/kind/theme filters, so a client can show what each would give)."""

    items: list[SearchHit]
    total: int
    page: int
    page_size: int = Field(alias="pageSize")
    links: PageLinks = Field(alias="_links")
    facets: Facets


@dataclass(frozen=True)
class SearchQuery:
    q: str
    type: str | None = None
    kind: str | None = None
    theme: str | None = None
    offset: int = 0
    limit: int = 20
