"""radar index: current usages by facility and contract end

The radar walks the facilities of one theme and, per facility, the current contracts
ending inside the window; without this index it scanned every contract in the window.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_usages_current_facility_end",
        "usages",
        ["facility_id", "contract_end_date"],
        sqlite_where=sa.text("status != 'ended'"),
        postgresql_where=sa.text("status != 'ended'"),
        # Covering (PostgreSQL): the radar reads these without touching the table.
        postgresql_include=["municipality_id", "id", "offering_id", "notice_period_months"],
    )


def downgrade() -> None:
    op.drop_index("ix_usages_current_facility_end", "usages")
