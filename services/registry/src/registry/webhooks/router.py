"""HTTP for /v1/subscriptions (webhooks on the change feed)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from servicekit.http import json_router
from servicekit.routes import Routes

from ..auth import Reader, Writer
from ..common import SubscriptionId
from ..config import Settings
from . import service
from .schemas import (
    DeliveryOut,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionOut,
    SubscriptionPatch,
)

router = json_router("subscriptions")


def app_settings(request: Request) -> Settings:
    """The settings the app was made with (tests make apps with their own)."""
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(app_settings)]


# Created, a subscription is answered with its signing secret, shown this once.
Routes(router, "/v1/subscriptions", SubscriptionCreated, writers=Writer).create(
    service.create_subscription,
    SubscriptionCreate,
    "createSubscription",
    "Subscribe a webhook to the change feed",
    errors=(422,),
    uses={"settings": SettingsDep},
)


subscriptions = Routes(
    router,
    "/v1/subscriptions/{subscriptionId}",
    SubscriptionOut,
    SubscriptionId,
    readers=Reader,
    writers=Writer,
)
subscriptions.page(
    service.list_subscriptions,
    "listSubscriptions",
    "List your organisation's webhook subscriptions",
    with_caller=True,
)
subscriptions.read(
    service.get_subscription,
    "getSubscription",
    "Read a subscription and its delivery status",
    with_caller=True,
)
subscriptions.change(
    service.update_subscription,
    SubscriptionPatch,
    "updateSubscription",
    "Change, pause or resume a subscription (needs If-Match)",
    uses={"settings": SettingsDep},
)
subscriptions.delete(
    service.delete_subscription,
    "deleteSubscription",
    "Delete a subscription",
    errors=(),
    conditional=False,
)


Routes(
    router,
    "/v1/subscriptions/{subscriptionId}/deliveries",
    DeliveryOut,
    SubscriptionId,
    readers=Reader,
).page(
    service.list_deliveries,
    "listDeliveries",
    "Delivery attempts of a subscription, newest first",
    with_caller=True,
)
