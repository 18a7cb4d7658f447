"""GarageRepository: live lookups, updates, soft delete, newest-first pages, active sessions."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest
from prisma import Prisma
from prisma.models import Garage

from garage.repositories.garages import GarageRepository

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def new_garage(db: Prisma, *, capacity: int = 10) -> Garage:
    return await GarageRepository(db).create(
        name=f"garage {uuid.uuid4().hex[:8]}", address="1 Main St", timezone="Europe/Berlin", currency="EUR",
        capacity=capacity,
    )


async def test_create_and_get_live(db: Prisma) -> None:
    garages = GarageRepository(db)
    created = await new_garage(db, capacity=7)
    assert created.capacity == 7 and created.timezone == "Europe/Berlin" and created.currency == "EUR"
    assert await garages.get_live(created.id) == created
    assert await garages.get_live("no-such-garage") is None


async def test_update_changes_only_given_fields(db: Prisma) -> None:
    garages = GarageRepository(db)
    created = await new_garage(db)
    updated = await garages.update(created.id, {"name": "renamed", "capacity": 99})
    assert (updated.name, updated.capacity, updated.address) == ("renamed", 99, created.address)
    assert updated.updatedAt >= created.updatedAt


async def test_soft_deleted_garage_vanishes_from_lookups_and_lists(db: Prisma) -> None:
    garages = GarageRepository(db)
    created = await new_garage(db)
    deleted = await garages.soft_delete(created.id, datetime.now(timezone.utc))
    assert deleted.deletedAt is not None
    assert await garages.get_live(created.id) is None
    listed = await garages.list_live(limit=200, cursor=None)
    assert created.id not in [garage.id for garage in listed.items]


async def test_list_live_pages_newest_first_without_gaps(db: Prisma) -> None:
    garages = GarageRepository(db)
    for _ in range(3):
        await new_garage(db)
    everything = (await garages.list_live(limit=200, cursor=None)).items
    assert [g.createdAt for g in everything] == sorted((g.createdAt for g in everything), reverse=True)
    walked: list[str] = []
    cursor = None
    while True:
        page = await garages.list_live(limit=2, cursor=cursor)
        walked.extend(garage.id for garage in page.items)
        cursor = page.next_after_id
        if cursor is None:
            break
    assert walked == [garage.id for garage in everything]


async def test_count_active_sessions_counts_only_active_ones_of_the_garage(db: Prisma) -> None:
    from tests.repositories.builders import complete_session, start_session
    from tests.repositories.test_spots import new_spots

    garage = await new_garage(db)
    other = await new_garage(db)
    assert await GarageRepository(db).count_active_sessions(garage.id) == 0
    spot, done_spot = await new_spots(db, garage.id, ["1", "2"])
    (other_spot,) = await new_spots(db, other.id, ["1"])
    await start_session(db, spot)
    done = await start_session(db, done_spot)
    await complete_session(db, done, end=done.startTime, fee_cents=0)
    await start_session(db, other_spot)
    assert await GarageRepository(db).count_active_sessions(garage.id) == 1
