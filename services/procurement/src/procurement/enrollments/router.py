"""Enrollment endpoints (HTTP only; rules live in service.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response

from servicekit.clock import ClockDep
from servicekit.db import SessionDep
from servicekit.http import IfMatchDep, json_router
from servicekit.idempotency import idempotency_key, idempotency_owner
from servicekit.pagination import Page, PageDep
from servicekit.responses import (
    error_responses,
    page_response,
    tagged_response,
)
from servicekit.routes import Routes

from ..deps import CREATED, Enroller, EnrollmentId, Reader, RegistryDep, TenderId
from . import reads, service
from .schemas import (
    EnrollmentChange,
    EnrollmentIn,
    EnrollmentOut,
    EnrollmentStatus,
    MandateOut,
    WithdrawalIn,
)

router = json_router("enrollments")


@router.post(
    "/v1/tenders/{tenderId}/enrollments",
    operation_id="createEnrollment",
    summary="Enroll the caller's municipality with a mandate (volmacht)",
    description=(
        "Needs a login of level of assurance substantial or higher (else 403 with "
        "`requiredAcr`). Omitted start dates are proposed from the registry; when the "
        "registry is unreachable they must be given (else 503 with Retry-After). "
        "Send an `Idempotency-Key` so retries never enroll twice."
    ),
    status_code=201,
    response_model=EnrollmentOut,
    responses=error_responses(409, 422, 503, **{"201": CREATED}),
)
async def create_enrollment(
    request: Request,
    tender_id: TenderId,
    body: EnrollmentIn,
    session: SessionDep,
    registry: RegistryDep,
    clock: ClockDep,
    principal: Enroller,
) -> Response:
    # The key is stored in the enrollment's own transaction.
    key = await idempotency_key(request, idempotency_owner(principal))
    return await service.enroll(session, registry, principal, tender_id, body, clock, key)


@router.get(
    "/v1/tenders/{tenderId}/enrollments",
    operation_id="listEnrollments",
    summary="List enrollments (the lead party sees all, a municipality its own)",
    response_model=Page[EnrollmentOut],
)
async def list_enrollments(
    request: Request,
    tender_id: TenderId,
    session: SessionDep,
    registry: RegistryDep,
    principal: Reader,
    params: PageDep,
    status: Annotated[EnrollmentStatus | None, Query()] = None,
) -> Response:
    outs, total = await reads.list_enrollments(
        session, registry, principal, tender_id, params, status
    )
    return page_response(request, outs, total, params)


enrollments = Routes(
    router,
    "/v1/tenders/{tenderId}/enrollments/{enrollmentId}",
    EnrollmentOut,
    TenderId,
    EnrollmentId,
    readers=Reader,
    writers=Enroller,
)
enrollments.read(
    reads.get,
    "getEnrollment",
    "Read an enrollment with its current mandate",
    with_caller=True,
    uses={"registry": RegistryDep},
)
enrollments.change(
    service.change,
    EnrollmentChange,
    "updateEnrollment",
    "Change the enrolled lots (If-Match required; until the window closes)",
    errors=(409, 412, 428, 503),
    method="PUT",
    uses={"registry": RegistryDep, "clock": ClockDep},
)


@router.post(
    "/v1/tenders/{tenderId}/enrollments/{enrollmentId}/withdrawal",
    operation_id="withdrawEnrollment",
    summary="Withdraw the enrollment (If-Match required; until the window closes)",
    response_model=EnrollmentOut,
    responses=error_responses(409, 412, 428),
)
async def withdraw_enrollment(
    tender_id: TenderId,
    enrollment_id: EnrollmentId,
    session: SessionDep,
    if_match: IfMatchDep,
    clock: ClockDep,
    principal: Enroller,
    body: WithdrawalIn | None = None,
) -> Response:
    reason = body.reason if body else None
    return tagged_response(
        await service.withdraw(
            session, principal, tender_id, enrollment_id, reason, if_match, clock
        )
    )


@router.get(
    "/v1/tenders/{tenderId}/enrollments/{enrollmentId}/mandates",
    operation_id="listMandates",
    summary="Every mandate recorded for an enrollment (immutable, oldest first)",
    response_model=list[MandateOut],
)
async def list_mandates(
    tender_id: TenderId, enrollment_id: EnrollmentId, session: SessionDep, principal: Reader
) -> list[MandateOut]:
    return await reads.list_mandates(session, principal, tender_id, enrollment_id)
