"""SpotRepository: live lookups, assignment order, the batched occupy (guarded) and release,
updates, bulk create, lists, counts, and the audit entries its writes record."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import pytest
from prisma import Prisma
from prisma.models import Spot

from garage.errors import NotFound, RecordMissing
from garage.repositories.audit import audit_view
from garage.repositories.rows import now_ms
from garage.repositories.spots import NewSpot, SpotCount
from garage.repositories.unit_of_work import Database, UnitOfWork
from garage.vocabulary import AuditEntity
from garage.services.spot_numbers import spot_sort_key
from tests.repositories.builders import audit_entries, assert_batch_writes_nothing, complete_session, occupy, start_session
from tests.repositories.test_garages import new_garage

pytestmark = pytest.mark.asyncio(loop_scope="session")
ACTOR = "test"


def spot(number: str, *, level: int = 1, type: str = "STANDARD", status: str = "AVAILABLE") -> NewSpot:
    return NewSpot(level=level, number=number, sort_key=spot_sort_key(number), type=type, status=status)


async def new_spots(db: Prisma, garage_id: str, numbers: Sequence[str], **kwargs: object) -> list[Spot]:
    drafts = [spot(number, **kwargs) for number in numbers]  # type: ignore[arg-type]
    return await Database(db).transaction(lambda unit: unit.spots.create_many(garage_id, drafts), actor=ACTOR)


async def update(db: Prisma, row: Spot, changes: dict[str, Any]) -> Spot:
    return await Database(db).transaction(lambda unit: unit.spots.update(row, changes), actor=ACTOR)


async def soft_delete(db: Prisma, row: Spot) -> Spot:
    return await Database(db).transaction(lambda unit: unit.spots.soft_delete(row, datetime.now(timezone.utc)),
                                          actor=ACTOR)


async def spot_audit(db: Prisma, spot_id: str) -> list[tuple[str, str, object, object]]:
    return await audit_entries(db, "Spot", spot_id)


async def test_create_many_returns_the_stored_rows(db: Prisma) -> None:
    garage = await new_garage(db)
    created = await new_spots(db, garage.id, ["10A"], level=-2, type="EV") + await new_spots(
        db, garage.id, ["3"], status="MAINTENANCE"
    )
    assert len({row.id for row in created}) == 2
    for row in created:
        stored = await Database(db).spots.get_live(row.id)
        assert stored is not None
        assert stored.model_dump() == row.model_dump()
    assert (created[0].level, created[0].number, created[0].type, created[0].status) == (-2, "10A", "EV", "AVAILABLE")
    assert created[1].status == "MAINTENANCE"


async def test_get_live_hides_deleted_and_unknown_spots(db: Prisma) -> None:
    garage = await new_garage(db)
    (row,) = await new_spots(db, garage.id, ["1"])
    deleted = await soft_delete(db, row)
    assert deleted.deletedAt is not None
    assert await Database(db).spots.get_live(row.id) is None
    assert await Database(db).spots.get_live("no-such-spot") is None
    assert (await spot_audit(db, row.id))[1:] == [
        (ACTOR, "DELETE", audit_view(row, AuditEntity.SPOT), audit_view(deleted, AuditEntity.SPOT))
    ]


async def test_first_available_prefers_type_order_then_level_then_number(db: Prisma) -> None:
    garage = await new_garage(db, capacity=50)
    spots = Database(db).spots
    await new_spots(db, garage.id, ["1"], level=0, type="LARGE")
    await new_spots(db, garage.id, ["10", "9"], level=2, type="STANDARD")
    await new_spots(db, garage.id, ["10A", "10", "2"], level=1, type="STANDARD")
    await new_spots(db, garage.id, ["1"], level=-1, type="STANDARD", status="RESERVED")
    await new_spots(db, garage.id, ["0"], level=-1, type="STANDARD", status="MAINTENANCE")
    first = await spots.first_available(garage.id, ["COMPACT", "STANDARD", "LARGE"])
    assert first is not None and (first.level, first.number) == (1, "2")
    assert first.garageId == garage.id
    large = await spots.first_available(garage.id, ["LARGE", "STANDARD"])
    assert large is not None and large.type == "LARGE"
    assert await spots.first_available(garage.id, ["EV", "HANDICAP"]) is None
    assert await spots.first_available(garage.id, []) is None


async def test_first_available_skips_occupied_and_deleted_spots_and_other_garages(db: Prisma) -> None:
    garage = await new_garage(db)
    other = await new_garage(db)
    await new_spots(db, other.id, ["1"], level=-5, type="COMPACT")
    first, second, third = await new_spots(db, garage.id, ["1", "2", "3"], type="COMPACT")
    spots = Database(db).spots
    await occupy(db, first)
    await soft_delete(db, second)
    found = await spots.first_available(garage.id, ["COMPACT"])
    assert found is not None and found.id == third.id


async def test_first_available_breaks_number_ties_by_id(db: Prisma) -> None:
    garage = await new_garage(db)
    rows = await new_spots(db, garage.id, ["7", "007"])  # the same numeric key
    found = await Database(db).spots.first_available(garage.id, ["STANDARD"])
    assert found is not None and found.id == min(row.id for row in rows)


async def test_update(db: Prisma) -> None:
    garage = await new_garage(db)
    (row,) = await new_spots(db, garage.id, ["1"])
    changed = await update(db, row, {"status": "RESERVED"})
    assert changed.status == "RESERVED" and changed.id == row.id
    moved = await update(db, changed, {"level": 3, "number": "12", "sortKey": spot_sort_key("12")})
    assert (moved.level, moved.number, moved.status) == (3, "12", "RESERVED")
    assert (await spot_audit(db, row.id))[1:] == [
        (ACTOR, "UPDATE", audit_view(row, AuditEntity.SPOT), audit_view(changed, AuditEntity.SPOT)),
        (ACTOR, "UPDATE", audit_view(changed, AuditEntity.SPOT), audit_view(moved, AuditEntity.SPOT)),
    ]


async def test_update_of_an_unknown_spot_is_not_found(db: Prisma) -> None:
    garage = await new_garage(db)
    (row,) = await new_spots(db, garage.id, ["1"])
    with pytest.raises(NotFound):
        await update(db, row.model_copy(update={"id": "no-such-spot"}), {"status": "AVAILABLE"})
    assert await spot_audit(db, "no-such-spot") == []


async def test_soft_delete_of_an_unknown_spot_is_not_found(db: Prisma) -> None:
    garage = await new_garage(db)
    (row,) = await new_spots(db, garage.id, ["1"])
    gone = row.model_copy(update={"id": "no-such-spot-either"})

    async def delete(unit: UnitOfWork) -> None:
        await unit.spots.soft_delete(gone, now_ms())

    with pytest.raises(NotFound):
        await Database(db).transaction(delete, actor=ACTOR)
    assert await spot_audit(db, "no-such-spot-either") == []


async def test_queue_occupy_and_release_write_exactly_what_they_return(db: Prisma) -> None:
    garage = await new_garage(db)
    (row,) = await new_spots(db, garage.id, ["1"])
    database = Database(db)
    spots = database.spots
    now = now_ms()
    async with database.batch(actor=ACTOR) as unit:
        occupied = unit.spots.queue_occupy(row, session_id="session-1", now=now)
    assert occupied == row.model_copy(update={"status": "OCCUPIED", "updatedAt": now})
    assert await spots.get_live(row.id) == occupied
    assert await spots.first_available(garage.id, ["STANDARD"]) is None

    later = now_ms()
    async with database.batch(actor=ACTOR) as unit:
        released = unit.spots.queue_release(occupied, session_id="session-1", now=later)
    assert released == row.model_copy(update={"status": "AVAILABLE", "updatedAt": later})
    assert await spots.get_live(row.id) == released
    # the entries check-in and check-out wrote before these writes recorded their own
    assert (await spot_audit(db, row.id))[1:] == [
        (ACTOR, "UPDATE", {"status": "AVAILABLE"}, {"status": "OCCUPIED", "sessionId": "session-1"}),
        (ACTOR, "UPDATE", {"status": "OCCUPIED", "sessionId": "session-1"}, {"status": "AVAILABLE"}),
    ]


@pytest.mark.parametrize("state", ["OCCUPIED", "MAINTENANCE", "RESERVED", "deleted"])
async def test_queue_occupy_of_a_spot_not_live_and_available_fails_the_whole_batch(db: Prisma, state: str) -> None:
    garage = await new_garage(db)
    (row,) = await new_spots(db, garage.id, ["1"])
    if state == "OCCUPIED":
        await occupy(db, row)
    elif state == "deleted":
        await soft_delete(db, row)
    else:
        await update(db, row, {"status": state})
    before = await db.spot.find_unique(where={"id": row.id})
    audit_before = await spot_audit(db, row.id)
    # `row` is the spot as read while it was AVAILABLE: the guard is the batch's WHERE, not this copy
    await assert_batch_writes_nothing(db, RecordMissing,
                                      lambda unit: unit.spots.queue_occupy(row, session_id="s", now=now_ms()))
    assert await db.spot.find_unique(where={"id": row.id}) == before
    assert await spot_audit(db, row.id) == audit_before


async def test_live_with_numbers_finds_clash_candidates_on_any_level(db: Prisma) -> None:
    garage = await new_garage(db)
    spots = Database(db).spots
    await new_spots(db, garage.id, ["5"], level=1)
    await new_spots(db, garage.id, ["5"], level=2)
    (gone,) = await new_spots(db, garage.id, ["6"])
    await soft_delete(db, gone)
    found = await spots.live_with_numbers(garage.id, ["5", "6", "7", "5"])
    assert sorted((row.level, row.number) for row in found) == [(1, "5"), (2, "5")]


async def test_list_live_orders_numeric_aware_filters_and_pages(db: Prisma) -> None:
    garage = await new_garage(db, capacity=50)
    spots = Database(db).spots
    await new_spots(db, garage.id, ["10", "2", "10A", "1"], level=1)
    await new_spots(db, garage.id, ["3"], level=0, type="EV")
    (gone,) = await new_spots(db, garage.id, ["4"], level=0)
    await soft_delete(db, gone)
    await update(db, (await new_spots(db, garage.id, ["11"], level=1))[0], {"status": "MAINTENANCE"})

    everything = (await spots.list_live(garage.id, level=None, spot_type=None, status=None, limit=200, cursor=None)).items
    assert [(row.level, row.number) for row in everything] == [(0, "3"), (1, "1"), (1, "2"), (1, "10"), (1, "10A"), (1, "11")]

    walked: list[str] = []
    cursor = None
    while True:
        page = await spots.list_live(garage.id, level=None, spot_type=None, status=None, limit=2, cursor=cursor)
        walked.extend(row.id for row in page.items)
        cursor = page.next_after_id
        if cursor is None:
            break
    assert walked == [row.id for row in everything]

    level1 = await spots.list_live(garage.id, level=1, spot_type=None, status=None, limit=200, cursor=None)
    assert [row.number for row in level1.items] == ["1", "2", "10", "10A", "11"]
    ev = await spots.list_live(garage.id, level=None, spot_type="EV", status=None, limit=200, cursor=None)
    assert [row.number for row in ev.items] == ["3"]
    maintenance = await spots.list_live(garage.id, level=None, spot_type=None, status="MAINTENANCE", limit=200, cursor=None)
    assert [row.number for row in maintenance.items] == ["11"]


async def test_status_counts_group_live_spots(db: Prisma) -> None:
    garage = await new_garage(db, capacity=50)
    spots = Database(db).spots
    await new_spots(db, garage.id, ["1", "2"], level=0, type="COMPACT")
    await new_spots(db, garage.id, ["3"], level=0, type="EV", status="RESERVED")
    await new_spots(db, garage.id, ["1"], level=-1, type="COMPACT", status="MAINTENANCE")
    (gone,) = await new_spots(db, garage.id, ["9"], level=5)
    await soft_delete(db, gone)
    await new_spots(db, garage.id, ["4"], level=0, type="COMPACT", status="RESERVED")
    assert await spots.counts(garage.id) == [
        SpotCount(-1, "COMPACT", "MAINTENANCE", 1),
        SpotCount(0, "COMPACT", "AVAILABLE", 2),
        SpotCount(0, "COMPACT", "RESERVED", 1),
        SpotCount(0, "EV", "RESERVED", 1),
    ]
    assert await spots.counts((await new_garage(db)).id) == []


async def test_count_active_sessions_of_a_spot(db: Prisma) -> None:
    garage = await new_garage(db)
    parked, finished = await new_spots(db, garage.id, ["1", "2"])
    spots = Database(db).spots
    await start_session(db, parked)
    await complete_session(db, await start_session(db, finished), end=now_ms(), fee_cents=0)
    assert await spots.count_active_sessions(parked.id) == 1
    assert await spots.count_active_sessions(finished.id) == 0


async def test_create_many_records_one_create_per_spot_written_with_the_spots(db: Prisma) -> None:
    garage = await new_garage(db)
    pending: list[int] = []

    async def work(unit: UnitOfWork) -> list[Spot]:
        created = await unit.spots.create_many(garage.id, [spot("1"), spot("2"), spot("3")])
        pending.append(len(unit.entries))  # held by the unit, written at its end (as ONE insert)
        return created

    rows = await Database(db).transaction(work, actor="tester")
    assert pending == [3]
    for row in rows:
        (entry,) = await spot_audit(db, row.id)
        assert entry == ("tester", "CREATE", None, audit_view(row, AuditEntity.SPOT))
        assert "sortKey" not in audit_view(row, AuditEntity.SPOT)  # internal: the number's ordering key
