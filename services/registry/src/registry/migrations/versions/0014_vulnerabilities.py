"""vulnerabilities: CVEs in offering versions; an index to find the usages of a version

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PUBLISHED = sa.text("status = 'published'")


def upgrade() -> None:
    op.create_table(
        "vulnerabilities",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("offering_id", sa.Uuid(), nullable=False),
        sa.Column("cve_id", sa.String(30), nullable=False),
        sa.Column("cvss_score", sa.Numeric(3, 1), nullable=False),
        sa.Column("cvss_vector", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("fixed_in_version", sa.String(50), nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("withdrawal_reason", sa.String(2000), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["offering_id"], ["offerings.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_vulnerabilities_offering_id", "vulnerabilities", ["offering_id"])
    op.create_index("ix_vulnerabilities_cve_id", "vulnerabilities", ["cve_id"])
    op.create_index("ix_vulnerabilities_created_id", "vulnerabilities", ["created_at", "id"])
    op.create_index(
        "uq_vulnerabilities_published",
        "vulnerabilities",
        ["offering_id", "cve_id"],
        unique=True,
        sqlite_where=PUBLISHED,
        postgresql_where=PUBLISHED,
    )
    op.create_table(
        "vulnerability_versions",
        sa.Column("vulnerability_id", sa.Uuid(), nullable=False),
        sa.Column("version_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["vulnerability_id"], ["vulnerabilities.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["version_id"], ["offering_versions.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("vulnerability_id", "version_id"),
    )
    op.create_index(
        "ix_vulnerability_versions_version", "vulnerability_versions", ["version_id"]
    )
    op.create_index("ix_usages_version_id", "usages", ["version_id"])


def downgrade() -> None:
    op.drop_index("ix_usages_version_id", table_name="usages")
    op.drop_table("vulnerability_versions")
    op.drop_table("vulnerabilities")
