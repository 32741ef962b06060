"""Relying-party metadata (request URIs, signed/encrypted userinfo), dynamic registration
(a client's registration access token, initial access tokens)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch_op:
        batch_op.add_column(sa.Column("userinfo_signed_response_alg", sa.String(16)))
        batch_op.add_column(sa.Column("userinfo_encrypted_response_alg", sa.String(32)))
        batch_op.add_column(sa.Column("userinfo_encrypted_response_enc", sa.String(32)))
        batch_op.add_column(
            sa.Column("request_uris", sa.JSON(), nullable=False, server_default="[]")
        )
        batch_op.add_column(sa.Column("registration_token_hash", sa.String(64)))
    op.create_table(
        "initial_access_tokens",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_for", sa.String(100), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("initial_access_tokens")
    with op.batch_alter_table("clients") as batch_op:
        for name in (
            "registration_token_hash",
            "request_uris",
            "userinfo_encrypted_response_enc",
            "userinfo_encrypted_response_alg",
            "userinfo_signed_response_alg",
        ):
            batch_op.drop_column(name)
