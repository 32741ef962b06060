"""applied_mergers: registry mergers whose enrollments moved to the successor

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "applied_mergers",
        sa.Column("merger_id", sa.Uuid(), nullable=False),
        sa.Column("successor_oin", sa.String(length=20), nullable=False),
        sa.Column("predecessor_oins", sa.Text(), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("moved", sa.Text(), nullable=False),
        sa.Column("applied_by", sa.String(length=255), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("merger_id"),
    )


def downgrade() -> None:
    op.drop_table("applied_mergers")
