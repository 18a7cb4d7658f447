"""GarageRepository: live lookups, updates, soft delete (with the garage's spots), newest-first
pages, active sessions, and the audit entries its writes record."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest
from prisma import Prisma
from prisma.models import Garage

from garage.repositories.audit import audit_view
from garage.repositories.unit_of_work import Database
from garage.vocabulary import AuditEntity
from tests.repositories.builders import audit_entries, complete_session, start_session

pytestmark = pytest.mark.asyncio(loop_scope="session")
ACTOR = "test"


async def new_garage(db: Prisma, *, capacity: int = 10) -> Garage:
    return await Database(db).transaction(
        lambda unit: unit.garages.create(
            name=f"garage {uuid.uuid4().hex[:8]}", address="1 Main St", timezone="Europe/Berlin", currency="EUR",
            capacity=capacity,
        ),
        actor=ACTOR,
    )


async def audit_of(db: Prisma, entity_id: str) -> list[tuple[str, str, object, object]]:
    return await audit_entries(db, "Garage", entity_id)


async def test_create_and_get_live(db: Prisma) -> None:
    garages = Database(db).garages
    created = await new_garage(db, capacity=7)
    assert created.capacity == 7 and created.timezone == "Europe/Berlin" and created.currency == "EUR"
    assert await garages.get_live(created.id) == created
    assert await garages.get_live("no-such-garage") is None
    assert await audit_of(db, created.id) == [(ACTOR, "CREATE", None, audit_view(created, AuditEntity.GARAGE))]


async def test_update_changes_only_given_fields(db: Prisma) -> None:
    created = await new_garage(db)
    updated = await Database(db).transaction(
        lambda unit: unit.garages.update(created, {"name": "renamed", "capacity": 99}), actor=ACTOR
    )
    assert (updated.name, updated.capacity, updated.address) == ("renamed", 99, created.address)
    assert updated.updatedAt >= created.updatedAt
    assert (await audit_of(db, created.id))[1:] == [
        (ACTOR, "UPDATE", audit_view(created, AuditEntity.GARAGE), audit_view(updated, AuditEntity.GARAGE))
    ]


async def test_soft_deleted_garage_vanishes_from_lookups_and_lists(db: Prisma) -> None:
    garages = Database(db).garages
    created = await new_garage(db)
    deleted = await Database(db).transaction(
        lambda unit: unit.garages.soft_delete(created, datetime.now(timezone.utc)), actor=ACTOR
    )
    assert deleted.deletedAt is not None
    assert await garages.get_live(created.id) is None
    listed = await garages.list_live(limit=200, cursor=None)
    assert created.id not in [garage.id for garage in listed.items]


async def test_soft_delete_takes_the_garages_live_spots_with_it(db: Prisma) -> None:
    from tests.repositories.test_spots import new_spots

    database = Database(db)
    garage = await new_garage(db)
    other = await new_garage(db)
    rows = await new_spots(db, garage.id, ["1", "2"])
    (gone,) = await new_spots(db, garage.id, ["3"])
    await database.transaction(lambda unit: unit.spots.soft_delete(gone, datetime.now(timezone.utc)), actor=ACTOR)
    (kept,) = await new_spots(db, other.id, ["1"])
    deleted = await database.transaction(
        lambda unit: unit.garages.soft_delete(garage, datetime.now(timezone.utc)), actor=ACTOR
    )
    assert [await database.spots.get_live(row.id) for row in rows] == [None, None]
    assert await database.spots.get_live(kept.id) is not None
    assert await database.spots.count_live(garage.id) == 0 and await database.spots.count_live(other.id) == 1
    # the already deleted spot is not counted again
    assert (await audit_of(db, garage.id))[1:] == [
        (ACTOR, "DELETE", audit_view(garage, AuditEntity.GARAGE),
         {**audit_view(deleted, AuditEntity.GARAGE), "spotsDeleted": 2}),
    ]


async def test_list_live_pages_newest_first_without_gaps(db: Prisma) -> None:
    garages = Database(db).garages
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
    from tests.repositories.test_spots import new_spots

    garages = Database(db).garages
    garage = await new_garage(db)
    other = await new_garage(db)
    assert await garages.count_active_sessions(garage.id) == 0
    spot, done_spot = await new_spots(db, garage.id, ["1", "2"])
    (other_spot,) = await new_spots(db, other.id, ["1"])
    await start_session(db, spot)
    done = await start_session(db, done_spot)
    await complete_session(db, done, end=done.startTime, fee_cents=0)
    await start_session(db, other_spot)
    assert await garages.count_active_sessions(garage.id) == 1
