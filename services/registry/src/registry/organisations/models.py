"""Organisations: municipalities, suppliers, cooperations and the platform operator."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Model, Revised


class Organisation(Revised, Model):
    __tablename__ = "organisations"
    # Identifiers are unique per organisation type (a cooperation and a municipality are
    # different registrations even if one acted for the other); NULLs never collide.
    __table_args__ = (
        UniqueConstraint("type", "cbs_code", name="uq_organisations_type_cbs_code"),
        UniqueConstraint("type", "oin", name="uq_organisations_type_oin"),
        UniqueConstraint("type", "kvk_number", name="uq_organisations_type_kvk_number"),
        Index("ix_organisations_oin", "oin"),
        Index("ix_organisations_kvk_number", "kvk_number"),
        Index("ix_organisations_name", "name"),
        Index("ix_organisations_name_id", "name", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    type: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    cbs_code: Mapped[str | None] = mapped_column(String(6))
    oin: Mapped[str | None] = mapped_column(String(20))
    kvk_number: Mapped[str | None] = mapped_column(String(8))
    province: Mapped[str | None] = mapped_column(String(40))
    # Set by a merger (herindeling): the last day the municipality existed, and the one
    # that continues it. An ended organisation stays readable but takes no new writes.
    ended_on: Mapped[date | None]
    successor_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organisations.id"), index=True
    )


class OrganisationMember(Model):
    """A municipality's membership of a cooperation (samenwerkingsverband)."""

    __tablename__ = "organisation_members"
    __table_args__ = (Index("ix_organisation_members_member", "member_id"),)

    cooperation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT"), primary_key=True
    )
