"""municipal mergers: ended organisations with a successor, inherited contracts

An organisation ended by a merger keeps its row (``ended_on``, ``successor_id``); usages
moved to the successor name the municipality that concluded them
(``inherited_from_id``), and the one-active-usage rule's unique index covers the
successor's own contracts only (inherited ones run on beside them until they end).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = sa.text("status = 'active'")
ACTIVE_OWN = sa.text("status = 'active' AND inherited_from_id IS NULL")


def _add_organisation_ref(table: str, name: str) -> None:
    """A nullable column referring to an organisation. SQLite adds a column with its
    reference in place (no table copy, which would empty and refill a table others
    refer to); other engines add the constraint beside it. An organisation is never
    deleted while referred to (the default action refuses it)."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            f"ALTER TABLE {table} ADD COLUMN {name} CHAR(32) "
            "REFERENCES organisations (id)"
        )
        return
    op.add_column(
        table,
        sa.Column(
            name, sa.Uuid(), sa.ForeignKey("organisations.id"), nullable=True
        ),
    )


def _unique_active(where: sa.TextClause) -> None:
    op.create_index(
        "uq_usages_active",
        "usages",
        ["municipality_id", "facility_id"],
        unique=True,
        sqlite_where=where,
        postgresql_where=where,
    )


def upgrade() -> None:
    op.add_column("organisations", sa.Column("ended_on", sa.Date(), nullable=True))
    _add_organisation_ref("organisations", "successor_id")
    op.create_index("ix_organisations_successor_id", "organisations", ["successor_id"])
    _add_organisation_ref("usages", "inherited_from_id")
    op.drop_index("uq_usages_active", "usages")
    _unique_active(ACTIVE_OWN)
    op.create_table(
        "municipality_mergers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("successor_id", sa.Uuid(), nullable=False),
        sa.Column("predecessor_ids", sa.JSON(), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("moved", sa.JSON(), nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["successor_id"], ["organisations.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_municipality_mergers_successor_id", "municipality_mergers", ["successor_id"]
    )


def downgrade() -> None:
    # Fails (unique violation) while a municipality runs an inherited active contract
    # beside its own for the same facility: end one of them first.
    op.drop_index("ix_municipality_mergers_successor_id", "municipality_mergers")
    op.drop_table("municipality_mergers")
    op.drop_index("uq_usages_active", "usages")
    _unique_active(ACTIVE)
    with op.batch_alter_table("usages") as batch:
        batch.drop_column("inherited_from_id")
    op.drop_index("ix_organisations_successor_id", "organisations")
    with op.batch_alter_table("organisations") as batch:
        batch.drop_column("successor_id")
        batch.drop_column("ended_on")
