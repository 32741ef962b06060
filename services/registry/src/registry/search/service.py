"""Full-text search over facilities and offerings, one interface over two engines.

PostgreSQL: weighted Dutch tsvectors (``websearch_to_tsquery``, stemming, ``ts_rank``)
in one narrow table behind a GIN index (migration 0009). SQLite: FTS5 tables kept by
triggers, each word the prefix of its Dutch stem (``bm25`` ranking, names weigh 10x).
The words mean the same on both (terms.py); few matches bring a second, typo-tolerant
search (repository.py).
"""

from __future__ import annotations

import uuid
from operator import itemgetter
from typing import Any

from pydantic_core import to_json

from servicekit.db import Database
from servicekit.responses import PageBody

from . import repository
from .schemas import SearchQuery


def _uuid(value: Any) -> uuid.UUID:
    # asyncpg gives UUID objects, SQLite (a raw text() statement) the stored hex text.
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


async def search(database: Database, query: SearchQuery) -> PageBody:
    """The page of hits, the total and the facets, as the JSON of :class:`SearchResults`.

    Written from the rows without building a model per hit and facet (models and their
    validation would cost more than the query); the values come from the
    database as the schema describes them, and pydantic's own serializer writes them, so
    the JSON is what the models would give (tests/registry/test_search.py checks every
    answer against ``SearchResults``)."""
    result = await repository.run(database, query)
    if result is None:
        return PageBody(items=b"[]", total=0, extra=_facets_member(_no_facets()))
    hits: list[tuple[int, dict[str, Any]]] = []
    total = 0
    facets = _no_facets()
    for row in result:
        row_kind = row["row_kind"]
        if row_kind == "hit":
            hit = {
                "type": row["type"],
                "id": _uuid(row["id"]),
                "name": row["name"],
                "facilityId": _uuid(row["facility_id"]),
                "kind": row["kind"],
                "theme": row["theme"],
                "stage": row["stage"],
                "score": round(float(row["score"]), 6),
            }
            hits.append((int(row["position"]), hit))
        elif row_kind == "total":
            total = int(row["n"])
        else:
            facets[row_kind].append({"value": row["value"], "count": int(row["n"])})
    hits.sort(key=itemgetter(0))
    for counts in facets.values():
        counts.sort(key=_facet_order)
    return PageBody(
        items=to_json([hit for _, hit in hits]), total=total, extra=_facets_member(facets)
    )


def _no_facets() -> dict[str, list[dict[str, Any]]]:
    return {"type": [], "kind": [], "theme": []}


def _facet_order(count: dict[str, Any]) -> tuple[int, str]:
    return -count["count"], count["value"]


def _facets_member(facets: dict[str, list[dict[str, Any]]]) -> bytes:
    return b',"facets":' + to_json(facets)
