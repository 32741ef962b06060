"""Full-text search over facilities and offerings, one interface over two engines.

PostgreSQL: weighted Dutch tsvectors (``websearch_to_tsquery``, stemming, ``ts_rank``)
in one narrow table behind a GIN index (migration 0009). SQLite: FTS5 tables kept by
triggers, each word the prefix of its Dutch stem (``bm25`` ranking, names weigh 10x).
The words mean the same on both (terms.py); few matches bring a second, typo-tolerant
search (repository.py).
"""

from __future__ import annotations

from servicekit.db import Database
from servicekit.responses import PageBody

from . import repository
from .schemas import SearchQuery


async def search(database: Database, query: SearchQuery) -> PageBody:
    """The page of hits, the total and the facets, as the JSON of :class:`SearchResults`.

    Written without building a model per hit and facet (models and their validation
    would cost more than the query): PostgreSQL writes the JSON itself, SQLite's rows go
    through pydantic's serializer; tests/registry/test_search_api.py checks every answer
    against ``SearchResults``."""
    body = await repository.run(database, query)
    if body is None:
        return PageBody(
            items=b"[]", total=0, extra=repository.facets_member(repository.no_facets())
        )
    return body
