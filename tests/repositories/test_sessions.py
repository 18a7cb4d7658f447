"""SessionRepository and TicketRepository through a whole session life: the batched writes of
check-in and check-out (queue_start, queue_issue, queue_complete, queue_set_status), reads with
their ticket (and garage and rate), history and filtered lists."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prisma import Prisma
from prisma.errors import RecordNotFoundError, UniqueViolationError

from garage.repositories.rates import RateRepository
from garage.repositories.rows import now_ms
from garage.repositories.sessions import SessionRepository
from garage.repositories.tickets import TicketRepository
from garage.services.tickets import new_ticket_code
from tests.repositories.builders import (
    T0, assert_batch_writes_nothing, complete_session, make_garage, make_vehicle, start_session,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_queue_start_writes_exactly_the_session_it_returns(db: Prisma) -> None:
    garage, spots = await make_garage(db)
    vehicle = await make_vehicle(db)
    now = now_ms()
    async with db.batch_() as batch:
        session = SessionRepository.queue_start(
            batch, garage_id=garage.id, spot_id=spots[0].id, vehicle_id=vehicle.id,
            license_plate=vehicle.licensePlate, start_time=T0, now=now,
        )
    assert (session.status, session.startTime, session.endTime, session.feeCents) == ("ACTIVE", T0, None, None)
    assert (session.createdAt, session.updatedAt) == (now, now)
    assert await db.parkingsession.find_unique(where={"id": session.id}) == session


async def test_session_life_with_ticket(db: Prisma) -> None:
    garage, spots = await make_garage(db)
    vehicle = await make_vehicle(db)
    sessions, tickets = SessionRepository(db), TicketRepository(db)
    code = new_ticket_code()
    session = await start_session(db, spots[0], vehicle, start=T0, ticket_code=code)
    assert session.ticket is not None and (session.ticket.code, session.ticket.status) == (code, "OPEN")
    assert await tickets.by_code(code) == session.ticket and await tickets.by_code("NOPE") is None
    assert await sessions.get(session.id) == session  # with its ticket, without its garage
    assert await sessions.get("nope") is None
    assert await sessions.active_for_vehicle(vehicle.id) == session.model_copy(update={"ticket": None})

    end = T0 + timedelta(minutes=42)
    completed = await complete_session(db, session, end=end, fee_cents=225)
    assert (completed.status, completed.endTime, completed.feeCents) == ("COMPLETED", end, 225)
    assert await sessions.get(session.id) == completed
    assert await sessions.active_for_vehicle(vehicle.id) is None

    now = now_ms()
    async with db.batch_() as batch:
        paid = TicketRepository.queue_set_status(batch, session.ticket, "PAID", now=now)
    assert (paid.status, paid.updatedAt, paid.id, paid.code) == ("PAID", now, session.ticket.id, code)
    assert await tickets.by_code(code) == paid


async def test_get_with_garage_and_rate(db: Prisma) -> None:
    garage, spots = await make_garage(db, spots=2)
    rated = await start_session(db, spots[0])
    assert await SessionRepository(db).get(rated.id) == rated  # neither garage nor rate by default
    found = await SessionRepository(db).get(rated.id, with_garage_and_rate=True)
    assert found is not None and found.garage is not None
    assert found.garage.model_dump(exclude={"rate"}) == garage.model_dump(exclude={"rate"})
    assert found.garage.rate is None  # no rate row (imported data may lack one)
    assert found.model_copy(update={"garage": None}) == rated

    rate = await RateRepository(db).create(garage.id)
    again = await SessionRepository(db).get(rated.id, with_garage_and_rate=True)
    assert again is not None and again.garage is not None and again.garage.rate == rate


async def test_queue_complete_of_a_session_no_longer_active_fails_the_whole_batch(db: Prisma) -> None:
    garage, spots = await make_garage(db, spots=1)
    session = await start_session(db, spots[0], start=T0)
    completed = await complete_session(db, session, end=T0 + timedelta(minutes=5), fee_cents=100)

    await assert_batch_writes_nothing(db, RecordNotFoundError, lambda batch: SessionRepository.queue_complete(
        batch, session.id, end_time=T0 + timedelta(hours=1), fee_cents=1, now=now_ms()))
    assert await SessionRepository(db).get(session.id) == completed  # unchanged
    await assert_batch_writes_nothing(db, RecordNotFoundError, lambda batch: SessionRepository.queue_complete(
        batch, "no-such-session", end_time=T0, fee_cents=1, now=now_ms()))


async def test_lists_filter_and_order_newest_start_first(db: Prisma) -> None:
    garage, spots = await make_garage(db, spots=3)
    vehicle = await make_vehicle(db)
    other = await make_vehicle(db)
    sessions = SessionRepository(db)
    starts = [T0 + timedelta(hours=h) for h in (0, 1, 2)]
    made = []
    for start in starts:
        s = await start_session(db, spots[0], vehicle, start=start)
        made.append(await complete_session(db, s, end=start + timedelta(minutes=30), fee_cents=150))
    active = await start_session(db, spots[1], other, start=T0 + timedelta(hours=3))

    everything = await sessions.list(garage_id=garage.id, limit=50, cursor=None)
    assert everything.items == [active, made[2], made[1], made[0]]
    assert all(s.ticket is None for s in everything.items)  # included (none issued in this test)

    history = await sessions.list(vehicle_id=vehicle.id, limit=2, cursor=None)
    assert [s.id for s in history.items] == [made[2].id, made[1].id] and history.next_after_id == made[1].id
    rest = await sessions.list(vehicle_id=vehicle.id, limit=2, cursor=history.next_after_id)
    assert [s.id for s in rest.items] == [made[0].id] and rest.next_after_id is None

    actives = await sessions.list(garage_id=garage.id, status="ACTIVE", limit=50, cursor=None)
    assert [s.id for s in actives.items] == [active.id]
    by_plate = await sessions.list(license_plate=other.licensePlate, limit=50, cursor=None)
    assert [s.id for s in by_plate.items] == [active.id]
    # from inclusive, to exclusive
    window = await sessions.list(garage_id=garage.id, since=starts[1], until=starts[2], limit=50, cursor=None)
    assert [s.id for s in window.items] == [made[1].id]


async def test_the_database_allows_one_active_session_per_spot_and_per_vehicle(db: Prisma) -> None:
    garage, spots = await make_garage(db, spots=2)
    vehicle, other = await make_vehicle(db), await make_vehicle(db)
    await start_session(db, spots[0], vehicle, start=T0)
    with pytest.raises(UniqueViolationError) as same_vehicle:
        await start_session(db, spots[1], vehicle, start=T0)
    assert "vehicleId" in f"{same_vehicle.value} {same_vehicle.value.meta}"
    with pytest.raises(UniqueViolationError) as same_spot:
        await start_session(db, spots[0], other, start=T0)
    assert "spotId" in f"{same_spot.value} {same_spot.value.meta}"
    assert await SessionRepository(db).active_for_vehicle(other.id) is None


async def test_by_ticket_code_finds_the_session_in_one_read(db: Prisma) -> None:
    garage, spots = await make_garage(db)
    vehicle = await make_vehicle(db)
    sessions, code = SessionRepository(db), new_ticket_code()
    session = await start_session(db, spots[0], vehicle, start=T0, ticket_code=code)
    assert await sessions.by_ticket_code(code) == session  # with its ticket
    assert await sessions.by_ticket_code("NOPE2345") is None
    for_check_out = await sessions.by_ticket_code(code, with_garage_and_rate=True)
    assert for_check_out == await sessions.get(session.id, with_garage_and_rate=True)
    assert for_check_out is not None and for_check_out.garage is not None and for_check_out.garage.id == garage.id
