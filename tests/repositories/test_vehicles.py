"""VehicleRepository: create (also batched), live lookups (also with the latest session),
filtered keyset lists, update, soft delete."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from prisma import Prisma
from prisma.errors import UniqueViolationError

from garage.repositories.rows import now_ms
from garage.repositories.vehicles import VehicleRepository
from tests.repositories.builders import (
    T0, assert_batch_writes_nothing, complete_session, make_garage, make_vehicle, start_session,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


def plate() -> str:
    return "V" + uuid.uuid4().hex[:9].upper()


async def test_create_and_find_live(db: Prisma) -> None:
    vehicles = VehicleRepository(db)
    number = plate()
    created = await vehicles.create(license_plate=number, type="CAR", owner_email="v1:k:sealed")
    assert created.ownerEmail == "v1:k:sealed" and created.ownerName is None
    assert await vehicles.get_live(created.id) == created
    assert await vehicles.live_by_plate(number) == created
    assert await vehicles.get_live("nope") is None
    assert await vehicles.live_by_plate(plate()) is None


async def test_update_and_soft_delete_then_the_plate_is_free(db: Prisma) -> None:
    vehicles = VehicleRepository(db)
    number = plate()
    created = await vehicles.create(license_plate=number, type="VAN")
    updated = await vehicles.update(created.id, {"type": "TRUCK", "ownerName": "v1:k:x"})
    assert updated is not None and updated.type == "TRUCK" and updated.ownerName == "v1:k:x"
    deleted = await vehicles.soft_delete(created.id)
    assert deleted is not None and deleted.deletedAt is not None
    assert await vehicles.get_live(created.id) is None
    assert await vehicles.live_by_plate(number) is None
    again = await vehicles.create(license_plate=number, type="CAR")  # a deleted plate may be reused
    assert (await vehicles.live_by_plate(number)) == again


async def test_list_filters_by_plate_and_walks_pages_newest_first(db: Prisma) -> None:
    vehicles = VehicleRepository(db)
    number = plate()
    await vehicles.create(license_plate=number, type="CAR")
    only = await vehicles.list_live(license_plate=number, limit=10, cursor=None)
    assert [v.licensePlate for v in only.items] == [number] and only.next_after_id is None
    for _ in range(3):
        await vehicles.create(license_plate=plate(), type="EV")
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
    vehicles = VehicleRepository(db)
    number = plate()
    await vehicles.create(license_plate=number, type="CAR")
    with pytest.raises(UniqueViolationError) as error:
        await vehicles.create(license_plate=number, type="VAN")
    assert "licensePlate" in f"{error.value} {error.value.meta}"


async def test_queue_create_writes_exactly_the_vehicle_it_returns(db: Prisma) -> None:
    number, now = plate(), now_ms()
    async with db.batch_() as batch:
        vehicle = VehicleRepository.queue_create(batch, license_plate=number, type="EV", now=now)
    assert (vehicle.licensePlate, vehicle.type, vehicle.createdAt, vehicle.updatedAt) == (number, "EV", now, now)
    assert (vehicle.ownerName, vehicle.ownerEmail, vehicle.ownerPhone, vehicle.deletedAt) == (None, None, None, None)
    assert await VehicleRepository(db).get_live(vehicle.id) == vehicle


async def test_queue_create_of_a_live_plate_fails_the_whole_batch(db: Prisma) -> None:
    existing = await make_vehicle(db)
    error = await assert_batch_writes_nothing(db, UniqueViolationError, lambda batch: VehicleRepository.queue_create(
        batch, license_plate=existing.licensePlate, type="VAN", now=now_ms()))
    assert "licensePlate" in f"{error} {error.meta}"
    assert await VehicleRepository(db).live_by_plate(existing.licensePlate) == existing


async def test_live_by_plate_with_latest_session_by_start_time(db: Prisma) -> None:
    vehicles = VehicleRepository(db)
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
    assert found is not None and found.sessions == [made[2]]
    assert found.model_copy(update={"sessions": None}) == vehicle

    parked = await start_session(db, spots[1], vehicle, start=T0 + timedelta(hours=3))
    found = await vehicles.live_by_plate_with_latest_session(vehicle.licensePlate)
    assert found is not None and found.sessions == [parked]

    assert await vehicles.live_by_plate_with_latest_session(plate()) is None
    await vehicles.soft_delete(vehicle.id)
    assert await vehicles.live_by_plate_with_latest_session(vehicle.licensePlate) is None
