"""notice alerts: one claim per usage, threshold (180/90/30 days) and notice deadline

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notice_alerts",
        sa.Column("usage_id", sa.Uuid(), nullable=False),
        sa.Column("threshold_days", sa.Integer(), nullable=False),
        sa.Column("notice_deadline", sa.Date(), nullable=False),
        sa.Column("announced", sa.Boolean(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["usage_id"], ["usages.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("usage_id", "threshold_days", "notice_deadline"),
    )


def downgrade() -> None:
    op.drop_table("notice_alerts")
