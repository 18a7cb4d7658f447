"""The key-rotation reads and writes of VehicleRepository and PaymentRepository."""

from __future__ import annotations

import uuid

import pytest
from prisma import Prisma

from garage.repositories.payments import PaymentRepository
from garage.repositories.rows import now_ms
from garage.repositories.vehicles import VehicleRepository
from tests.repositories.builders import make_garage, pay, start_session

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_vehicles_with_owner_fields_are_walked_by_id_and_rewritten(db: Prisma) -> None:
    vehicles = VehicleRepository(db)
    made = [await vehicles.create(license_plate=uuid.uuid4().hex[:8].upper(), type="CAR", owner_name=f"v1:k:{i}") for i in range(3)]
    bare = await vehicles.create(license_plate=uuid.uuid4().hex[:8].upper(), type="VAN")
    seen, after = [], None
    while batch := await vehicles.with_owner_fields(after_id=after, limit=2):
        seen += [row.id for row in batch]
        after = batch[-1].id
    assert seen == sorted(seen)
    assert {row.id for row in made} <= set(seen) and bare.id not in seen
    assert await vehicles.count_with_owner_fields() == len(seen)  # what key rotation's progress counts
    await vehicles.set_owner_fields(made[0].id, name="v1:k:new", email=None, phone="v1:k:phone")
    changed = await vehicles.get_live(made[0].id)
    assert changed is not None and (changed.ownerName, changed.ownerEmail, changed.ownerPhone) == ("v1:k:new", None, "v1:k:phone")


async def test_payments_with_reference_are_walked_and_rewritten(db: Prisma) -> None:
    garage, spots = await make_garage(db, spots=2)
    payments = PaymentRepository(db)
    created = []
    for index, reference in enumerate(["v1:k:a", None]):
        session = await start_session(db, spots[index])
        created.append(await pay(db, session, amount_cents=1, currency="USD", method="CASH", reference=reference,
                                 created_at=now_ms()))
    first = await payments.with_reference(after_id=None, limit=500)
    ids = [row.id for row in first]
    assert created[0].id in ids and created[1].id not in ids
    assert await payments.with_reference(after_id=ids[-1], limit=500) == []
    assert await payments.count_with_reference() == len(ids)  # what key rotation's progress counts
    await payments.set_reference(created[0].id, "v1:k:b")
    refreshed = await payments.get(created[0].id)
    assert refreshed is not None and refreshed.reference == "v1:k:b"
