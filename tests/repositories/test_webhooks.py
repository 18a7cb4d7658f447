"""Webhooks and their deliveries (repositories/webhooks.py, API-operations.md "Events"): webhooks are
created, listed and soft-deleted in units of work with their audit entries (never their secret);
the fan-out turns the events after its cursor into PENDING deliveries for the live webhooks that
want them and moves the cursor in the same transaction; `due` hands out what to attempt;
`record_attempt` counts an attempt once; `of_webhook` pages a webhook's deliveries.

Tests share the session's database (and so its one fan-out cursor and event log): each drains
the fan-out first and then looks only at its own webhooks' deliveries."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from prisma import Prisma

from garage.repositories.base import WriteOutsideUnitOfWork
from garage.repositories.records import Event, Garage, Webhook, WebhookDelivery
from garage.repositories.rows import now_ms
from garage.repositories.unit_of_work import Database, UnitOfWork
from garage.repositories.webhooks import CURSOR_ID, DueDelivery, types_of
from garage.vocabulary import AuditAction, AuditEntity, EventType, WebhookDeliveryStatus
from tests.repositories.builders import ACTOR, audit_entries, make_garage, occupy

pytestmark = pytest.mark.asyncio(loop_scope="session")

SEALED = "v1:k:sealed-webhook-secret"  # stands for a ciphertext: the repository stores what it is given
PENDING, DELIVERED, FAILED = (
    WebhookDeliveryStatus.PENDING,
    WebhookDeliveryStatus.DELIVERED,
    WebhookDeliveryStatus.FAILED,
)
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


class Boom(Exception):
    pass


async def create_webhook(db: Prisma, *, types: Sequence[str] = (), garage: Garage | None = None) -> Webhook:
    url = f"https://hooks.example.com/{uuid.uuid4().hex[:8]}"

    async def work(unit: UnitOfWork) -> Webhook:
        return await unit.webhooks.create(
            url=url, types=types, garage_id=garage.id if garage is not None else None, sealed_secret=SEALED
        )

    webhook: Webhook = await Database(db).transaction(work, actor=ACTOR)
    return webhook


async def delete_webhook(db: Prisma, webhook_id: str, at: datetime) -> Webhook:
    async def work(unit: UnitOfWork) -> Webhook:
        live = await unit.webhooks.live_by_id(webhook_id)  # read in the same transaction, as the service does
        assert live is not None
        return await unit.webhooks.soft_delete(live, at)

    deleted: Webhook = await Database(db).transaction(work, actor=ACTOR)
    return deleted


async def fan_out(db: Prisma, *, limit: int, now: datetime) -> int:
    fanned: int = await Database(db).transaction(
        lambda unit: unit.webhook_deliveries.fan_out(limit=limit, now=now), actor=ACTOR
    )
    return fanned


async def drain(db: Prisma) -> None:
    """Fans out whatever other tests left after the cursor, so what follows is this test's."""
    while await fan_out(db, limit=1000, now=now_ms()):
        pass
    assert not await Database(db).webhook_deliveries.fan_out_pending()


async def cursor_seq(db: Prisma) -> int:
    cursor = await db.webhookcursor.find_unique(where={"id": CURSOR_ID})
    assert cursor is not None
    return cursor.seq


async def events_after(db: Prisma, mark: int) -> list[Event]:
    page = await Database(db).events.after(mark, garage_id=None, types=None, limit=10_000)
    assert page.next_after is None
    return page.items


async def deliveries_of(db: Prisma, webhook: Webhook) -> list[WebhookDelivery]:
    page = await Database(db).webhook_deliveries.of_webhook(webhook.id, limit=1000, cursor=None)
    assert page.next_after_id is None
    return page.items


async def stored_delivery(db: Prisma, delivery_id: str) -> WebhookDelivery:
    delivery = await db.webhookdelivery.find_unique(where={"id": delivery_id})
    assert delivery is not None
    return delivery


async def record_attempt(
    db: Prisma,
    delivery: WebhookDelivery,
    status: WebhookDeliveryStatus,
    *,
    response_status: int | None,
    error: str | None,
    next_attempt_at: datetime | None,
    now: datetime,
) -> None:
    await Database(db).transaction(
        lambda unit: unit.webhook_deliveries.record_attempt(
            delivery,
            status=status,
            response_status=response_status,
            error=error,
            next_attempt_at=next_attempt_at,
            now=now,
        ),
        actor=ACTOR,
    )


async def due_of(db: Prisma, now: datetime, *webhooks: Webhook) -> list[DueDelivery]:
    """The due deliveries of `webhooks` (others' may be due too: the database is shared)."""
    ids = {webhook.id for webhook in webhooks}
    return [item for item in await Database(db).webhook_deliveries.due(now, limit=10_000) if item.webhook.id in ids]


# ---- webhooks ----------------------------------------------------------------------------------------------


async def test_webhooks_are_created_listed_and_soft_deleted_with_audit_entries_without_the_secret(
    db: Prisma,
) -> None:
    database = Database(db)
    garage, _ = await make_garage(db, spots=1)
    with pytest.raises(WriteOutsideUnitOfWork):
        await database.webhooks.create(url="https://x.example.com/", types=[], garage_id=None, sealed_secret=SEALED)

    first = await create_webhook(db, types=[EventType.SPOT_CHANGED, EventType.OCCUPANCY_CHANGED], garage=garage)
    await asyncio.sleep(0.01)
    second = await create_webhook(db)
    assert first.secret == SEALED and first.garageId == garage.id and first.deletedAt is None
    assert types_of(first) == [EventType.SPOT_CHANGED, EventType.OCCUPANCY_CHANGED] and types_of(second) == []
    assert second.garageId is None
    assert await database.webhooks.live_by_id(first.id) == first

    mine = {first.id, second.id}
    assert [hook for hook in await database.webhooks.list_live() if hook.id in mine] == [second, first]  # newest first

    with pytest.raises(WriteOutsideUnitOfWork):
        await database.webhooks.soft_delete(first, now_ms())
    at = now_ms()
    deleted = await delete_webhook(db, first.id, at)
    assert deleted.id == first.id and deleted.deletedAt == at and deleted.secret == SEALED
    assert await database.webhooks.live_by_id(first.id) is None
    assert [hook.id for hook in await database.webhooks.list_live() if hook.id in mine] == [second.id]
    stored = await db.webhook.find_unique(where={"id": first.id})
    assert stored == deleted  # soft: still there

    entries = await audit_entries(db, AuditEntity.WEBHOOK, first.id)
    assert [(actor, action) for actor, action, _, _ in entries] == [
        (ACTOR, AuditAction.CREATE),
        (ACTOR, AuditAction.DELETE),
    ]
    (_, _, created_before, created), (_, _, deleted_before, deleted_after) = entries
    assert created_before is None and deleted_before == created
    assert isinstance(created, dict) and isinstance(deleted_after, dict)
    assert created["id"] == first.id and created["url"] == first.url and created["garageId"] == garage.id
    assert json.loads(created["types"]) == [EventType.SPOT_CHANGED, EventType.OCCUPANCY_CHANGED]
    assert created["deletedAt"] is None and deleted_after["deletedAt"] is not None
    assert {**deleted_after, "deletedAt": None} == created
    for entry in entries:
        # neither the ciphertext nor even whether one is set (AUDIT_OMITTED)
        assert SEALED not in json.dumps(entry[2:])
        assert all(view.get("secret") is None for view in entry[2:] if isinstance(view, dict))
    ((_, action, _, after),) = await audit_entries(db, AuditEntity.WEBHOOK, second.id)
    assert action == AuditAction.CREATE and isinstance(after, dict) and after.get("secret") is None


async def test_key_rotation_walks_every_webhook_by_id_and_rewrites_its_secret_unaudited(db: Prisma) -> None:
    database = Database(db)
    live, gone = await create_webhook(db), await create_webhook(db)
    await delete_webhook(db, gone.id, now_ms())
    seen: list[str] = []
    after: str | None = None
    while batch := await database.webhooks.with_secret(after_id=after, limit=2):
        seen += [hook.id for hook in batch]
        after = batch[-1].id
    assert seen == sorted(seen) and len(set(seen)) == len(seen)
    assert {live.id, gone.id} <= set(seen)  # a deleted one's secret too: no value is left under a retired key
    assert await database.webhooks.count_with_secret() == len(seen)  # what key rotation's progress counts

    with pytest.raises(WriteOutsideUnitOfWork):
        await database.webhooks.set_secret(live.id, "v1:k:resealed")
    await database.transaction(lambda unit: unit.webhooks.set_secret(live.id, "v1:k:resealed"), actor=ACTOR)
    stored = await db.webhook.find_unique(where={"id": live.id})
    assert stored is not None and stored.secret == "v1:k:resealed"
    assert {**stored.model_dump(), "secret": SEALED} == live.model_dump()  # nothing else changed
    # the rotation's one ROTATE_KEYS entry covers it (services/key_rotation.py)
    assert [action for _, action, _, _ in await audit_entries(db, AuditEntity.WEBHOOK, live.id)] == [AuditAction.CREATE]


# ---- fan-out ----------------------------------------------------------------------------------------------


async def test_fan_out_makes_pending_deliveries_for_the_webhooks_that_want_each_event(db: Prisma) -> None:
    deliveries = Database(db).webhook_deliveries
    with pytest.raises(WriteOutsideUnitOfWork):
        await deliveries.fan_out(limit=10, now=now_ms())
    await drain(db)
    assert await fan_out(db, limit=10, now=now_ms()) == 0  # nothing after the cursor: nothing moves
    mark = await cursor_seq(db)
    assert mark == await Database(db).events.newest_seq()

    garage_a, spots_a = await make_garage(db, spots=1)  # before every webhook: delivered to none
    garage_b, spots_b = await make_garage(db, spots=1)
    await asyncio.sleep(0.01)
    every = await create_webhook(db)
    spot_changes = await create_webhook(db, types=[EventType.SPOT_CHANGED])
    of_a = await create_webhook(db, garage=garage_a)
    b_occupancy = await create_webhook(db, types=[EventType.OCCUPANCY_CHANGED], garage=garage_b)
    other_types = await create_webhook(db, types=[EventType.PAYMENT_REFUNDED, EventType.SESSION_STARTED])
    gone = await create_webhook(db)
    await delete_webhook(db, gone.id, now_ms())
    await asyncio.sleep(0.01)
    await occupy(db, spots_a[0])  # spot.changed, occupancy.changed of a
    await occupy(db, spots_b[0])  # same of b
    assert await deliveries.fan_out_pending()
    assert await cursor_seq(db) == mark  # the pending check is a read

    events = await events_after(db, mark)
    assert [(event.garageId, event.type) for event in events] == [
        *[(garage_a.id, EventType.SPOT_CHANGED), (garage_a.id, EventType.OCCUPANCY_CHANGED)],
        *[(garage_b.id, EventType.SPOT_CHANGED), (garage_b.id, EventType.OCCUPANCY_CHANGED)],
        *[(garage_a.id, EventType.SPOT_CHANGED), (garage_a.id, EventType.OCCUPANCY_CHANGED)],
        *[(garage_b.id, EventType.SPOT_CHANGED), (garage_b.id, EventType.OCCUPANCY_CHANGED)],
    ]
    before_webhooks, after_webhooks = events[:4], events[4:]

    now = now_ms()
    assert await fan_out(db, limit=3, now=now) == 3  # up to `limit` events, oldest first
    assert await cursor_seq(db) == events[2].seq
    assert await deliveries.fan_out_pending()
    assert await fan_out(db, limit=100, now=now) == len(events) - 3
    assert await cursor_seq(db) == events[-1].seq
    assert not await deliveries.fan_out_pending()
    assert await fan_out(db, limit=100, now=now) == 0

    def seqs(wanted: Sequence[Event]) -> list[int]:
        return [event.seq for event in reversed(wanted)]  # of_webhook: newest event first

    a_spot, a_occupancy, b_spot, b_occupancy_event = after_webhooks
    assert [d.eventSeq for d in await deliveries_of(db, every)] == seqs(after_webhooks)
    assert [d.eventSeq for d in await deliveries_of(db, spot_changes)] == seqs([a_spot, b_spot])
    assert [d.eventSeq for d in await deliveries_of(db, of_a)] == seqs([a_spot, a_occupancy])
    assert [d.eventSeq for d in await deliveries_of(db, b_occupancy)] == seqs([b_occupancy_event])
    assert await deliveries_of(db, other_types) == []
    assert await deliveries_of(db, gone) == []  # deleted before the events
    assert not {event.seq for event in before_webhooks} & {d.eventSeq for d in await deliveries_of(db, every)}

    for delivery in await deliveries_of(db, every):
        assert delivery.webhookId == every.id and delivery.status == PENDING and delivery.attempts == 0
        assert delivery.nextAttemptAt == now and delivery.updatedAt == now  # due at once
        assert delivery.lastResponseStatus is None and delivery.lastError is None
    # the fan-out is the worker's bookkeeping: no audit entry for the webhook or its deliveries
    assert [action for _, action, _, _ in await audit_entries(db, AuditEntity.WEBHOOK, every.id)] == [
        AuditAction.CREATE
    ]
    for delivery in await deliveries_of(db, every):
        assert await audit_entries(db, "WebhookDelivery", delivery.id) == []

    for hook in (every, spot_changes, of_a, b_occupancy, other_types):  # leave no live webhook behind
        await delete_webhook(db, hook.id, now_ms())


async def test_the_deliveries_and_the_cursor_move_together_or_not_at_all(db: Prisma) -> None:
    await drain(db)
    garage, spots = await make_garage(db, spots=1)
    await asyncio.sleep(0.01)
    hook = await create_webhook(db, garage=garage)
    await occupy(db, spots[0])
    mark = await cursor_seq(db)
    assert await Database(db).webhook_deliveries.fan_out_pending()

    async def fan_out_then_fail(unit: UnitOfWork) -> None:
        assert await unit.webhook_deliveries.fan_out(limit=100, now=now_ms()) > 0
        inside = await unit.webhook_deliveries.of_webhook(hook.id, limit=10, cursor=None)
        assert len(inside.items) == 2  # written in the transaction...
        raise Boom

    with pytest.raises(Boom):
        await Database(db).transaction(fan_out_then_fail, actor=ACTOR)
    assert await cursor_seq(db) == mark and await deliveries_of(db, hook) == []  # ...and rolled back with the cursor
    assert await Database(db).webhook_deliveries.fan_out_pending()

    await drain(db)  # the same events again: fanned out exactly once
    assert len(await deliveries_of(db, hook)) == 2
    await delete_webhook(db, hook.id, now_ms())


# ---- due and attempts ---------------------------------------------------------------------------------


async def test_due_hands_out_pending_deliveries_oldest_first_with_their_webhook_and_event(db: Prisma) -> None:
    database = Database(db)
    await drain(db)
    garage, spots = await make_garage(db, spots=2)
    await asyncio.sleep(0.01)
    hook = await create_webhook(db, garage=garage)
    mark = await database.events.newest_seq()
    await occupy(db, spots[0])
    events = await events_after(db, mark)  # spot.changed, occupancy.changed
    now = now_ms()
    await fan_out(db, limit=100, now=now)
    assert await database.webhook_deliveries.due(LONG_AGO, limit=100) == []  # nothing due then

    due = await due_of(db, now, hook)
    assert [(item.delivery.eventSeq, item.event) for item in due] == [(event.seq, event) for event in events]
    stored_hook = await database.webhooks.live_by_id(hook.id)
    assert all(item.webhook == stored_hook for item in due)
    assert await due_of(db, now - timedelta(milliseconds=1), hook) == []
    first, second = (item.delivery for item in due)

    later = now + timedelta(seconds=30)
    await record_attempt(db, first, PENDING, response_status=500, error="HTTP 500", next_attempt_at=later, now=now)
    retried = await stored_delivery(db, first.id)
    assert (retried.status, retried.attempts, retried.lastResponseStatus, retried.lastError) == (
        PENDING,
        1,
        500,
        "HTTP 500",
    )
    assert retried.nextAttemptAt == later and retried.updatedAt == now
    assert [item.delivery.id for item in await due_of(db, now, hook)] == [second.id]
    assert [item.delivery.id for item in await due_of(db, later, hook)] == [second.id, first.id]  # oldest due first

    # the same attempt recorded again (a replaced worker's): it counts once
    await record_attempt(db, first, FAILED, response_status=None, error="again", next_attempt_at=None, now=later)
    assert await stored_delivery(db, first.id) == retried

    await record_attempt(db, retried, DELIVERED, response_status=204, error=None, next_attempt_at=None, now=later)
    delivered = await stored_delivery(db, first.id)
    assert (delivered.status, delivered.attempts, delivered.lastResponseStatus, delivered.lastError) == (
        DELIVERED,
        2,
        204,
        None,
    )
    assert delivered.nextAttemptAt is None and delivered.updatedAt == later
    await record_attempt(db, retried, PENDING, response_status=500, error="late", next_attempt_at=now, now=later)
    assert await stored_delivery(db, first.id) == delivered

    await record_attempt(db, second, FAILED, response_status=None, error="timed out", next_attempt_at=None, now=later)
    failed = await stored_delivery(db, second.id)
    assert (failed.status, failed.attempts, failed.lastResponseStatus, failed.lastError) == (
        FAILED,
        1,
        None,
        "timed out",
    )
    await record_attempt(db, failed, DELIVERED, response_status=200, error=None, next_attempt_at=None, now=later)
    assert await stored_delivery(db, second.id) == failed  # a finished delivery stays finished
    assert await due_of(db, later + timedelta(days=1), hook) == []

    with pytest.raises(WriteOutsideUnitOfWork):
        await database.webhook_deliveries.record_attempt(
            retried, status=DELIVERED, response_status=200, error=None, next_attempt_at=None, now=later
        )
    await delete_webhook(db, hook.id, now_ms())


async def test_due_hands_out_deliveries_of_deleted_webhooks_and_of_events_retention_deleted(db: Prisma) -> None:
    await drain(db)
    garage, spots = await make_garage(db, spots=1)
    await asyncio.sleep(0.01)
    hook = await create_webhook(db, garage=garage)
    await occupy(db, spots[0])
    now = now_ms()
    await fan_out(db, limit=100, now=now)
    # as retention leaves a delivery whose event was deleted (seq 0 was never an event's)
    orphan = await db.webhookdelivery.create(
        data={"webhookId": hook.id, "eventSeq": 0, "status": str(PENDING), "nextAttemptAt": now, "updatedAt": now}
    )
    deleted = await delete_webhook(db, hook.id, now_ms())

    due = await due_of(db, now, hook)
    assert len(due) == 3 and due[0].delivery.eventSeq == 0  # its nextAttemptAt ties: the lowest seq first
    assert due[0].delivery.id == orphan.id and due[0].event is None
    assert all(item.event is not None and item.event.seq == item.delivery.eventSeq for item in due[1:])
    assert all(item.webhook == deleted for item in due)  # the worker fails them: the webhook is gone
    for item in due:
        await record_attempt(
            db, item.delivery, FAILED, response_status=None, error="webhook deleted", next_attempt_at=None, now=now
        )
    assert await due_of(db, now, hook) == []


# ---- listing ----------------------------------------------------------------------------------------------


async def test_of_webhook_pages_a_webhooks_deliveries_newest_event_first(db: Prisma) -> None:
    database = Database(db)
    await drain(db)
    garage, spots = await make_garage(db, spots=3)
    await asyncio.sleep(0.01)
    hook = await create_webhook(db, garage=garage)
    neighbour = await create_webhook(db, types=[EventType.SPOT_CHANGED], garage=garage)
    for spot in spots:
        await occupy(db, spot)  # 3 x (spot.changed, occupancy.changed)
    await fan_out(db, limit=100, now=now_ms())

    every = await deliveries_of(db, hook)
    assert len(every) == 6 and [d.eventSeq for d in every] == sorted((d.eventSeq for d in every), reverse=True)
    assert len(await deliveries_of(db, neighbour)) == 3

    pages: list[list[WebhookDelivery]] = []
    cursor: str | None = None
    while True:
        page = await database.webhook_deliveries.of_webhook(hook.id, limit=4, cursor=cursor)
        pages.append(page.items)
        if page.next_after_id is None:
            break
        assert page.next_after_id == page.items[-1].id
        cursor = page.next_after_id
    assert [len(items) for items in pages] == [4, 2]
    assert [d for items in pages for d in items] == every

    exact = await database.webhook_deliveries.of_webhook(hook.id, limit=6, cursor=None)
    assert exact.items == every and exact.next_after_id is None
    none = await database.webhook_deliveries.of_webhook("no-such-webhook", limit=6, cursor=None)
    assert none.items == [] and none.next_after_id is None
    for webhook in (hook, neighbour):
        await delete_webhook(db, webhook.id, now_ms())
