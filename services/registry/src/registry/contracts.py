"""Who may see contract details: everyone's (operator, ``registry:contracts``) or only the
caller's own municipality's.

Contract details are a usage's contract end, notice period, value band and annual cost,
the offering version it runs (which, with the public vulnerabilities, tells its exposure),
and everything derived from them: the radar, costs, notice alerts, the landscape. Any reader may see
who uses which facility or offering (status, start); the details of a contract only the
municipality's own staff, the operator and callers with ``registry:contracts`` (lead
parties planning joint tenders, the procurement service)."""

from __future__ import annotations

import uuid
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.auth import Principal
from servicekit.db import Database
from servicekit.errors import Forbidden
from servicekit.events import CloudEvent

from .auth import CONTRACTS, MUNICIPALITY, Reader, is_operator
from .organisations.repository import OrganisationRepository
from .usages.schemas import UsageOut

# The members of a usage that are its contract's details (snake case as in UsageOut). The
# version run is one: with the public vulnerabilities it tells the municipality's exposure.
CONTRACT_FIELDS = (
    "version_id",
    "contract_end_date",
    "notice_period_months",
    "contract_value_band",
    "annual_cost",
)
# Members beside a usage that name a withheld one (the CSV export's version label).
LABELS = ("version",)
# What a usage event on the feed may show every reader (camelCase, as in the event data).
PUBLIC_USAGE_EVENT_KEYS = frozenset(
    {
        "id",
        "usageId",
        "municipalityId",
        "facilityId",
        "offeringId",
        "inheritedFromId",
        "status",
        "startDate",
        "createdAt",
        "updatedAt",
        "mergerId",
        "contractDetailsShown",
    }
)
USAGE_EVENT_PREFIX = "nl.samen.registry.usage."

Out = TypeVar("Out", bound=UsageOut)


def sees_every_contract(principal: Principal) -> bool:
    return is_operator(principal) or CONTRACTS in principal.scopes


@dataclass(frozen=True)
class ContractView:
    """The contracts one caller may see: every one, or its own municipality's (``own``,
    None for a caller that is no municipality)."""

    every: bool
    own: uuid.UUID | None = None

    @property
    def key(self) -> Hashable:
        """Part of a read-cache key: pages shown differently are kept apart."""
        return "every" if self.every else ("own", self.own)

    def may_see(self, municipality_id: uuid.UUID) -> bool:
        return self.every or (self.own is not None and self.own == municipality_id)

    def require(self, municipality_id: uuid.UUID, what: str) -> None:
        if not self.may_see(municipality_id):
            raise Forbidden(
                f"Only the municipality's own staff, the operator or a holder of "
                f"{CONTRACTS} may read {what}."
            )

    def require_every(self, what: str) -> None:
        if not self.every:
            raise Forbidden(f"Only the operator or a holder of {CONTRACTS} may read {what}.")

    def usage(self, out: Out) -> Out:
        """The usage as this caller may see it: without its contract details (null, and
        ``contractDetailsShown`` false) unless they are the caller's to see."""
        if self.may_see(out.municipality_id):
            return out
        withheld = [f for f in (*CONTRACT_FIELDS, *LABELS) if f in type(out).model_fields]
        return out.model_copy(update={**dict.fromkeys(withheld), "contract_details_shown": False})

    def event(self, event: CloudEvent) -> CloudEvent:
        """A feed event as this caller may see it: a usage event of a municipality not the
        caller's keeps only who uses what (ids, status, start; ``contractDetailsShown``
        false)."""
        if not event.type.startswith(USAGE_EVENT_PREFIX) or self.every:
            return event
        if self.own is not None and event.data.get("municipalityId") == str(self.own):
            return event
        kept = {k: v for k, v in event.data.items() if k in PUBLIC_USAGE_EVENT_KEYS}
        return event.model_copy(update={"data": {**kept, "contractDetailsShown": False}})


def view_or_organisation(principal: Principal | None) -> ContractView | str:
    """The view of a caller (None: anonymous, who sees no contract), or the organisation
    id of a municipality's staff member, whose municipality is still to be looked up."""
    if principal is None:
        return ContractView(every=False)
    if sees_every_contract(principal):
        return ContractView(every=True)
    if principal.org_type != MUNICIPALITY or not principal.org_id:
        return ContractView(every=False)
    return principal.org_id


async def staff_view(session: AsyncSession, org_id: str) -> ContractView:
    """The view of a municipality's staff member: their own municipality's contracts."""
    own = await OrganisationRepository(session).municipality_id_of(org_id)
    return ContractView(every=False, own=own)


async def contract_view_in(session: AsyncSession, principal: Principal | None) -> ContractView:
    """The view of a caller, looked up in ``session`` where needed."""
    view = view_or_organisation(principal)
    return view if isinstance(view, ContractView) else await staff_view(session, view)


async def contract_view(principal: Reader, request: Request) -> ContractView:
    # A session only when a municipality is to be looked up: the reads of callers who see
    # every contract (lead parties, procurement, the operator) open none.
    view = view_or_organisation(principal)
    if isinstance(view, ContractView):
        return view
    database: Database = request.app.state.database
    async with database.read_sessionmaker() as session:
        return await staff_view(session, view)


ContractViewDep = Annotated[ContractView, Depends(contract_view)]


async def feed_view(
    session: AsyncSession, principal: Principal, events: list[CloudEvent]
) -> list[CloudEvent]:
    """The change feed as this caller may see it (usage events of other municipalities
    without their contract details)."""
    if not any(e.type.startswith(USAGE_EVENT_PREFIX) for e in events):
        return events
    view = await contract_view_in(session, principal)
    return [view.event(e) for e in events]


async def webhook_view(session: AsyncSession, owner_org: str | None) -> ContractView:
    """What a webhook subscription is sent: the contract details of its owner's own
    municipality only. A subscription does not keep its owner's scopes, so the operator's
    and ``registry:contracts`` holders' webhooks get other municipalities' usage events
    without them too (they read them with ``GET /v1/usages``)."""
    if not owner_org:
        return ContractView(every=False)
    return ContractView(
        every=False, own=await OrganisationRepository(session).municipality_id_of(owner_org)
    )
