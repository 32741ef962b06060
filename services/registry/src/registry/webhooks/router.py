"""HTTP for /v1/subscriptions (webhooks on the change feed)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Body, Path, Request, Response

from servicekit.db import SessionDep
from servicekit.http import IfMatchDep, json_router
from servicekit.idempotency import created
from servicekit.pagination import Page, PageDep
from servicekit.responses import (
    error_responses,
    no_content,
    page_response,
    tagged_response,
)

from ..auth import Reader, Writer
from . import service
from .schemas import (
    DeliveryOut,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionOut,
    SubscriptionPatch,
)

router = json_router("subscriptions")

SubscriptionId = Annotated[uuid.UUID, Path(alias="subscriptionId", description="Subscription id")]


@router.post(
    "/v1/subscriptions",
    operation_id="createSubscription",
    summary="Subscribe a webhook to the change feed",
    status_code=201,
    response_model=SubscriptionCreated,
    responses=error_responses(422),
)
async def create_subscription(
    request: Request,
    session: SessionDep,
    principal: Writer,
    body: SubscriptionCreate,
) -> Response:
    return await created(
        request,
        principal,
        lambda: service.create_subscription(session, principal, body, request.app.state.settings),
        lambda out: f"/v1/subscriptions/{out.id}",
    )


@router.get(
    "/v1/subscriptions",
    operation_id="listSubscriptions",
    summary="List your organisation's webhook subscriptions",
    response_model=Page[SubscriptionOut],
)
async def list_subscriptions(
    request: Request,
    session: SessionDep,
    principal: Reader,
    params: PageDep,
) -> Response:
    items, total = await service.list_subscriptions(session, principal, params)
    return page_response(request, items, total, params)


@router.get(
    "/v1/subscriptions/{subscriptionId}",
    operation_id="getSubscription",
    summary="Read a subscription and its delivery status",
    response_model=SubscriptionOut,
)
async def get_subscription(
    session: SessionDep,
    principal: Reader,
    subscription_id: SubscriptionId,
) -> Response:
    return tagged_response(await service.get_subscription(session, principal, subscription_id))


@router.patch(
    "/v1/subscriptions/{subscriptionId}",
    operation_id="updateSubscription",
    summary="Change, pause or resume a subscription (needs If-Match)",
    response_model=SubscriptionOut,
    responses=error_responses(412, 428),
)
async def update_subscription(
    request: Request,
    if_match: IfMatchDep,
    session: SessionDep,
    principal: Writer,
    subscription_id: SubscriptionId,
    patch: Annotated[SubscriptionPatch, Body()],
) -> Response:
    return tagged_response(
        await service.update_subscription(
            session,
            principal,
            subscription_id,
            patch,
            if_match,
            request.app.state.settings,
        )
    )


@router.delete(
    "/v1/subscriptions/{subscriptionId}",
    operation_id="deleteSubscription",
    summary="Delete a subscription",
    status_code=204,
)
async def delete_subscription(
    session: SessionDep,
    principal: Writer,
    subscription_id: SubscriptionId,
) -> Response:
    await service.delete_subscription(session, principal, subscription_id)
    return no_content()


@router.get(
    "/v1/subscriptions/{subscriptionId}/deliveries",
    operation_id="listDeliveries",
    summary="Delivery attempts of a subscription, newest first",
    response_model=Page[DeliveryOut],
)
async def list_deliveries(
    request: Request,
    session: SessionDep,
    principal: Reader,
    subscription_id: SubscriptionId,
    params: PageDep,
) -> Response:
    items, total = await service.list_deliveries(session, principal, subscription_id, params)
    return page_response(request, items, total, params)
