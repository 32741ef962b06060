"""Enrollment and mandate API schemas."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from servicekit.schemas import ApiModel, ApiOutModel, IsoDate, JsonBoolean, JsonInteger

from ..schemas import PersonText
from .models import Enrollment, EnrollmentLot, Mandate

StartDateSource = Literal["explicit", "registry-contract-end", "planned-start"]
EnrollmentStatus = Literal["enrolled", "withdrawn", "merged"]
MANDATE_POWERS = ("enroll-in-tender", "act-in-procedure-on-behalf")


class MandateIn(ApiModel):
    """The volmacht: signed by someone entitled to bind the municipality."""

    signer_name: PersonText = Field(examples=["Sharon Dijksma"])
    signer_role: PersonText = Field(
        description="e.g. 'burgemeester', 'wethouder', 'inkoper'", examples=["burgemeester"]
    )
    signed_date: IsoDate = Field(
        description="Date the mandate was signed: today or before, at most a year before the "
        "tender was created",
        examples=["2027-01-15"],
    )
    authorises_lead_party: Annotated[Literal[True], JsonBoolean] = Field(
        description="Must be true: the lead party may act on the municipality's behalf in "
        "this procurement procedure for the enrolled lots"
    )


class EnrollmentLotIn(ApiModel):
    lot_id: uuid.UUID
    expected_volume: Annotated[int, JsonInteger] = Field(
        ge=1, le=1_000_000_000, description="Expected units", examples=[40]
    )
    desired_start_date: IsoDate | None = Field(
        default=None,
        description="Omit to have it proposed from the municipality's current contract end "
        "in the registry (or the tender's planned start)",
    )


def _unique_lots(lots: list[EnrollmentLotIn]) -> list[EnrollmentLotIn]:
    ids = [line.lot_id for line in lots]
    if len(ids) != len(set(ids)):
        raise ValueError("each lot may appear only once")
    return lots


# The lots of an enrollment, each lot once (a 400 naming ``lots`` otherwise).
EnrollmentLots = Annotated[
    list[EnrollmentLotIn], Field(min_length=1, max_length=100), AfterValidator(_unique_lots)
]


class EnrollmentIn(ApiModel):
    lots: EnrollmentLots
    mandate: MandateIn


class EnrollmentChange(ApiModel):
    """Replace the enrolled lots (If-Match required). A new mandate is needed when the
    lots go beyond the current mandate's scope."""

    lots: EnrollmentLots
    mandate: MandateIn | None = None


class WithdrawalIn(ApiModel):
    reason: str | None = Field(default=None, max_length=2000)


class MandateScope(ApiOutModel):
    tender_id: uuid.UUID
    lot_ids: list[uuid.UUID]
    municipality_oin: str
    lead_party_oin: str = Field(description="The party authorised to act in the procedure")
    powers: list[str]


class MandateOut(ApiOutModel):
    id: uuid.UUID
    signer_name: str
    signer_role: str
    signer_acr: str = Field(description="Level of assurance of the signer's login (eIDAS)")
    signed_date: date
    scope: MandateScope
    recorded_at: datetime


class EnrollmentLotOut(ApiOutModel):
    lot_id: uuid.UUID
    expected_volume: int
    desired_start_date: date
    desired_start_basis: StartDateSource = Field(
        description="Where the desired start date came from"
    )
    desired_start_explanation: str = Field(description="Why this start date, in words")


class MunicipalityOut(ApiOutModel):
    oin: str
    id: uuid.UUID | None = Field(default=None, description="Registry organisation id")
    name: str | None = None
    cbs_code: str | None = None
    province: str | None = None


class EnrollmentOut(ApiOutModel):
    id: uuid.UUID
    tender_id: uuid.UUID
    municipality: MunicipalityOut
    status: EnrollmentStatus
    lots: list[EnrollmentLotOut]
    mandate: MandateOut = Field(description="The mandate currently in force")
    version: int
    created_at: datetime
    updated_at: datetime
    withdrawn_at: datetime | None = None


def mandate_out(mandate: Mandate) -> MandateOut:
    return MandateOut.from_row(
        mandate, scope=MandateScope.model_validate(json.loads(mandate.scope))
    )


def enrollment_out(
    enrollment: Enrollment, lines: list[EnrollmentLot], mandate: Mandate
) -> EnrollmentOut:
    return EnrollmentOut.from_row(
        enrollment,
        municipality=MunicipalityOut(
            oin=enrollment.municipality_oin,
            id=enrollment.municipality_id,
            name=enrollment.municipality_name,
            cbs_code=enrollment.municipality_cbs_code,
            province=enrollment.province,
        ),
        lots=[
            EnrollmentLotOut.from_row(
                x,
                desired_start_basis=x.start_date_source,
                desired_start_explanation=x.start_date_explanation,
            )
            for x in lines
        ],
        mandate=mandate_out(mandate),
    )
