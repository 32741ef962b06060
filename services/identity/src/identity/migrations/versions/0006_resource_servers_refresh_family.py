"""clients.resource_audiences (resource servers: introspection of others' tokens and the
revocation feed), refresh_tokens.family_expires_at (the family's absolute maximum), an
index on revoked_tokens.revoked_at (the feed reads by it)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch_op:
        batch_op.add_column(
            sa.Column("resource_audiences", sa.JSON(), nullable=False, server_default="[]")
        )
    with op.batch_alter_table("refresh_tokens") as batch_op:
        # Existing families: their tokens' own expiry is their limit (NULL = none set).
        batch_op.add_column(
            sa.Column("family_expires_at", sa.DateTime(timezone=True), nullable=True)
        )
    op.create_index("ix_revoked_tokens_revoked_at", "revoked_tokens", ["revoked_at"])


def downgrade() -> None:
    op.drop_index("ix_revoked_tokens_revoked_at", table_name="revoked_tokens")
    with op.batch_alter_table("refresh_tokens") as batch_op:
        batch_op.drop_column("family_expires_at")
    with op.batch_alter_table("clients") as batch_op:
        batch_op.drop_column("resource_audiences")
