"""PaymentRepository: the batched create, one per session, refund guard, filtered keyset lists."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prisma import Prisma

from garage.errors import UniqueViolation
from garage.repositories.pagination import position
from garage.repositories.records import Payment
from garage.repositories.rows import now_ms
from garage.repositories.unit_of_work import Database, UnitOfWork
from garage.vocabulary import PaymentMethod, PaymentStatus
from tests.repositories.builders import ACTOR, T0, assert_batch_writes_nothing, make_garage, pay, start_session

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_queue_create_writes_exactly_the_payment_it_returns(db: Prisma) -> None:
    garage, spots = await make_garage(db, spots=1)
    session = await start_session(db, spots[0], start=T0)
    database, now, paid_at = Database(db), now_ms(), T0 + timedelta(minutes=90)
    async with database.batch(actor=ACTOR) as unit:
        payment = unit.payments.queue_create(
            session_id=session.id, garage_id=garage.id, amount_cents=450, currency="EUR", method=PaymentMethod.CARD,
            reference="v1:k:sealed", discount_cents=0, created_at=paid_at, now=now,
        )
    assert (payment.sessionId, payment.garageId, payment.amountCents, payment.currency, payment.method) == (
        session.id, garage.id, 450, "EUR", PaymentMethod.CARD)
    assert (payment.status, payment.reference, payment.createdAt, payment.updatedAt, payment.refundedAt) == (
        PaymentStatus.COMPLETED, "v1:k:sealed", paid_at, now, None)
    assert await database.payments.get(payment.id) == payment
    assert await database.payments.for_session(session.id) == payment


async def test_a_second_payment_for_a_session_fails_the_batch_and_writes_nothing(db: Prisma) -> None:
    garage, spots = await make_garage(db, spots=1)
    session = await start_session(db, spots[0], start=T0)
    first = await pay(db, session, amount_cents=100, created_at=T0)
    error = await assert_batch_writes_nothing(db, UniqueViolation, lambda unit: unit.payments.queue_create(
        session_id=session.id, garage_id=garage.id, amount_cents=1, currency="EUR", method=PaymentMethod.CASH,
        reference=None, discount_cents=0, created_at=T0, now=now_ms()))
    assert error.involves("sessionId")  # the error names the constraint's field
    assert await Database(db).payments.for_session(session.id) == first


async def test_payments_refund_and_list(db: Prisma) -> None:
    garage, spots = await make_garage(db, spots=3)
    database = Database(db)
    payments = database.payments
    made = []
    for index in range(3):
        session = await start_session(db, spots[index], start=T0)
        made.append(await pay(db, session, amount_cents=100 * index, created_at=T0 + timedelta(hours=index + 1),
                              reference="v1:k:ref" if index else None))
    assert made[1].createdAt == T0 + timedelta(hours=2) and made[1].status == PaymentStatus.COMPLETED
    assert made[1].reference == "v1:k:ref" and made[0].reference is None
    assert await payments.get(made[0].id) == made[0] and await payments.get("nope") is None
    assert await payments.for_session(made[2].sessionId) == made[2]

    async def refund(unit: UnitOfWork) -> Payment | None:
        return await unit.payments.refund(made[0])

    refunded = await database.transaction(refund, actor=ACTOR)
    assert refunded is not None and refunded.status == PaymentStatus.REFUNDED and refunded.refundedAt is not None
    changed = {"status", "refundedAt", "updatedAt"}  # and nothing else
    assert refunded.model_dump(exclude=changed) == made[0].model_dump(exclude=changed)
    assert await database.transaction(refund, actor=ACTOR) is None  # only COMPLETED refunds
    assert await payments.get(made[0].id) == refunded

    listed = await payments.list(garage_id=garage.id, since=None, until=None, limit=2, cursor=None)
    assert [p.id for p in listed.items] == [made[2].id, made[1].id] and listed.next_after_id == position(
        made[1].createdAt, made[1].id)
    rest = await payments.list(garage_id=garage.id, since=None, until=None, limit=2, cursor=listed.next_after_id)
    assert [p.id for p in rest.items] == [made[0].id] and rest.next_after_id is None
    window = await payments.list(garage_id=garage.id, since=T0 + timedelta(hours=2), until=T0 + timedelta(hours=3),
                                 limit=50, cursor=None)
    assert [p.id for p in window.items] == [made[1].id]
    anywhere = await payments.list(garage_id=None, since=T0 + timedelta(hours=3), until=None, limit=200, cursor=None)
    assert made[2].id in [p.id for p in anywhere.items] and made[1].id not in [p.id for p in anywhere.items]
