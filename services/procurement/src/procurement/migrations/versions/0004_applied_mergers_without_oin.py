"""applied_mergers: a successor without an OIN (nothing to move) is recorded too

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("applied_mergers") as batch:
        batch.alter_column("successor_oin", existing_type=sa.String(length=20), nullable=True)


def downgrade() -> None:
    op.execute("UPDATE applied_mergers SET successor_oin = '' WHERE successor_oin IS NULL")
    with op.batch_alter_table("applied_mergers") as batch:
        batch.alter_column("successor_oin", existing_type=sa.String(length=20), nullable=False)
