"""The search statements: PostgreSQL full text over the narrow search table, SQLite FTS5;
one statement gives the page, the total and the facets."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Protocol

from sqlalchemy import TextClause, text

from servicekit.db import Database

from .schemas import SearchQuery

MAX_TERMS = 12


_WORD = re.compile(r"\w+", re.UNICODE)


class SearchEngine(Protocol):
    """What each database's full-text search provides (an interface: the engines below
    implement it)."""

    def matches_sql(self) -> str:
        """Common table expressions, the last one ``matches``: every match with its score."""

    def counts_sql(self, conditions: list[str]) -> str:
        """``UNION ALL`` rows of the total (matches meeting ``conditions``) and the facet
        counts (over all matches), in the statement's columns."""

    def params(self, q: str) -> dict[str, Any] | None:
        """The bound parameters for the words ``q``, or None when nothing can match."""


class PostgresSearch:
    """Weighted Dutch tsvectors in ``search_entries`` (migration 0009: one narrow row per
    facility and offering, with the facility's kind, theme and stage, kept by triggers)
    behind a GIN index."""

    def matches_sql(self) -> str:
        # The words are parsed once, in a CTE the planner cannot see into: the plan then
        # does not depend on the words searched, so PostgreSQL keeps one generic plan of
        # the prepared statement instead of planning every search anew.
        return """
        query AS MATERIALIZED (SELECT websearch_to_tsquery('dutch'::regconfig, :q) AS q),
        matches AS MATERIALIZED (
        SELECT e.type, e.id, e.name, e.facility_id, e.kind, e.theme, e.stage,
               ts_rank(e.search_vector, query.q) AS score
          FROM query, search_entries e
         WHERE e.search_vector @@ query.q
        )
        """

    def counts_sql(self, conditions: list[str]) -> str:
        # One pass over the matches for all facets and the total (grouping sets); the
        # total alone honours the filters.
        total = f"count(*) FILTER (WHERE {' AND '.join(conditions)})" if conditions else "count(*)"
        return f"""
        UNION ALL
        SELECT CASE WHEN GROUPING(type) = 0 THEN 'type' WHEN GROUPING(kind) = 0 THEN 'kind'
                    WHEN GROUPING(theme) = 0 THEN 'theme' ELSE 'total' END,
               0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, COALESCE(type, kind, theme),
               CASE WHEN GROUPING(type, kind, theme) = 7 THEN {total} ELSE count(*) END
          FROM matches GROUP BY GROUPING SETS ((type), (kind), (theme), ())
        """  # noqa: S608 - conditions compare fixed columns with bound parameters

    def params(self, q: str) -> dict[str, Any] | None:
        return {"q": q}


class SqliteSearch:
    def matches_sql(self) -> str:
        return """
        matches AS MATERIALIZED (
        SELECT 'facility' AS type, f.id AS id, f.name AS name, f.id AS facility_id,
               f.kind AS kind, f.theme AS theme, f.stage AS stage,
               -bm25(facilities_fts, 0.0, 10.0, 1.0) AS score
          FROM facilities_fts JOIN facilities f ON f.id = facilities_fts.entity_id
         WHERE facilities_fts MATCH :match
        UNION ALL
        SELECT 'offering', o.id, o.name, o.facility_id, f.kind, f.theme, f.stage,
               -bm25(offerings_fts, 0.0, 10.0, 1.0)
          FROM offerings_fts JOIN offerings o ON o.id = offerings_fts.entity_id
          JOIN facilities f ON f.id = o.facility_id
         WHERE offerings_fts MATCH :match
        )
        """

    def counts_sql(self, conditions: list[str]) -> str:
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        return f"""
        UNION ALL SELECT 'total', 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, count(*)
          FROM matches {where}
        UNION ALL SELECT 'type', 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, type, count(*)
          FROM matches GROUP BY type
        UNION ALL SELECT 'kind', 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, kind, count(*)
          FROM matches GROUP BY kind
        UNION ALL SELECT 'theme', 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, theme, count(*)
          FROM matches GROUP BY theme
        """  # noqa: S608

    def params(self, q: str) -> dict[str, Any] | None:
        # Only word characters reach FTS5, each a quoted prefix term: user input can never
        # form FTS5 syntax (column filters, NEAR, operators).
        words = _WORD.findall(q)[:MAX_TERMS]
        if not words:
            return None
        terms = " ".join(f'"{w}"*' for w in words)
        return {"match": f"{{name body}} : ({terms})"}


def engine_for(database: Database) -> SearchEngine:
    return PostgresSearch() if database.engine.dialect.name == "postgresql" else SqliteSearch()


@lru_cache(maxsize=32)
def _statement(engine: type[SearchEngine], filters: tuple[str, ...]) -> TextClause:
    """One statement: the matches are computed (and ranked) once, then paged, counted and
    faceted. The page is the top of the matches (a top-N sort, not a sort of every match);
    its rows carry their position, as UNION ALL does not keep order.

    Assembled from constant fragments and column names from a fixed list (``filters``
    are among type, kind, theme); every user-supplied value is a bound parameter. Built
    once per engine and filter set, so it is compiled (and prepared) once."""
    conditions = [f"{column} = :f_{column}" for column in filters]
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    return text(
        f"""
        WITH {engine().matches_sql()},
        page AS (
            SELECT * FROM matches {where}
             ORDER BY score DESC, name, id LIMIT :limit OFFSET :offset
        )
        SELECT 'hit' AS row_kind, row_number() OVER (ORDER BY score DESC, name, id) AS position,
               type, id, name, facility_id, kind, theme, stage, score, NULL AS value, 0 AS n
          FROM page
        {engine().counts_sql(conditions)}
        """  # noqa: S608
    )


async def run(database: Database, query: SearchQuery) -> Sequence[Any] | None:
    """The rows of one search (hits, the total and facet counts, told apart by
    ``row_kind``), or None when the words hold nothing to search for."""
    engine = engine_for(database)
    params = engine.params(query.q)
    if params is None:
        return None
    values = dict(params)
    filters = tuple(c for c in ("type", "kind", "theme") if getattr(query, c) is not None)
    for column in filters:
        values[f"f_{column}"] = getattr(query, column)
    return await database.fetch(
        _statement(type(engine), filters), {**values, "limit": query.limit, "offset": query.offset}
    )
