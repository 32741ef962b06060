"""usages: a planned follow-up next to the current contract

One active usage per municipality and facility stays guaranteed by a unique index; the
planned ones beside it (a follow-up contract) are allowed when their dates do not overlap,
which the service checks. The former unique index over all current usages stays as a
plain index of the same shape (the radar's "already on board" test reads it).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CURRENT = sa.text("status != 'ended'")
ACTIVE = sa.text("status = 'active'")


def upgrade() -> None:
    op.create_index(
        "ix_usages_current",
        "usages",
        ["municipality_id", "facility_id"],
        sqlite_where=CURRENT,
        postgresql_where=CURRENT,
        postgresql_include=["id", "offering_id", "notice_period_months"],
    )
    op.create_index(
        "uq_usages_active",
        "usages",
        ["municipality_id", "facility_id"],
        unique=True,
        sqlite_where=ACTIVE,
        postgresql_where=ACTIVE,
    )
    op.drop_index("uq_usages_current", "usages")


def downgrade() -> None:
    # Fails (unique violation) while a municipality has a follow-up next to its current
    # usage: end or delete the follow-ups first, the old rule allowed only one.
    op.create_index(
        "uq_usages_current",
        "usages",
        ["municipality_id", "facility_id"],
        unique=True,
        sqlite_where=CURRENT,
        postgresql_where=CURRENT,
    )
    op.drop_index("uq_usages_active", "usages")
    op.drop_index("ix_usages_current", "usages")
