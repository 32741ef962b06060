"""list indexes in page order; exact row counts kept by triggers

Lists filtered by facility, supplier or municipality walked the whole (name, id) or
(created_at, id) index and filtered, reading thousands of rows for a page of 20; the
new indexes lead with the filter and continue in page order (they replace the
single-column ones, whose lookups they also serve).

The unfiltered lists of offerings and usages counted every row for the page's total.
``row_counts`` holds the exact number instead, kept in the same transaction as every
insert, delete and truncate by statement-level triggers (PostgreSQL). A missing row
means "unknown": readers then count (SQLite never has rows here). Cost: concurrent
inserts into one table serialise on its counter row until commit — fine for a
catalogue written by people, not by machines.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTED = ("offerings", "usages")

COUNT_FUNCTION = """
CREATE FUNCTION registry_row_counts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE row_counts SET n = n + (SELECT count(*) FROM new_rows) WHERE name = TG_TABLE_NAME;
  ELSIF TG_OP = 'DELETE' THEN
    UPDATE row_counts SET n = n - (SELECT count(*) FROM old_rows) WHERE name = TG_TABLE_NAME;
  ELSE
    INSERT INTO row_counts (name, n) VALUES (TG_TABLE_NAME, 0)
      ON CONFLICT (name) DO UPDATE SET n = 0;
  END IF;
  RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.drop_index("ix_offerings_supplier", "offerings")
    op.drop_index("ix_offerings_facility", "offerings")
    op.create_index("ix_offerings_supplier_name_id", "offerings", ["supplier_id", "name", "id"])
    op.create_index("ix_offerings_facility_name_id", "offerings", ["facility_id", "name", "id"])
    op.drop_index("ix_usages_facility", "usages")
    op.drop_index("ix_usages_municipality", "usages")
    op.create_index(
        "ix_usages_facility_status_created", "usages", ["facility_id", "status", "created_at", "id"]
    )
    op.create_index(
        "ix_usages_municipality_created", "usages", ["municipality_id", "created_at", "id"]
    )
    op.create_table(
        "row_counts",
        sa.Column("name", sa.String(63), primary_key=True),
        sa.Column("n", sa.BigInteger, nullable=False),
        comment="Exact row counts of large tables, kept by triggers on PostgreSQL (0007)",
    )
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(COUNT_FUNCTION)
    for table in COUNTED:
        # No writer may slip between the count and the triggers.
        op.execute(f"LOCK TABLE {table} IN SHARE MODE")
        op.execute(f"INSERT INTO row_counts (name, n) SELECT '{table}', count(*) FROM {table}")
        op.execute(
            f"CREATE TRIGGER {table}_count_insert AFTER INSERT ON {table} "
            "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
            "EXECUTE FUNCTION registry_row_counts()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_count_delete AFTER DELETE ON {table} "
            "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
            "EXECUTE FUNCTION registry_row_counts()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_count_truncate AFTER TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION registry_row_counts()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in COUNTED:
            for action in ("insert", "delete", "truncate"):
                op.execute(f"DROP TRIGGER {table}_count_{action} ON {table}")
        op.execute("DROP FUNCTION registry_row_counts()")
    op.drop_table("row_counts")
    op.drop_index("ix_usages_municipality_created", "usages")
    op.drop_index("ix_usages_facility_status_created", "usages")
    op.create_index("ix_usages_municipality", "usages", ["municipality_id"])
    op.create_index("ix_usages_facility", "usages", ["facility_id", "status"])
    op.drop_index("ix_offerings_facility_name_id", "offerings")
    op.drop_index("ix_offerings_supplier_name_id", "offerings")
    op.create_index("ix_offerings_facility", "offerings", ["facility_id"])
    op.create_index("ix_offerings_supplier", "offerings", ["supplier_id"])
