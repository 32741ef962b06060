"""The search statements: PostgreSQL full text over the narrow search table, SQLite FTS5;
one statement gives the page, the total and the facets.

When the search finds fewer than :data:`FEW` matches, the words are looked up in the
vocabulary of indexed words (PostgreSQL: ``search_words`` by trigram similarity, migration
0016; SQLite: the FTS5 vocabulary by edit distance) and, if some are close, searched once
more with those as alternatives; what the words matched as typed ranks first. A search
that finds enough costs nothing more."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from functools import lru_cache
from operator import itemgetter
from typing import Any, Protocol

from pydantic_core import to_json
from sqlalchemy import TextClause, text

from servicekit.db import Database
from servicekit.responses import PageBody

from . import terms
from .schemas import SearchQuery
from .terms import Clause, Corrections

# Fewer matches than this and the typo-tolerant search is tried.
FEW = 3
# Corrections per word at most.
ALTERNATIVES = 3
# An exact match's score is raised by this in the typo-tolerant search, above any
# match through a correction (ts_rank and the negated bm25 stay well below it).
EXACT_BONUS = 1000.0


class SearchEngine(Protocol):
    """What each database's full-text search provides (an interface: the engines below
    implement it)."""

    def matches_sql(self, fuzzy: bool) -> str:
        """Common table expressions, the last one ``matches``: every match with its score
        (``fuzzy``: of the search with corrections, exact matches first)."""

    def statement(self, fuzzy: bool, conditions: list[str]) -> str:
        """The whole statement: the page of matches meeting ``conditions`` (bound
        ``:limit`` and ``:offset``), their total, and the facets over all matches."""

    def total(self, rows: Sequence[Any]) -> int:
        """The total of the statement's rows."""

    def body(self, rows: Sequence[Any]) -> PageBody:
        """The statement's rows as the JSON of :class:`SearchResults` (items, total and
        the ``facets`` member)."""

    def params(self, q: str) -> dict[str, Any] | None:
        """The bound parameters for the words ``q``, or None when nothing can match."""

    def fuzzy_params(
        self, q: str, clauses: tuple[Clause, ...], corrections: Corrections
    ) -> dict[str, Any]:
        """The bound parameters of the search with corrections."""

    async def corrections(self, database: Database, words: list[str]) -> dict[str, list[str]]:
        """Indexed words close to each of ``words`` (not the word itself), closest first."""


class PostgresSearch:
    """Weighted Dutch tsvectors in ``search_entries`` (migration 0009: one narrow row per
    facility and offering, with the facility's kind, theme and stage, kept by triggers)
    behind a GIN index."""

    def matches_sql(self, fuzzy: bool) -> str:
        # The words are parsed once, in a CTE the planner cannot see into: the plan then
        # does not depend on the words searched, so PostgreSQL keeps one generic plan of
        # the prepared statement instead of planning every search anew.
        if fuzzy:
            return f"""
        query AS MATERIALIZED (
            SELECT to_tsquery('dutch'::regconfig, :q) AS q,
                   websearch_to_tsquery('dutch'::regconfig, :exact) AS exact
        ),
        matches AS MATERIALIZED (
        SELECT e.type, e.id, e.name, e.facility_id, e.kind, e.theme, e.stage,
               ts_rank(e.search_vector, query.q)
               + CASE WHEN e.search_vector @@ query.exact THEN {EXACT_BONUS} ELSE 0 END AS score
          FROM query, search_entries e
         WHERE e.search_vector @@ query.q
        )
        """  # noqa: S608 - a constant
        return """
        query AS MATERIALIZED (SELECT websearch_to_tsquery('dutch'::regconfig, :q) AS q),
        matches AS MATERIALIZED (
        SELECT e.type, e.id, e.name, e.facility_id, e.kind, e.theme, e.stage,
               ts_rank(e.search_vector, query.q) AS score
          FROM query, search_entries e
         WHERE e.search_vector @@ query.q
        )
        """

    def statement(self, fuzzy: bool, conditions: list[str]) -> str:
        # The page's JSON and the facets' are written here, by the database, byte for byte
        # as pydantic writes them (compact, members in the schema's order, the score
        # rounded to 6 decimals as a float prints, facets by count then value in
        # code-point order): the server passes one row on instead of decoding and
        # serialising every hit. One pass over the matches for all facets
        # and the total (grouping sets); the total alone honours the filters.
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        total = f"count(*) FILTER (WHERE {' AND '.join(conditions)})" if conditions else "count(*)"
        facets = " || ".join(
            f"""'{"," if i else ""}"{facet}":[' || COALESCE(string_agg(
                '{{"value":' || to_json(value)::text || ',"count":' || n || '}}', ','
                ORDER BY n DESC, value COLLATE "C") FILTER (WHERE facet = '{facet}'), '') || ']'"""
            for i, facet in enumerate(("type", "kind", "theme"))
        )
        return f"""
        WITH {self.matches_sql(fuzzy)},
        page AS (
            SELECT * FROM matches {where}
             ORDER BY score DESC, name, id LIMIT :limit OFFSET :offset
        ),
        counts AS (
            SELECT CASE WHEN GROUPING(type) = 0 THEN 'type' WHEN GROUPING(kind) = 0 THEN 'kind'
                        WHEN GROUPING(theme) = 0 THEN 'theme' ELSE 'total' END AS facet,
                   COALESCE(type, kind, theme) AS value,
                   CASE WHEN GROUPING(type, kind, theme) = 7 THEN {total} ELSE count(*) END AS n
              FROM matches GROUP BY GROUPING SETS ((type), (kind), (theme), ())
        )
        SELECT (SELECT '[' || COALESCE(string_agg(
                    '{{"type":' || to_json(type)::text || ',"id":"' || id::text
                    || '","name":' || to_json(name)::text
                    || ',"facilityId":"' || facility_id::text
                    || '","kind":' || to_json(kind)::text || ',"theme":' || to_json(theme)::text
                    || ',"stage":' || to_json(stage)::text
                    || ',"score":' || CASE WHEN shown LIKE '%.' THEN shown || '0'
                                           WHEN shown LIKE '0.00000_' THEN right(shown, 1) || 'e-6'
                                           ELSE shown END
                    || '}}', ',' ORDER BY score DESC, name, id), '') || ']'
                  FROM (SELECT *, rtrim(round(score::float8::numeric, 6)::text, '0') AS shown
                          FROM page) AS page) AS items,
               (SELECT n FROM counts WHERE facet = 'total') AS total,
               (SELECT '{{' || {facets} || '}}' FROM counts) AS facets
        """  # noqa: S608 - conditions compare fixed columns with bound parameters

    def total(self, rows: Sequence[Any]) -> int:
        return int(rows[0]["total"])

    def body(self, rows: Sequence[Any]) -> PageBody:
        row = rows[0]
        return PageBody(
            items=row["items"].encode(),
            total=int(row["total"]),
            extra=b',"facets":' + row["facets"].encode(),
        )

    def params(self, q: str) -> dict[str, Any] | None:
        # PostgreSQL parses the words itself: no parse here unless a correction is looked for.
        return {"q": q}

    def fuzzy_params(
        self, q: str, clauses: tuple[Clause, ...], corrections: Corrections
    ) -> dict[str, Any]:
        return {"q": terms.tsquery_text(clauses, corrections), "exact": q}

    async def corrections(self, database: Database, words: list[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for row in await database.fetch(_PG_CORRECTIONS, {"words": words}):
            found.setdefault(row["asked"], []).append(row["word"])
        return found


# The vocabulary's words nearest to each asked word by trigram similarity (pg_trgm's
# ``%``, through the trigram index), the word itself excluded.
_PG_CORRECTIONS = text(
    f"""
    SELECT asked.word AS asked, near.word
      FROM unnest(CAST(:words AS text[])) AS asked (word)
     CROSS JOIN LATERAL (
           SELECT s.word FROM search_words s
            WHERE s.word % asked.word AND s.word <> asked.word
            ORDER BY similarity(s.word, asked.word) DESC, s.word
            LIMIT {ALTERNATIVES}) AS near
    """  # noqa: S608 - a constant
)

# Candidate corrections on SQLite: indexed words of a length within reach.
_SQLITE_VOCABULARY = text(
    """
    SELECT term FROM facilities_fts_vocab
     WHERE col IN ('name', 'body') AND length(term) BETWEEN :shortest AND :longest
    UNION
    SELECT term FROM offerings_fts_vocab
     WHERE col IN ('name', 'body') AND length(term) BETWEEN :shortest AND :longest
    """
)


class SqliteSearch:
    def matches_sql(self, fuzzy: bool) -> str:
        def score(table: str) -> str:
            rank = f"-bm25({table}, 0.0, 10.0, 1.0)"
            if not fuzzy:
                return rank
            exact = f"SELECT rowid FROM {table} WHERE {table} MATCH :exact"  # noqa: S608
            return f"{rank} + CASE WHEN {table}.rowid IN ({exact}) THEN {EXACT_BONUS} ELSE 0 END"

        return f"""
        matches AS MATERIALIZED (
        SELECT 'facility' AS type, f.id AS id, f.name AS name, f.id AS facility_id,
               f.kind AS kind, f.theme AS theme, f.stage AS stage,
               {score("facilities_fts")} AS score
          FROM facilities_fts JOIN facilities f ON f.id = facilities_fts.entity_id
         WHERE facilities_fts MATCH :match
        UNION ALL
        SELECT 'offering', o.id, o.name, o.facility_id, f.kind, f.theme, f.stage,
               {score("offerings_fts")}
          FROM offerings_fts JOIN offerings o ON o.id = offerings_fts.entity_id
          JOIN facilities f ON f.id = o.facility_id
         WHERE offerings_fts MATCH :match
        )
        """  # noqa: S608 - constant fragments

    def statement(self, fuzzy: bool, conditions: list[str]) -> str:
        # The page's rows carry their position, as UNION ALL does not keep order.
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        return f"""
        WITH {self.matches_sql(fuzzy)},
        page AS (
            SELECT * FROM matches {where}
             ORDER BY score DESC, name, id LIMIT :limit OFFSET :offset
        )
        SELECT 'hit' AS row_kind, row_number() OVER (ORDER BY score DESC, name, id) AS position,
               type, id, name, facility_id, kind, theme, stage, score, NULL AS value, 0 AS n
          FROM page
        UNION ALL SELECT 'total', 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, count(*)
          FROM matches {where}
        UNION ALL SELECT 'type', 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, type, count(*)
          FROM matches GROUP BY type
        UNION ALL SELECT 'kind', 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, kind, count(*)
          FROM matches GROUP BY kind
        UNION ALL SELECT 'theme', 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, theme, count(*)
          FROM matches GROUP BY theme
        """  # noqa: S608

    def total(self, rows: Sequence[Any]) -> int:
        for row in rows:
            if row["row_kind"] == "total":
                return int(row["n"])
        return 0

    def body(self, rows: Sequence[Any]) -> PageBody:
        # Written from the rows without building a model per hit and facet; pydantic's
        # own serializer writes the values, so the JSON is what the models would give.
        hits: list[tuple[int, dict[str, Any]]] = []
        total = 0
        facets = no_facets()
        for row in rows:
            row_kind = row["row_kind"]
            if row_kind == "hit":
                hit = {
                    "type": row["type"],
                    "id": uuid.UUID(str(row["id"])),
                    "name": row["name"],
                    "facilityId": uuid.UUID(str(row["facility_id"])),
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
            items=to_json([hit for _, hit in hits]), total=total, extra=facets_member(facets)
        )

    def params(self, q: str) -> dict[str, Any] | None:
        # Only word characters reach FTS5, each quoted: user input can never form FTS5
        # syntax (column filters, NEAR); the operators come from terms.parse.
        match = terms.fts5_expression(terms.parse(q))
        return {"match": match} if match else None

    def fuzzy_params(
        self, q: str, clauses: tuple[Clause, ...], corrections: Corrections
    ) -> dict[str, Any]:
        return {
            "match": terms.fts5_expression(clauses, corrections),
            "exact": terms.fts5_expression(clauses),
        }

    async def corrections(self, database: Database, words: list[str]) -> dict[str, list[str]]:
        if not words:
            return {}
        reach = max(terms.typo_limit(w) for w in words)
        bounds = {
            "shortest": min(len(w) for w in words) - reach,
            "longest": max(len(w) for w in words) + reach,
        }
        vocabulary = [row["term"] for row in await database.fetch(_SQLITE_VOCABULARY, bounds)]
        found: dict[str, list[str]] = {}
        for word in words:
            limit = terms.typo_limit(word)
            near = []
            for term in vocabulary:
                if term.startswith(terms.dutch_stem(word)):
                    continue  # the word's own forms: the search found them already
                distance = terms.within_edits(word, term, limit)
                if distance is not None:
                    near.append((distance, term))
            if near:
                found[word] = [term for _, term in sorted(near)[:ALTERNATIVES]]
        return found


def engine_for(database: Database) -> SearchEngine:
    return PostgresSearch() if database.engine.dialect.name == "postgresql" else SqliteSearch()


@lru_cache(maxsize=64)
def _statement(engine: type[SearchEngine], fuzzy: bool, filters: tuple[str, ...]) -> TextClause:
    """One statement: the matches are computed (and ranked) once, then paged, counted and
    faceted. The page is the top of the matches (a top-N sort, not a sort of every match).

    Assembled from constant fragments and column names from a fixed list (``filters``
    are among type, kind, theme); every user-supplied value is a bound parameter. Built
    once per engine and filter set, so it is compiled (and prepared) once."""
    conditions = [f"{column} = :f_{column}" for column in filters]
    return text(engine().statement(fuzzy, conditions))


def no_facets() -> dict[str, list[dict[str, Any]]]:
    return {"type": [], "kind": [], "theme": []}


def facets_member(facets: dict[str, list[dict[str, Any]]]) -> bytes:
    return b',"facets":' + to_json(facets)


def _facet_order(count: dict[str, Any]) -> tuple[int, str]:
    return -count["count"], count["value"]


async def run(database: Database, query: SearchQuery) -> PageBody | None:
    """The page of one search as the JSON of :class:`SearchResults` (items, total and
    facets), or None when the words hold nothing to search for. When the words as typed
    find fewer than :data:`FEW` matches and some are close to indexed words, the page of
    the search with those corrections (exact matches first)."""
    engine = engine_for(database)
    params = engine.params(query.q)
    if params is None:
        return None
    rows = await _fetch(database, engine, False, params, query)
    if engine.total(rows) >= FEW:
        return engine.body(rows)
    clauses = terms.parse(query.q)
    corrections = await engine.corrections(database, terms.positive_words(clauses))
    if not corrections:
        return engine.body(rows)
    fuzzy = engine.fuzzy_params(query.q, clauses, corrections)
    return engine.body(await _fetch(database, engine, True, fuzzy, query))


async def _fetch(
    database: Database,
    engine: SearchEngine,
    fuzzy: bool,
    params: dict[str, Any],
    query: SearchQuery,
) -> Sequence[Any]:
    values = dict(params)
    filters = tuple(c for c in ("type", "kind", "theme") if getattr(query, c) is not None)
    for column in filters:
        values[f"f_{column}"] = getattr(query, column)
    statement = _statement(type(engine), fuzzy, filters)
    return await database.fetch(statement, {**values, "limit": query.limit, "offset": query.offset})
