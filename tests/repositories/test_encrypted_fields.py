"""The key-rotation reads and writes of VehicleRepository and PaymentRepository (job writes: the
rotation records ONE summary entry for them, so they record none themselves)."""

from __future__ import annotations

import uuid

import pytest
from prisma import Prisma
from prisma.models import Vehicle

from garage.repositories.base import WriteOutsideUnitOfWork
from garage.repositories.rows import now_ms
from garage.repositories.unit_of_work import Database, UnitOfWork
from tests.repositories.builders import make_garage, pay, start_session

pytestmark = pytest.mark.asyncio(loop_scope="session")
ACTOR = "test"


async def audit_count(db: Prisma, entity: str, entity_id: str) -> int:
    page = await Database(db).audit.list(entity=entity, entity_id=entity_id, since=None, until=None, limit=50,
                                         cursor=None)
    return len(page.items)


async def test_vehicles_with_owner_fields_are_walked_by_id_and_rewritten(db: Prisma) -> None:
    database = Database(db)
    vehicles = database.vehicles

    async def create(unit: UnitOfWork) -> None:
        for i in range(3):
            made.append(await unit.vehicles.create(license_plate=uuid.uuid4().hex[:8].upper(), type="CAR",
                                                   owner_name=f"v1:k:{i}"))
        made.append(await unit.vehicles.create(license_plate=uuid.uuid4().hex[:8].upper(), type="VAN"))

    made: list[Vehicle] = []
    await database.transaction(create, actor=ACTOR)
    bare = made.pop()
    seen, after = [], None
    while batch := await vehicles.with_owner_fields(after_id=after, limit=2):
        seen += [row.id for row in batch]
        after = batch[-1].id
    assert seen == sorted(seen)
    assert {row.id for row in made} <= set(seen) and bare.id not in seen
    assert await vehicles.count_with_owner_fields() == len(seen)  # what key rotation's progress counts
    with pytest.raises(WriteOutsideUnitOfWork):
        await vehicles.set_owner_fields(made[0].id, name="v1:k:new", email=None, phone="v1:k:phone")
    await database.transaction(
        lambda unit: unit.vehicles.set_owner_fields(made[0].id, name="v1:k:new", email=None, phone="v1:k:phone"),
        actor=ACTOR,
    )
    changed = await vehicles.get_live(made[0].id)
    assert changed is not None and (changed.ownerName, changed.ownerEmail, changed.ownerPhone) == ("v1:k:new", None, "v1:k:phone")
    assert await audit_count(db, "Vehicle", made[0].id) == 1  # its CREATE only


async def test_payments_with_reference_are_walked_and_rewritten(db: Prisma) -> None:
    garage, spots = await make_garage(db, spots=2)
    database = Database(db)
    payments = database.payments
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
    await database.transaction(lambda unit: unit.payments.set_reference(created[0].id, "v1:k:b"), actor=ACTOR)
    refreshed = await payments.get(created[0].id)
    assert refreshed is not None and refreshed.reference == "v1:k:b"
    assert await audit_count(db, "Payment", created[0].id) == 1  # its CREATE only
