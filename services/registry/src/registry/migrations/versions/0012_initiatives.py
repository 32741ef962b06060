"""initiatives: proposals, support pledges, pilot participants, impact analyses

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _facility_fk() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["facility_id"], ["facilities.id"], ondelete="CASCADE")


def _municipality_fk() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["municipality_id"], ["organisations.id"], ondelete="RESTRICT")


def upgrade() -> None:
    op.create_table(
        "initiatives",
        sa.Column("facility_id", sa.Uuid(), nullable=False),
        sa.Column("proposed_by_id", sa.Uuid(), nullable=False),
        sa.Column("proposed_by_subject", sa.String(length=200), nullable=False),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        _facility_fk(),
        sa.ForeignKeyConstraint(["proposed_by_id"], ["organisations.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("facility_id"),
    )
    op.create_index("ix_initiatives_proposed_by_id", "initiatives", ["proposed_by_id"])
    op.create_table(
        "pledges",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("facility_id", sa.Uuid(), nullable=False),
        sa.Column("municipality_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _facility_fk(),
        _municipality_fk(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "facility_id", "municipality_id", name="uq_pledges_facility_municipality"
        ),
    )
    op.create_index("ix_pledges_municipality", "pledges", ["municipality_id"])
    op.create_table(
        "pilot_participations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("facility_id", sa.Uuid(), nullable=False),
        sa.Column("municipality_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _facility_fk(),
        _municipality_fk(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "facility_id",
            "municipality_id",
            name="uq_pilot_participations_facility_municipality",
        ),
    )
    op.create_table(
        "impact_analyses",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("facility_id", sa.Uuid(), nullable=False),
        sa.Column("outcome", sa.String(length=12), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("completed_on", sa.Date(), nullable=False),
        sa.Column("document_url", sa.String(length=500), nullable=True),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        _facility_fk(),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_impact_analyses_facility", "impact_analyses", ["facility_id", "recorded_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_impact_analyses_facility", "impact_analyses")
    op.drop_table("impact_analyses")
    op.drop_table("pilot_participations")
    op.drop_index("ix_pledges_municipality", "pledges")
    op.drop_table("pledges")
    op.drop_index("ix_initiatives_proposed_by_id", "initiatives")
    op.drop_table("initiatives")
