"""VehicleRepository: create (also batched), live lookups (also with the latest session),
filtered keyset lists, update, soft delete, and the audit entries its writes record."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from prisma import Prisma
from prisma.models import ParkingSession, Vehicle

from garage.errors import UniqueViolation
from garage.repositories.audit import audit_view
from garage.repositories.rows import now_ms
from garage.repositories.unit_of_work import Database
from garage.vocabulary import AuditEntity
from tests.repositories.builders import (
    audit_entries,
    T0, assert_batch_writes_nothing, complete_session, make_garage, make_vehicle, start_session,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")
ACTOR = "test"


def plate() -> str:
    return "V" + uuid.uuid4().hex[:9].upper()


async def create(db: Prisma, **fields: Any) -> Vehicle:
    """VehicleRepository.create(**fields) in a unit of work of its own."""
    return await Database(db).transaction(lambda unit: unit.vehicles.create(**fields), actor=ACTOR)


async def soft_delete(db: Prisma, vehicle: Vehicle) -> Vehicle:
    return await Database(db).transaction(lambda unit: unit.vehicles.soft_delete(vehicle), actor=ACTOR)


def without_ticket(session: ParkingSession) -> ParkingSession:
    """`session` as read without relations (the builders return sessions with their ticket)."""
    return session.model_copy(update={"ticket": None})


async def vehicle_audit(db: Prisma, vehicle_id: str) -> list[tuple[str, str, object, object]]:
    return await audit_entries(db, "Vehicle", vehicle_id)


async def test_create_and_find_live(db: Prisma) -> None:
    vehicles = Database(db).vehicles
    number = plate()
    created = await create(db, license_plate=number, type="CAR", owner_email="v1:k:sealed")
    assert created.ownerEmail == "v1:k:sealed" and created.ownerName is None
    # owner fields are shown only as set or not, never their (sealed) values
    (entry,) = await vehicle_audit(db, created.id)
    assert entry == (ACTOR, "CREATE", None, audit_view(created, AuditEntity.VEHICLE))
    assert isinstance(entry[3], dict) and (entry[3]["ownerEmail"], entry[3]["ownerName"]) == ("(set)", None)
    assert await vehicles.get_live(created.id) == created
    assert await vehicles.live_by_plate(number) == created
    assert await vehicles.get_live("nope") is None
    assert await vehicles.live_by_plate(plate()) is None


async def test_update_and_soft_delete_then_the_plate_is_free(db: Prisma) -> None:
    vehicles = Database(db).vehicles
    number = plate()
    created = await create(db, license_plate=number, type="VAN")
    updated = await Database(db).transaction(
        lambda unit: unit.vehicles.update(created, {"type": "TRUCK", "ownerName": "v1:k:x"}), actor=ACTOR
    )
    assert updated is not None and updated.type == "TRUCK" and updated.ownerName == "v1:k:x"
    deleted = await soft_delete(db, updated)
    assert deleted is not None and deleted.deletedAt is not None
    assert await vehicles.get_live(created.id) is None
    assert await vehicles.live_by_plate(number) is None
    again = await create(db, license_plate=number, type="CAR")  # a deleted plate may be reused
    assert (await vehicles.live_by_plate(number)) == again
    assert (await vehicle_audit(db, created.id))[1:] == [
        (ACTOR, "UPDATE", audit_view(created, AuditEntity.VEHICLE), audit_view(updated, AuditEntity.VEHICLE)),
        (ACTOR, "DELETE", audit_view(updated, AuditEntity.VEHICLE), audit_view(deleted, AuditEntity.VEHICLE)),
    ]


async def test_list_filters_by_plate_and_walks_pages_newest_first(db: Prisma) -> None:
    vehicles = Database(db).vehicles
    number = plate()
    await create(db, license_plate=number, type="CAR")
    only = await vehicles.list_live(license_plate=number, limit=10, cursor=None)
    assert [v.licensePlate for v in only.items] == [number] and only.next_after_id is None
    for _ in range(3):
        await create(db, license_plate=plate(), type="EV")
    seen: list[str] = []
    cursor = None
    while True:
        page = await vehicles.list_live(license_plate=None, limit=2, cursor=cursor)
        seen.extend(v.id for v in page.items)
        cursor = page.next_after_id
        if cursor is None:
            break
    everything = await vehicles.list_live(license_plate=None, limit=200, cursor=None)
    assert seen == [v.id for v in everything.items]
    assert all(v.deletedAt is None for v in everything.items)
    created = [v.createdAt for v in everything.items]
    assert created == sorted(created, reverse=True)


async def test_the_database_allows_one_live_vehicle_per_plate(db: Prisma) -> None:
    number = plate()
    await create(db, license_plate=number, type="CAR")
    with pytest.raises(UniqueViolation) as error:
        await create(db, license_plate=number, type="VAN")
    assert error.value.involves("licensePlate")


async def test_queue_create_writes_exactly_the_vehicle_it_returns(db: Prisma) -> None:
    number, now = plate(), now_ms()
    async with Database(db).batch(actor=ACTOR) as unit:
        vehicle = unit.vehicles.queue_create(license_plate=number, type="EV", now=now)
    assert (vehicle.licensePlate, vehicle.type, vehicle.createdAt, vehicle.updatedAt) == (number, "EV", now, now)
    assert (vehicle.ownerName, vehicle.ownerEmail, vehicle.ownerPhone, vehicle.deletedAt) == (None, None, None, None)
    assert await Database(db).vehicles.get_live(vehicle.id) == vehicle
    assert await vehicle_audit(db, vehicle.id) == [(ACTOR, "CREATE", None, audit_view(vehicle, AuditEntity.VEHICLE))]


async def test_queue_create_of_a_live_plate_fails_the_whole_batch(db: Prisma) -> None:
    existing = await make_vehicle(db)
    error = await assert_batch_writes_nothing(db, UniqueViolation, lambda unit: unit.vehicles.queue_create(
        license_plate=existing.licensePlate, type="VAN", now=now_ms()))
    assert error.involves("licensePlate")
    assert await Database(db).vehicles.live_by_plate(existing.licensePlate) == existing


async def test_live_by_plate_with_latest_session_by_start_time(db: Prisma) -> None:
    vehicles = Database(db).vehicles
    _, spots = await make_garage(db, spots=3)
    vehicle = await make_vehicle(db)
    fresh = await vehicles.live_by_plate_with_latest_session(vehicle.licensePlate)
    assert fresh is not None and fresh.sessions == [] and fresh.model_copy(update={"sessions": None}) == vehicle

    # written out of start order: the latest START wins, not the latest row
    made = {}
    for hours, spot in ((2, spots[0]), (0, spots[1]), (1, spots[2])):
        start = T0 + timedelta(hours=hours)
        made[hours] = await complete_session(db, await start_session(db, spot, vehicle, start=start),
                                             end=start + timedelta(minutes=30), fee_cents=100)
    found = await vehicles.live_by_plate_with_latest_session(vehicle.licensePlate)
    assert found is not None and found.sessions == [without_ticket(made[2])]
    assert found.model_copy(update={"sessions": None}) == vehicle

    parked = await start_session(db, spots[1], vehicle, start=T0 + timedelta(hours=3))
    found = await vehicles.live_by_plate_with_latest_session(vehicle.licensePlate)
    assert found is not None and found.sessions == [without_ticket(parked)]

    assert await vehicles.live_by_plate_with_latest_session(plate()) is None
    await soft_delete(db, vehicle)
    assert await vehicles.live_by_plate_with_latest_session(vehicle.licensePlate) is None
