"""The queries every domain repository needs, written once.

:class:`Repository` works on an ORM session inside the service's transaction: get by id,
a filtered page, conditional update (load for update, check If-Match, bump revision) and
create with a unique-constraint race turned into 409. :class:`TableReader` answers the
hottest reads with one statement through :meth:`Database.fetch` (no ORM objects): a row
by id, a filtered page with its exact total.

Versioned tables have ``id`` (UUID), ``revision`` (int, from 1) and ``updated_at``; their
ETag is :func:`etag_of` the two.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import Select, Table, bindparam, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from .clock import utcnow
from .db import Database
from .errors import Conflict, NotFound
from .http import make_etag
from .pagination import PageParams

Entity = TypeVar("Entity")
Row = TypeVar("Row")


def etag_of(entity_id: uuid.UUID, revision: int) -> str:
    return make_etag(entity_id, revision)


def like_pattern(needle: str) -> str:
    """A LIKE pattern matching ``needle`` anywhere, its wildcards escaped with ``/``."""
    escaped = needle.replace("/", "//").replace("%", "/%").replace("_", "/_")
    return f"%{escaped}%"


class Repository(Generic[Entity]):
    """All database access of one domain goes through its subclass; ``model`` is the
    domain's table class, ``label`` names one of it in messages ("facility")."""

    model: ClassVar[type[Any]]
    label: ClassVar[str]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, entity_id: uuid.UUID, *, for_update: bool = False) -> Entity:
        """The entity, locked for the transaction when ``for_update``; 404 when absent."""
        found = await self.first(self.model.id == entity_id, for_update=for_update)
        if found is None:
            raise NotFound(f"No {self.label} with id {entity_id}.")
        return found

    async def first(self, *conditions: Any, for_update: bool = False) -> Entity | None:
        query = select(self.model).where(*conditions)
        if for_update:
            query = query.with_for_update()
        result: Entity | None = (await self.session.execute(query)).scalars().first()
        return result

    async def get_checked(self, entity_id: uuid.UUID, if_match: Any) -> Entity:
        """The entity locked for update, after ``if_match`` (a
        :class:`~servicekit.http.IfMatch` or any callable) accepted its current ETag."""
        entity = await self.get(entity_id, for_update=True)
        if if_match is not None:
            if_match(self.etag(entity))
        return entity

    @staticmethod
    def etag(entity: Any) -> str:
        return etag_of(entity.id, entity.revision)

    @staticmethod
    def apply(entity: Any, changes: Mapping[str, Any]) -> None:
        """Set the changed fields and move the entity to its next revision."""
        for field, value in changes.items():
            setattr(entity, field, value)
        entity.revision += 1
        entity.updated_at = utcnow()

    async def save(
        self, entity: Any, changes: Mapping[str, Any], *, conflict: str | None = None
    ) -> None:
        """:meth:`apply` the changes and write them now (``conflict`` as in :meth:`flush`)."""
        self.apply(entity, changes)
        await self.flush(conflict=conflict)

    async def add(self, entity: Row, *, conflict: str | None = None) -> Row:
        """Insert ``entity`` (of this domain's tables) now."""
        self.session.add(entity)
        await self.flush(conflict=conflict)
        return entity

    async def flush(self, *, conflict: str | None = None) -> None:
        """Write pending changes; with ``conflict``, a unique constraint that lost a race
        the service's own check could not see is a 409 ``duplicate`` saying so."""
        if conflict is None:
            await self.session.flush()
            return
        try:
            await self.session.flush()
        except IntegrityError as exc:
            raise Conflict(conflict, slug="duplicate") from exc

    async def delete(self, entity: Entity) -> None:
        await self.session.delete(entity)

    async def page(
        self, query: Select[Any], params: PageParams, *order_by: Any
    ) -> tuple[list[Any], int]:
        """One page of ``query`` (ORM entities) in ``order_by`` order, with the total."""
        total = (
            await self.session.execute(select(func.count()).select_from(query.subquery()))
        ).scalar_one()
        rows = await self.session.execute(
            query.order_by(*order_by).offset(params.offset).limit(params.page_size)
        )
        return list(rows.scalars()), int(total)


def page_statement(
    query: Select[Any], order_by: Sequence[Any], *, known_total: Any = None
) -> Select[Any]:
    """``query`` as one page in ``order_by`` order, with the exact number of its rows as
    ``total_count`` on every row: one statement, one snapshot, one round trip. The page
    bounds are the bind parameters ``offset`` and ``limit``. ``known_total``: a scalar
    subquery that gives the total when it is not NULL (a counter kept by triggers)."""
    total: Any = select(func.count()).select_from(query.subquery()).scalar_subquery()
    if known_total is not None:
        total = func.coalesce(known_total, total)
    return (
        query.add_columns(total.label("total_count"))
        .order_by(*order_by)
        .offset(bindparam("offset"))
        .limit(bindparam("limit"))
    )


async def read_page(
    database: Database, statement: Select[Any], values: dict[str, Any], params: PageParams
) -> tuple[Sequence[Any], int]:
    """Run a :func:`page_statement`: the page's rows and the total."""
    bounds = {"offset": params.offset, "limit": params.page_size}
    rows = await database.fetch(statement, {**values, **bounds})
    if rows:
        return rows, int(rows[0]["total_count"])
    if params.offset == 0:
        return [], 0
    # Past the end: the page is empty, but the total is still wanted for the links.
    first = await database.fetch(statement, {**values, "offset": 0, "limit": 1})
    return [], int(first[0]["total_count"]) if first else 0


class TableReader:
    """Single-statement reads of one table through :meth:`Database.fetch`; statements
    are built once per combination of filters, so each is compiled and prepared once.
    ``counter``: a table of exact row counts (``name``, ``n``) kept by triggers, read for
    the unfiltered total instead of counting every row. A page is ordered by ``order_by``
    and ``text`` searched in ``text_columns``."""

    def __init__(
        self,
        table: Table,
        label: str,
        counter: Table | None = None,
        *,
        order_by: tuple[str, ...] = ("id",),
        text_columns: tuple[str, ...] = (),
    ) -> None:
        self.table = table
        self.label = label
        self.counter = counter
        self.order_by = order_by
        self.text_columns = text_columns
        self.by_id = select(*table.c).where(table.c.id == bindparam("id"))

    async def get(self, database: Database, entity_id: uuid.UUID) -> Any:
        """The row with this id; 404 when there is none."""
        rows = await database.fetch(self.by_id, {"id": entity_id})
        if not rows:
            raise NotFound(f"No {self.label} with id {entity_id}.")
        return rows[0]

    async def page(
        self,
        database: Database,
        params: PageParams,
        equal: Mapping[str, Any],
        text: str | None = None,
    ) -> tuple[Sequence[Any], int]:
        """One page with the exact total: rows whose columns equal the given values
        (``None``: no condition) and, when ``text`` is given, contain it in one of the
        text columns (case-insensitive, LIKE wildcards literal)."""
        values = {name: value for name, value in equal.items() if value is not None}
        contains = self.text_columns if text else ()
        if text:
            values["pattern"] = like_pattern(text.lower())
        equal_names = tuple(values.keys() - {"pattern"})
        statement = self.list_statement(self.order_by, equal_names, contains)
        return await read_page(database, statement, values, params)

    def list_statement(
        self, order_by: tuple[str, ...], equal: tuple[str, ...], contains: tuple[str, ...]
    ) -> Select[Any]:
        return _list_statement(self.table, self.counter, order_by, tuple(sorted(equal)), contains)


@lru_cache(maxsize=256)
def _list_statement(
    table: Table,
    counter: Table | None,
    order_by: tuple[str, ...],
    equal: tuple[str, ...],
    contains: tuple[str, ...],
) -> Select[Any]:
    query = select(*table.c)
    for name in equal:
        query = query.where(table.c[name] == bindparam(name))
    if contains:
        pattern: Any = bindparam("pattern")
        query = query.where(
            or_(*(func.lower(table.c[name]).like(pattern, escape="/") for name in contains))
        )
    known_total = None
    if counter is not None and not equal and not contains:
        known_total = select(counter.c.n).where(counter.c.name == table.name).scalar_subquery()
    return page_statement(query, [table.c[name] for name in order_by], known_total=known_total)
