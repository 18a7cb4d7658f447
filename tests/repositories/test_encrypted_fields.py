"""The key-rotation reads and writes of VehicleRepository and PaymentRepository."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest
from prisma import Prisma

from garage.repositories.payments import PaymentRepository
from garage.repositories.sessions import SessionRepository
from garage.repositories.vehicles import VehicleRepository
from tests.repositories.test_sessions import make_garage

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
    await vehicles.set_owner_fields(made[0].id, name="v1:k:new", email=None, phone="v1:k:phone")
    changed = await vehicles.get_live(made[0].id)
    assert changed is not None and (changed.ownerName, changed.ownerEmail, changed.ownerPhone) == ("v1:k:new", None, "v1:k:phone")


async def test_payments_with_reference_are_walked_and_rewritten(db: Prisma) -> None:
    garage, spots = await make_garage(db, spots=2)
    payments, sessions = PaymentRepository(db), SessionRepository(db)
    created = []
    for index, reference in enumerate(["v1:k:a", None]):
        vehicle = await VehicleRepository(db).create(license_plate=uuid.uuid4().hex[:8].upper(), type="CAR")
        session = await sessions.create(garage_id=garage.id, spot_id=spots[index].id, vehicle_id=vehicle.id,
                                        license_plate=vehicle.licensePlate, start_time=datetime.now(timezone.utc))
        created.append(await payments.create(session_id=session.id, garage_id=garage.id, amount_cents=1, currency="USD",
                                             method="CASH", reference=reference, created_at=datetime.now(timezone.utc)))
    first = await payments.with_reference(after_id=None, limit=500)
    ids = [row.id for row in first]
    assert created[0].id in ids and created[1].id not in ids
    assert await payments.with_reference(after_id=ids[-1], limit=500) == []
    await payments.set_reference(created[0].id, "v1:k:b")
    refreshed = await payments.get(created[0].id)
    assert refreshed is not None and refreshed.reference == "v1:k:b"
