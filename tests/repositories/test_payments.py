"""PaymentRepository: create, one per session, refund guard, filtered keyset lists."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prisma import Prisma
from prisma.errors import UniqueViolationError

from garage.repositories.payments import PaymentRepository
from garage.repositories.sessions import SessionRepository
from tests.repositories.test_sessions import T0, make_garage, make_vehicle

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_payments_create_refund_and_list(db: Prisma) -> None:
    garage, spots = await make_garage(db, spots=3)
    sessions, payments = SessionRepository(db), PaymentRepository(db)
    made = []
    for index in range(3):
        vehicle = await make_vehicle(db)
        session = await sessions.create(garage_id=garage.id, spot_id=spots[index].id, vehicle_id=vehicle.id,
                                        license_plate=vehicle.licensePlate, start_time=T0)
        paid_at = T0 + timedelta(hours=index + 1)
        made.append(await payments.create(session_id=session.id, garage_id=garage.id, amount_cents=100 * index,
                                          currency="EUR", method="CARD", reference="v1:k:ref" if index else None,
                                          created_at=paid_at))
    assert made[1].createdAt == T0 + timedelta(hours=2) and made[1].status == "COMPLETED"
    assert made[1].reference == "v1:k:ref" and made[0].reference is None
    assert await payments.get(made[0].id) == made[0] and await payments.get("nope") is None
    assert await payments.for_session(made[2].sessionId) == made[2]

    with pytest.raises(UniqueViolationError):  # one payment per session
        await payments.create(session_id=made[0].sessionId, garage_id=garage.id, amount_cents=1, currency="EUR",
                              method="CASH", reference=None, created_at=T0)

    assert await payments.refund(made[0].id)
    assert not await payments.refund(made[0].id)  # only COMPLETED refunds
    refunded = await payments.get(made[0].id)
    assert refunded is not None and refunded.status == "REFUNDED" and refunded.refundedAt is not None

    listed = await payments.list(garage_id=garage.id, since=None, until=None, limit=2, cursor=None)
    assert [p.id for p in listed.items] == [made[2].id, made[1].id] and listed.next_after_id == made[1].id
    rest = await payments.list(garage_id=garage.id, since=None, until=None, limit=2, cursor=listed.next_after_id)
    assert [p.id for p in rest.items] == [made[0].id] and rest.next_after_id is None
    window = await payments.list(garage_id=garage.id, since=T0 + timedelta(hours=2), until=T0 + timedelta(hours=3),
                                 limit=50, cursor=None)
    assert [p.id for p in window.items] == [made[1].id]
    anywhere = await payments.list(garage_id=None, since=T0 + timedelta(hours=3), until=None, limit=200, cursor=None)
    assert made[2].id in [p.id for p in anywhere.items] and made[1].id not in [p.id for p in anywhere.items]
