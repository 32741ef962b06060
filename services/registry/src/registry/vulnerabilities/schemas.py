"""API schemas of vulnerabilities and exposures."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, PlainSerializer, StringConstraints, WithJsonSchema
from pydantic.json_schema import SkipJsonSchema

from servicekit.schemas import ApiModel, ApiOutModel

from ..common import Reason
from ..offerings.schemas import VersionLabel
from . import cvss

Status = Literal["published", "withdrawn"]
Severity = Literal["none", "low", "medium", "high", "critical"]
CveId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_upper=True, max_length=30),
    AfterValidator(cvss.cve_id),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": cvss.CVE_PATTERN,
            "maxLength": 30,
            "examples": ["CVE-2099-0001"],
        }
    ),
]
CvssScore = Annotated[
    Decimal,
    Field(ge=0, le=10, max_digits=3, decimal_places=1),
    PlainSerializer(float, return_type=float, when_used="json"),
    WithJsonSchema({"type": "number", "minimum": 0, "maximum": 10, "examples": [7.5]}),
]
CvssVector = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(cvss.vector),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": cvss.VECTOR_PATTERN,
            "maxLength": 200,
            "examples": ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"],
        }
    ),
]
Description = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000, pattern=r"\S")
]
VersionIds = Annotated[list[uuid.UUID], Field(min_length=1, max_length=200)]


class VulnerabilityCreate(ApiModel):
    """A vulnerability in versions of an offering (its supplier's staff or the operator)."""

    offering_id: uuid.UUID
    cve_id: CveId
    cvss_score: CvssScore = Field(
        description="The score cvssVector gives (CVSS 3.x: its base score; CVSS 4.0: the score "
        "of all its metrics), 0.0 to 10.0"
    )
    cvss_vector: CvssVector
    description: Description
    affected_version_ids: VersionIds = Field(
        description="Versions of the offering that have the vulnerability"
    )
    fixed_in_version: VersionLabel | None = Field(
        default=None, description="The first version that fixes it (need not be registered)"
    )


class VulnerabilityPatch(ApiModel):
    # Fields that cannot be removed are documented without null (null is a 400).
    cvss_score: CvssScore | SkipJsonSchema[None] = None
    cvss_vector: CvssVector | SkipJsonSchema[None] = None
    description: Description | SkipJsonSchema[None] = None
    affected_version_ids: VersionIds | SkipJsonSchema[None] = None
    fixed_in_version: VersionLabel | None = None


class WithdrawalIn(ApiModel):
    reason: Reason


class AffectedVersionOut(ApiOutModel):
    version_id: uuid.UUID
    version: str


class VulnerabilityOut(ApiOutModel):
    id: uuid.UUID
    offering_id: uuid.UUID
    cve_id: str
    cvss_score: CvssScore
    cvss_vector: str
    severity: Severity = Field(description="Qualitative rating of the score (CVSS scale)")
    description: str
    affected_versions: list[AffectedVersionOut]
    fixed_in_version: str | None
    status: Status
    withdrawal_reason: str | None
    created_at: datetime
    updated_at: datetime


class ExposureOut(ApiOutModel):
    """A current usage (planned or active) of an affected version of a published
    vulnerability: the municipality runs, or is about to run, the vulnerable version."""

    vulnerability_id: uuid.UUID
    cve_id: str
    cvss_score: CvssScore
    severity: Severity
    fixed_in_version: str | None
    municipality_id: uuid.UUID
    municipality_name: str
    usage_id: uuid.UUID
    usage_status: Literal["planned", "active"]
    offering_id: uuid.UUID
    version_id: uuid.UUID
    version: str
