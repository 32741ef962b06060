"""cost insight: annual cost of a usage, population figures per municipality and year

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("usages", sa.Column("annual_cost", sa.Numeric(14, 2), nullable=True))
    op.create_table(
        "population_figures",
        sa.Column("municipality_id", sa.Uuid(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("inhabitants", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("loaded_by", sa.String(length=200), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["municipality_id"], ["organisations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("municipality_id", "year"),
    )
    op.create_index("ix_population_figures_year", "population_figures", ["year"])


def downgrade() -> None:
    op.drop_index("ix_population_figures_year", "population_figures")
    op.drop_table("population_figures")
    op.drop_column("usages", "annual_cost")
