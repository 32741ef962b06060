"""The one list of what the contract tests accept from schemathesis, each with its reason.

``EXPECTED_STATUSES`` widens a check's accepted statuses where the OpenAPI document cannot
express the rule (a random ETag is schema-valid but stale). ``KNOWN`` names a check that
is not run for one operation (``"*"``: every operation of the service) and why. Anything
not listed here fails the contract tests.
"""

from __future__ import annotations

from typing import Any

# check name -> statuses added to schemathesis' defaults, with the reason.
EXPECTED_STATUSES: dict[str, tuple[list[str], str]] = {
    "positive_data_acceptance": (
        ["412", "428"],
        "If-Match carries the ETag of the resource's current revision: any other value is "
        "valid by the schema (an opaque string) and stale by the rule (412).",
    ),
    "missing_required_header": (
        ["428"],
        "A PUT/PATCH without If-Match is 428 Precondition Required (RFC 6585), not 400.",
    ),
}

# Generation settings that follow a rule of every service the schemas cannot state.
NO_NUL_REASON = (
    "Every service refuses NUL (U+0000) in any string with 400 (PostgreSQL cannot store "
    "it; servicekit.schemas.ApiModel): strings are generated without it."
)

# (service, operationId or "*", check name) -> reason
REFERENCE = (
    "The body names another resource by id (a UUID in the schema); one that does not "
    "exist is 400 invalidParams, which no schema can rule out for random ids."
)
MUNICIPALITY_VIEW = (
    "A municipality's own view: the path names an organisation (a UUID in the schema) and "
    "one of another type is 400 invalidParams organisationId (organisations.service."
    "municipality_of); the stateful phase follows createOrganisation's links here with "
    "suppliers and cooperations too."
)
KNOWN: dict[tuple[str, str, str], str] = {
    ("registry", "createFacility", "positive_data_acceptance"): REFERENCE + " (providerId)",
    ("registry", "updateFacility", "positive_data_acceptance"): REFERENCE + " (providerId)",
    ("registry", "createMunicipalityMerger", "positive_data_acceptance"): REFERENCE
    + " (predecessorIds, successorId)",
    ("registry", "importUsages", "positive_data_acceptance"): (
        "The body is a CSV file (a string in the schema): its header names the columns and "
        "its rows name facilities; a random string is a 400 listing what is wrong with it."
    ),
    ("registry", "createUsage", "positive_data_acceptance"): REFERENCE
    + " (municipalityId, facilityId, offeringId)",
    ("registry", "updateUsage", "positive_data_acceptance"): REFERENCE + " (offeringId)",
    ("registry", "createOffering", "positive_data_acceptance"): REFERENCE + " (facilityId)",
    ("registry", "createOfferingVersion", "positive_data_acceptance"): (
        "A version's end of support may not lie before its release date: a cross-field "
        "rule no schema can state, 400 invalidParams."
    ),
    ("registry", "updateOfferingVersion", "positive_data_acceptance"): (
        "As createOfferingVersion: end of support before the release date is 400."
    ),
    ("registry", "createOrganisation", "positive_data_acceptance"): (
        "Which identifiers an organisation has depends on its type (a municipality a CBS "
        "code, a supplier a KvK number, the operator an OIN); cross-field rule, 400."
    ),
    ("registry", "updateOrganisation", "positive_data_acceptance"): (
        "As createOrganisation: identifiers must fit the organisation's stored type (400)."
    ),
    ("registry", "loadPopulationFigures", "positive_data_acceptance"): (
        "Each figure names a municipality by CBS code; an unknown one is 400 (none stored)."
    ),
    ("registry", "importPopulationFigures", "positive_data_acceptance"): (
        "The body is a CSV file (a string in the schema) whose header and rows must name "
        "known municipalities with valid figures; any other text is 400 invalidParams."
    ),
    ("registry", "proposeInitiative", "positive_data_acceptance"): REFERENCE
    + " (proposedById: a municipality or cooperation)",
    ("registry", "pledgeSupport", "positive_data_acceptance"): (
        REFERENCE + " (municipalityId); and a co-fund pledge needs its amount (cross-field)."
    ),
    ("registry", "joinPilot", "positive_data_acceptance"): REFERENCE + " (municipalityId)",
    ("procurement", "createTender", "positive_data_acceptance"): (
        "Cross-field terms (window order, planned start after the window, lots within the "
        "tender value, dates not in the past) and the facility/lead party ids: 400."
    ),
    ("procurement", "updateTender", "positive_data_acceptance"): (
        "As createTender: the terms must stay consistent with the stored tender (400)."
    ),
    ("procurement", "createLot", "positive_data_acceptance"): (
        "A lot's value must fit within the tender's value with the other lots (400)."
    ),
    ("procurement", "createEnrollment", "positive_data_acceptance"): (
        "Each lot at most once: a lotId listed twice is 400 invalidParams lots. uniqueItems "
        "cannot state it (two lines of one lot with different volumes are distinct items)."
    ),
    ("procurement", "updateEnrollment", "positive_data_acceptance"): (
        "As createEnrollment: each lot at most once (400)."
    ),
    ("registry", "getOrganisationRadar", "positive_data_acceptance"): MUNICIPALITY_VIEW,
    ("registry", "getOrganisationRadarCsv", "positive_data_acceptance"): MUNICIPALITY_VIEW,
    ("registry", "getMunicipalityCosts", "positive_data_acceptance"): MUNICIPALITY_VIEW,
    ("registry", "getOrganisationLandscape", "positive_data_acceptance"): MUNICIPALITY_VIEW,
    ("registry", "getLandscapeArchimate", "positive_data_acceptance"): MUNICIPALITY_VIEW,
    ("registry", "getFacilityRadar", "positive_data_acceptance"): (
        "The query's offeringId (a UUID in the schema) must be an offering of this facility; "
        "another one is 400 invalidParams offeringId (the stateful phase links any offering)."
    ),
    ("registry", "getFacilityRadarCsv", "positive_data_acceptance"): (
        "As getFacilityRadar: offeringId must be an offering of this facility (400)."
    ),
    ("registry", "createVulnerability", "positive_data_acceptance"): REFERENCE
    + " (offeringId, affectedVersionIds must be versions of it); cvssScore has one decimal.",
    ("registry", "updateVulnerability", "positive_data_acceptance"): REFERENCE
    + " (affectedVersionIds); cvssScore has one decimal.",
    ("registry", "createIntegration", "positive_data_acceptance"): REFERENCE
    + " (sourceOfferingId, targetOfferingId; the two must differ).",
    ("identity", "createClient", "positive_data_acceptance"): (
        "Client registration rules across fields (redirect URIs for the code flow, keys "
        "for private_key_jwt, the bsn scope only with a legal basis): 400 invalidParams."
    ),
    ("identity", "replaceClient", "positive_data_acceptance"): (
        "As createClient: the registration rules across fields (400)."
    ),
}


def excluded(service: str, operation_id: str | None) -> list[Any]:
    """The check functions not run for this operation."""
    from schemathesis.checks import CHECKS, load_all_checks

    load_all_checks()
    names = {
        check
        for (part, operation, check) in KNOWN
        if part == service and operation in ("*", operation_id)
    }
    return [c for c in CHECKS.get_all() if c.__name__ in names]


def configure(schema: Any) -> None:
    """Every check on, with the documented widening of expected statuses."""
    from schemathesis.checks import load_all_checks

    load_all_checks()
    schema.config.generation.update(allow_x00=False)  # NO_NUL_REASON
    checks = schema.config.checks
    for name, (extra, _reason) in EXPECTED_STATUSES.items():
        config = getattr(checks, name)
        config.expected_statuses = [*config.expected_statuses, *extra]
