"""integrations (koppelingen) between offerings

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "integrations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("source_offering_id", sa.Uuid(), nullable=False),
        sa.Column("target_offering_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("standards", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("direction", sa.String(10), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["source_offering_id"], ["offerings.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["target_offering_id"], ["offerings.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "source_offering_id", "target_offering_id", "kind", name="uq_integrations_pair_kind"
        ),
    )
    op.create_index("ix_integrations_target", "integrations", ["target_offering_id"])
    op.create_index("ix_integrations_created_id", "integrations", ["created_at", "id"])


def downgrade() -> None:
    op.drop_table("integrations")
