"""event subjects name the API's collections: facilities/…, vulnerabilities/…

Events of facilities and vulnerabilities were recorded with the subject ``facilitys/{id}``
and ``vulnerabilitys/{id}``; their resources are at ``facilities/{id}`` and
``vulnerabilities/{id}``. The stored events are corrected so that a consumer reading the
feed from the start sees one subject per resource.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CORRECTED = (("facilitys/", "facilities/"), ("vulnerabilitys/", "vulnerabilities/"))


def upgrade() -> None:
    for wrong, right in CORRECTED:
        op.execute(
            sa.text(
                "UPDATE event_outbox SET subject = :right || substr(subject, :cut) "
                "WHERE subject LIKE :pattern"
            ).bindparams(right=right, cut=len(wrong) + 1, pattern=wrong + "%")
        )


def downgrade() -> None:
    # Nothing to undo: the corrected subjects are the resources' paths for older code too
    # (and ``facilities/…`` cannot tell a corrected facility event from a pledge's).
    pass
