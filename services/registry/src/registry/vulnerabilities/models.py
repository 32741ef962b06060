"""Vulnerabilities (CVE) recorded against offering versions."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Numeric, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Model, Revised

STATUSES = ("published", "withdrawn")


class Vulnerability(Revised, Model):
    __tablename__ = "vulnerabilities"
    __table_args__ = (
        # One published record of a CVE per offering; a withdrawn one may be recorded anew.
        Index(
            "uq_vulnerabilities_published",
            "offering_id",
            "cve_id",
            unique=True,
            sqlite_where=text("status = 'published'"),
            postgresql_where=text("status = 'published'"),
        ),
        Index("ix_vulnerabilities_created_id", "created_at", "id"),
        Index("ix_vulnerabilities_cve_id", "cve_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    offering_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("offerings.id", ondelete="RESTRICT"), index=True
    )
    cve_id: Mapped[str] = mapped_column(String(30))
    cvss_score: Mapped[Decimal] = mapped_column(Numeric(3, 1))
    cvss_vector: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    fixed_in_version: Mapped[str | None] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(10), default="published")
    withdrawal_reason: Mapped[str | None] = mapped_column(String(2000))


class AffectedVersion(Model):
    """A version of the vulnerability's offering that has it; usages of such a version
    are the exposures."""

    __tablename__ = "vulnerability_versions"
    __table_args__ = (Index("ix_vulnerability_versions_version", "version_id"),)

    vulnerability_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("vulnerabilities.id", ondelete="CASCADE"), primary_key=True
    )
    version_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("offering_versions.id", ondelete="RESTRICT"), primary_key=True
    )
