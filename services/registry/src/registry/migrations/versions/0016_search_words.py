"""the vocabulary of indexed words, for the typo-tolerant search

PostgreSQL: ``search_words`` holds every lexeme of ``search_entries`` (letters only, 4 to
60 of them) once, behind a trigram index (pg_trgm, a trusted extension), kept by a
trigger on ``search_entries``; words are never removed (a word no longer indexed only
leads to a correction that finds nothing). The search looks a word up there only when it
found fewer than a few matches as typed. SQLite: ``fts5vocab`` tables over the FTS5
indexes of 0003, which need no upkeep.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Lexemes in order (tsvector_to_array sorts them), so two writers adding the same new
# words take their locks in the same order.
WORDS_OF = """
SELECT w FROM unnest(tsvector_to_array({vector})) AS w
 WHERE w ~ '^[[:alpha:]]{{4,60}}$' ORDER BY w
"""

FUNCTION = f"""
CREATE FUNCTION registry_search_words() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO search_words (word) {WORDS_OF.format(vector="NEW.search_vector")}
  ON CONFLICT DO NOTHING;
  RETURN NULL;
END
$$
"""


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for table in ("facilities", "offerings"):
            op.execute(
                f"CREATE VIRTUAL TABLE {table}_fts_vocab USING fts5vocab({table}_fts, 'col')"
            )
        return
    if dialect != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute("CREATE TABLE search_words (word varchar(60) PRIMARY KEY)")
    op.execute(FUNCTION)
    op.execute("LOCK TABLE search_entries IN SHARE MODE")
    op.execute(
        "INSERT INTO search_words (word) SELECT DISTINCT w FROM search_entries, "
        "unnest(tsvector_to_array(search_vector)) AS w WHERE w ~ '^[[:alpha:]]{4,60}$'"
    )
    op.execute("CREATE INDEX ix_search_words_trigrams ON search_words USING gin (word gin_trgm_ops)")
    op.execute(
        "CREATE TRIGGER search_entries_words AFTER INSERT OR UPDATE OF search_vector "
        "ON search_entries FOR EACH ROW EXECUTE FUNCTION registry_search_words()"
    )
    op.execute("ANALYZE search_words")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for table in ("facilities", "offerings"):
            op.execute(f"DROP TABLE IF EXISTS {table}_fts_vocab")
        return
    if dialect != "postgresql":
        return
    op.execute("DROP TRIGGER search_entries_words ON search_entries")
    op.execute("DROP FUNCTION registry_search_words()")
    op.execute("DROP TABLE search_words")
    # pg_trgm stays: other objects of the database may have come to use it.
