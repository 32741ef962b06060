"""full-text search over facilities and offerings

PostgreSQL: GIN indexes on weighted Dutch tsvectors (name A, description/theme B), the
same expressions registry.search uses. SQLite: FTS5 tables kept in step by triggers.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PG_FACILITY_DOC = (
    "(setweight(to_tsvector('dutch'::regconfig, name), 'A') || "
    "setweight(to_tsvector('dutch'::regconfig, description || ' ' || theme), 'B'))"
)
PG_OFFERING_DOC = (
    "(setweight(to_tsvector('dutch'::regconfig, name), 'A') || "
    "setweight(to_tsvector('dutch'::regconfig, description), 'B'))"
)


def _sqlite_fts(table: str, body: str) -> list[str]:
    fts = f"{table}_fts"
    delete = (
        f"DELETE FROM {fts} WHERE rowid IN (SELECT rowid FROM {fts} "
        f"WHERE {fts} MATCH 'entity_id : \"' || OLD.id || '\"');"
    )
    insert = f"INSERT INTO {fts} (entity_id, name, body) VALUES (NEW.id, NEW.name, {body});"
    return [
        f"CREATE VIRTUAL TABLE {fts} USING fts5(entity_id, name, body, "
        "tokenize='unicode61 remove_diacritics 2')",
        f"INSERT INTO {fts} (entity_id, name, body) SELECT id, name, "
        f"{body.replace('NEW.', '')} FROM {table}",
        f"CREATE TRIGGER {table}_fts_insert AFTER INSERT ON {table} BEGIN {insert} END",
        f"CREATE TRIGGER {table}_fts_update AFTER UPDATE OF name, description"
        f"{', theme' if table == 'facilities' else ''} ON {table} BEGIN {delete} {insert} END",
        f"CREATE TRIGGER {table}_fts_delete AFTER DELETE ON {table} BEGIN {delete} END",
    ]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(f"CREATE INDEX ix_facilities_fts ON facilities USING gin ({PG_FACILITY_DOC})")
        op.execute(f"CREATE INDEX ix_offerings_fts ON offerings USING gin ({PG_OFFERING_DOC})")
    elif dialect == "sqlite":
        for statement in _sqlite_fts("facilities", "NEW.description || ' ' || NEW.theme"):
            op.execute(statement)
        for statement in _sqlite_fts("offerings", "NEW.description"):
            op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_offerings_fts")
        op.execute("DROP INDEX IF EXISTS ix_facilities_fts")
    elif dialect == "sqlite":
        for table in ("facilities", "offerings"):
            for suffix in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_fts_{suffix}")
            op.execute(f"DROP TABLE IF EXISTS {table}_fts")
