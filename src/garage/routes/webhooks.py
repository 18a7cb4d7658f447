"""/admin/webhooks: webhooks for the event log and their deliveries (API-operations.md "Events")."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from garage.repositories.events import event_id
from garage.repositories.records import Webhook, WebhookDelivery
from garage.repositories.webhooks import types_of
from garage.routes.endpoint import Call, Router
from garage.routes.models import (
    ApiModel,
    IdText,
    ListQuery,
    ListResponse,
    RequestModel,
    Timestamp,
    encode_cursor,
)
from garage.vocabulary import EventType, Role, WebhookDeliveryStatus

ROUTER = Router()
"""This module's endpoints (listed in routes/api.py)."""

DELIVERY = (
    "Each event is POSTed as JSON (as GET /events lists it) with headers Garage-Event-Id and Garage-Signature: "
    't=<unix seconds>,v1=<hex HMAC-SHA256 keyed by the secret over "<t>." + the body>; a 2xx answer within 10 s '
    "delivers it, otherwise it is retried with exponential backoff for 24 h."
)


class WebhookOut(ApiModel, title="Webhook"):
    """A webhook (never its secret: shown only when it is created)."""

    id: str
    url: str
    types: list[EventType] = Field(description="The event types delivered; empty: all")
    garage_id: str | None = Field(description="Only this garage's events; null: every garage's")
    created_at: Timestamp

    @classmethod
    def of(cls, webhook: Webhook) -> WebhookOut:
        return cls(
            id=webhook.id,
            url=webhook.url,
            types=[EventType(name) for name in types_of(webhook)],
            garage_id=webhook.garageId,
            created_at=webhook.createdAt,
        )


class WebhookList(ListResponse[WebhookOut]):
    """Every live webhook, newest first, on one page (`nextCursor` is always null)."""


class CreatedWebhookOut(WebhookOut, title="CreatedWebhook"):
    """A new webhook, with its secret: shown this once, stored encrypted."""

    secret: str = Field(description="Keys the Garage-Signature of each delivery; shown once")


class CreateWebhookIn(RequestModel):
    """A new webhook."""

    model_config = ConfigDict(
        title="CreateWebhookRequest",
        json_schema_extra={"examples": [{"url": "https://example.com/garage-events", "types": ["session.started"]}]},
    )

    url: str = Field(
        min_length=1,
        max_length=2000,
        description="http(s); loopback and private addresses are refused unless GARAGE_WEBHOOK_ALLOW_PRIVATE",
    )
    types: list[EventType] = Field(
        default_factory=list, max_length=50, description="Event types; empty or left out: all"
    )
    garage_id: IdText | None = Field(None, description="Only this garage's events; left out: every garage's")


class WebhookDeliveryOut(ApiModel, title="WebhookDelivery"):
    """One event's delivery to the webhook."""

    event_id: str
    attempts: int
    status: WebhookDeliveryStatus
    last_response_status: int | None = Field(description="The HTTP status of the last attempt's answer, if any")
    last_error: str | None = Field(description="Why the last attempt failed; null once delivered")
    next_attempt_at: Timestamp | None = Field(description="When it is tried next; null once DELIVERED or FAILED")
    updated_at: Timestamp

    @classmethod
    def of(cls, delivery: WebhookDelivery) -> WebhookDeliveryOut:
        return cls(
            event_id=event_id(delivery.eventSeq),
            attempts=delivery.attempts,
            status=WebhookDeliveryStatus(delivery.status),
            last_response_status=delivery.lastResponseStatus,
            last_error=delivery.lastError,
            next_attempt_at=delivery.nextAttemptAt,
            updated_at=delivery.updatedAt,
        )


class WebhookDeliveryList(ListResponse[WebhookDeliveryOut]):
    """A page of a webhook's deliveries, newest event first."""


@ROUTER.endpoint(
    "POST",
    "/admin/webhooks",
    role=Role.ADMIN,
    summary="Register a webhook (its secret is shown once). " + DELIVERY,
    tag="events",
    body=CreateWebhookIn,
    response=CreatedWebhookOut,
    status=201,
    errors=("NOT_FOUND",),
    operation_id="createWebhook",
)
async def create_webhook(call: Call[CreateWebhookIn, None]) -> CreatedWebhookOut:
    body = call.body
    created = await call.services.webhooks.create(
        url=body.url, types=[str(name) for name in body.types], garage_id=body.garage_id, actor=call.principal.key_id
    )
    shown = WebhookOut.of(created.record)
    return CreatedWebhookOut(**shown.model_dump(), secret=created.secret)


@ROUTER.endpoint(
    "GET",
    "/admin/webhooks",
    role=Role.ADMIN,
    summary="List webhooks (without their secrets)",
    tag="events",
    response=WebhookList,
    operation_id="listWebhooks",
)
async def list_webhooks(call: Call[None, None]) -> WebhookList:
    webhooks = await call.services.webhooks.list()
    return WebhookList(items=[WebhookOut.of(webhook) for webhook in webhooks], next_cursor=None)


@ROUTER.endpoint(
    "DELETE",
    "/admin/webhooks/{id}",
    role=Role.ADMIN,
    summary="Delete a webhook: nothing more is delivered to it",
    tag="events",
    status=204,
    errors=("NOT_FOUND",),
    operation_id="deleteWebhook",
)
async def delete_webhook(call: Call[None, None]) -> None:
    await call.services.webhooks.delete(call.path("id"), actor=call.principal.key_id)


@ROUTER.endpoint(
    "GET",
    "/admin/webhooks/{id}/deliveries",
    role=Role.ADMIN,
    summary="A webhook's deliveries, newest event first",
    tag="events",
    query=ListQuery,
    response=WebhookDeliveryList,
    errors=("NOT_FOUND",),
    operation_id="listWebhookDeliveries",
)
async def list_webhook_deliveries(call: Call[None, ListQuery]) -> WebhookDeliveryList:
    page = await call.services.webhooks.deliveries(call.path("id"), limit=call.query.limit, cursor=call.query.after_id)
    return WebhookDeliveryList(
        items=[WebhookDeliveryOut.of(delivery) for delivery in page.items],
        next_cursor=encode_cursor(page.next_after_id),
    )
