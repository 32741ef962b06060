"""webhook signing secrets encrypted at rest

The column grows to hold ``enc1:<Fernet token>``, and every secret stored in clear is
sealed with ``REGISTRY_WEBHOOK_SECRET_KEY`` (read from the environment like the service
does; the development key outside production, refused in production).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _box():  # type: ignore[no-untyped-def]
    from registry.config import Settings
    from registry.webhooks.secretbox import secret_box

    settings = Settings()
    settings.check_production()
    return secret_box(settings)


def upgrade() -> None:
    with op.batch_alter_table("webhook_subscriptions") as batch:
        batch.alter_column(
            "secret", type_=sa.String(400), existing_type=sa.String(100), existing_nullable=False
        )
    from registry.webhooks.secretbox import seal_plaintext_rows

    bind = op.get_bind()
    if bind.execute(sa.text("SELECT count(*) FROM webhook_subscriptions")).scalar_one():
        seal_plaintext_rows(bind, _box())


def downgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, secret FROM webhook_subscriptions")).all()
    if rows:
        box = _box()
        for row_id, stored in rows:
            bind.execute(
                sa.text("UPDATE webhook_subscriptions SET secret = :secret WHERE id = :id"),
                {"secret": box.open(stored), "id": row_id},
            )
    with op.batch_alter_table("webhook_subscriptions") as batch:
        batch.alter_column(
            "secret", type_=sa.String(100), existing_type=sa.String(400), existing_nullable=False
        )
