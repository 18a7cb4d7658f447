"""VehicleRepository: create, live lookups, filtered keyset lists, update, soft delete."""

from __future__ import annotations

import uuid

import pytest
from prisma import Prisma
from prisma.errors import UniqueViolationError

from garage.repositories.vehicles import VehicleRepository

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
