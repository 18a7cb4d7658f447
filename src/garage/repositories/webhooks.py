"""Webhooks and their deliveries (API-operations.md "Events": Webhooks, Delivery).

A webhook's secret is stored sealed (vocabulary.SENSITIVE_FIELDS; the service seals and opens it)
and never reaches the audit log (vocabulary.AUDIT_OMITTED). Deliveries are made from the event log
by the fan-out (`WebhookDeliveryRepository.fan_out`): the events after the cursor row become one
PENDING delivery per matching webhook, and the cursor moves past them in the same transaction, so
an event is fanned out exactly once whatever crashes. The delivery worker
(runtime/webhook_delivery.py) then works from these rows only: at least once across restarts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from garage.db import insert_rows
from garage.repositories.base import Repository
from garage.repositories.pagination import Page, after, page_of, page_window
from garage.repositories.records import Event, Webhook, WebhookDelivery
from garage.vocabulary import AuditAction, AuditEntity, WebhookDeliveryStatus

CURSOR_ID = 1  # the one WebhookCursor row (inserted by the migration)


def types_of(webhook: Webhook) -> list[str]:
    """The event types a webhook wants ([] = all)."""
    types: list[str] = json.loads(webhook.types)
    return types


def wants(webhook: Webhook, event: Event) -> bool:
    if webhook.garageId is not None and webhook.garageId != event.garageId:
        return False
    types = types_of(webhook)
    # an event committed before the webhook existed is not its business (it may still be unfanned)
    return (not types or event.type in types) and event.occurredAt >= webhook.createdAt


@dataclass(frozen=True)
class DueDelivery:
    """A delivery to attempt now, with what the attempt needs (None: its event was deleted by retention)."""

    delivery: WebhookDelivery
    webhook: Webhook
    event: Event | None


class WebhookRepository(Repository):
    async def create(self, *, url: str, types: Sequence[str], garage_id: str | None, sealed_secret: str) -> Webhook:
        webhook = await self._writing().webhook.create(
            data={"url": url, "types": json.dumps(list(types)), "garageId": garage_id, "secret": sealed_secret}
        )
        self._record(AuditAction.CREATE, AuditEntity.WEBHOOK, webhook.id, after=webhook)
        return webhook

    async def live_by_id(self, webhook_id: str) -> Webhook | None:
        return await self._db.webhook.find_first(where={"id": webhook_id, "deletedAt": None})

    async def list_live(self) -> list[Webhook]:
        """Every live webhook, newest first (a handful: one page)."""
        return await self._db.webhook.find_many(
            where={"deletedAt": None}, order=[{"createdAt": "desc"}, {"id": "desc"}]
        )

    async def soft_delete(self, webhook: Webhook, at: datetime) -> Webhook:
        """Deletes `webhook` (read in the same transaction, live): nothing more is delivered to it;
        its pending deliveries fail at their next attempt."""
        deleted = await self._writing().webhook.update(where={"id": webhook.id}, data={"deletedAt": at})
        assert deleted is not None, f"webhook {webhook.id} vanished inside its transaction"
        self._record(AuditAction.DELETE, AuditEntity.WEBHOOK, webhook.id, before=webhook, after=deleted)
        return deleted

    async def with_secret(self, *, after_id: str | None, limit: int) -> list[Webhook]:
        """Every webhook, deleted ones too (each holds a sealed secret), by id: key rotation. A deleted
        one's secret is never used again, but left under a retired key it would no longer open."""
        return await self._db.webhook.find_many(order={"id": "asc"}, take=limit, **after(after_id))

    async def count_with_secret(self) -> int:
        """How many webhooks with_secret goes through (key rotation's progress)."""
        return await self._db.webhook.count()

    async def set_secret(self, webhook_id: str, sealed_secret: str) -> None:
        """Key rotation: the same secret sealed with the current key (the job's ROTATE_KEYS entry)."""
        self._covered_by_job()
        await self._writing().webhook.update(where={"id": webhook_id}, data={"secret": sealed_secret})


class WebhookDeliveryRepository(Repository):
    async def fan_out_pending(self) -> bool:
        """Whether events were committed after the fan-out's cursor (a read: no write lock taken)."""
        cursor = await self._db.webhookcursor.find_unique(where={"id": CURSOR_ID})
        after = cursor.seq if cursor is not None else 0
        return await self._db.event.find_first(where={"seq": {"gt": after}}) is not None

    async def fan_out(self, *, limit: int, now: datetime) -> int:
        """One PENDING delivery (due at once) per live webhook that wants it, for up to `limit`
        events after the cursor, and the cursor moved past them. Run it in a transaction: the
        deliveries and the cursor move together. Returns how many events were fanned out."""
        self._covered_by_job()  # bookkeeping of the delivery worker, not a change anyone made
        client = self._writing()
        cursor = await client.webhookcursor.find_unique(where={"id": CURSOR_ID})
        after = cursor.seq if cursor is not None else 0
        events = await client.event.find_many(where={"seq": {"gt": after}}, order={"seq": "asc"}, take=limit)
        if not events:
            return 0
        webhooks = await client.webhook.find_many(where={"deletedAt": None})
        rows: list[dict[str, Any]] = [
            {
                "webhookId": webhook.id,
                "eventSeq": event.seq,
                "status": str(WebhookDeliveryStatus.PENDING),
                "nextAttemptAt": now,
                "updatedAt": now,
            }
            for event in events
            for webhook in webhooks
            if wants(webhook, event)
        ]
        await insert_rows(self._writing(), "WebhookDelivery", rows)
        await self._writing().webhookcursor.upsert(
            where={"id": CURSOR_ID},
            data={"create": {"id": CURSOR_ID, "seq": events[-1].seq}, "update": {"seq": events[-1].seq}},
        )
        return len(events)

    async def due(self, now: datetime, *, limit: int) -> list[DueDelivery]:
        """PENDING deliveries whose next attempt is due, the oldest due first, with their webhook
        and event."""
        deliveries = await self._db.webhookdelivery.find_many(
            where={"status": str(WebhookDeliveryStatus.PENDING), "nextAttemptAt": {"lte": now}},
            order=[{"nextAttemptAt": "asc"}, {"eventSeq": "asc"}],
            take=limit,
            include={"webhook": True},
        )
        if not deliveries:
            return []
        seqs = sorted({delivery.eventSeq for delivery in deliveries})
        events = {event.seq: event for event in await self._db.event.find_many(where={"seq": {"in": seqs}})}
        due = []
        for delivery in deliveries:
            webhook = delivery.webhook
            assert webhook is not None, "included above"
            due.append(DueDelivery(delivery, webhook, events.get(delivery.eventSeq)))
        return due

    async def record_attempt(
        self,
        delivery: WebhookDelivery,
        *,
        status: WebhookDeliveryStatus,
        response_status: int | None,
        error: str | None,
        next_attempt_at: datetime | None,
        now: datetime,
    ) -> None:
        """The outcome of one attempt. Guarded on the attempt count read, so that an attempt
        recorded twice (a worker replaced mid-attempt) counts once."""
        self._covered_by_job()  # per-attempt bookkeeping: the deliveries list shows it, not the audit log
        await self._writing().webhookdelivery.update_many(
            where={"id": delivery.id, "attempts": delivery.attempts, "status": str(WebhookDeliveryStatus.PENDING)},
            data={
                "status": str(status),
                "attempts": delivery.attempts + 1,
                "lastResponseStatus": response_status,
                "lastError": error,
                "nextAttemptAt": next_attempt_at,
                "updatedAt": now,
            },
        )

    async def of_webhook(self, webhook_id: str, *, limit: int, cursor: str | None) -> Page[WebhookDelivery]:
        """A webhook's deliveries, newest event first."""
        rows = await self._db.webhookdelivery.find_many(
            where={"webhookId": webhook_id},
            order=[{"eventSeq": "desc"}],
            **page_window(limit, cursor),
        )
        return page_of(rows, limit)
