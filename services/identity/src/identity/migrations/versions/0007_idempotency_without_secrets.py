"""Stored Idempotency-Key answers of POST /v1/clients lose their client secret: a
client's secret is kept only as its hash (a replay answers clientSecretWithheld: true)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

keys = sa.table(
    "idempotency_keys",
    sa.column("owner", sa.String),
    sa.column("key", sa.String),
    sa.column("response_body", sa.Text),
)


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(keys.c.owner, keys.c.key, keys.c.response_body).where(
            keys.c.response_body.like('%"clientSecret"%')
        )
    ).all()
    for owner, key, text in rows:
        try:
            body = json.loads(text)
        except ValueError:
            continue
        if not isinstance(body, dict) or not body.get("clientSecret"):
            continue
        body["clientSecret"] = None
        body["clientSecretWithheld"] = True
        conn.execute(
            sa.update(keys)
            .where(keys.c.owner == owner, keys.c.key == key)
            .values(response_body=json.dumps(body, separators=(",", ":")))
        )


def downgrade() -> None:
    # The secrets are gone for good; nothing to restore.
    pass
