"""The rows of the CSV exports: the API's resources with the names beside their ids."""

from __future__ import annotations

from ..offerings.schemas import OfferingOut
from ..usages.schemas import UsageOut


class UsageRow(UsageOut):
    municipality_name: str
    facility_name: str
    offering_name: str | None
    version: str | None


class OfferingRow(OfferingOut):
    supplier_name: str
    facility_name: str
    versions: list[str]
