"""SessionRepository through a whole session life: the batched writes of check-in and check-out
(queue_start with its ticket, queue_complete with its ticket's status), reads with their ticket
(and garage and rate), history and filtered lists."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prisma import Prisma

from garage.errors import RecordMissing, UniqueViolation
from garage.repositories.pagination import position
from garage.repositories.records import Rate
from garage.repositories.rows import now_ms
from garage.repositories.unit_of_work import Database, UnitOfWork
from garage.services.tickets import new_ticket_code
from garage.vocabulary import SessionStatus, TicketStatus
from tests.repositories.builders import (
    ACTOR, T0, assert_batch_writes_nothing, complete_session, make_garage, make_vehicle, start_session,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_queue_start_writes_exactly_the_session_it_returns(db: Prisma) -> None:
    garage, spots = await make_garage(db)
    vehicle = await make_vehicle(db)
    database, code, now = Database(db), new_ticket_code(), now_ms()
    async with database.batch(actor=ACTOR) as unit:
        session = unit.sessions.queue_start(
            spot=spots[0], vehicle_id=vehicle.id,
            license_plate=vehicle.licensePlate, vehicle_type="CAR", start_time=T0, ticket_code=code, now=now,
        )
    assert (session.status, session.startTime, session.endTime, session.feeCents) == (
        SessionStatus.ACTIVE, T0, None, None)
    assert (session.createdAt, session.updatedAt) == (now, now)
    ticket = session.ticket
    assert ticket is not None
    assert (ticket.code, ticket.sessionId, ticket.status, ticket.issuedAt, ticket.createdAt, ticket.updatedAt) == (
        code, session.id, TicketStatus.OPEN, T0, now, now)
    assert await db.parkingsession.find_unique(where={"id": session.id}) == session.model_copy(update={"ticket": None})
    assert await database.sessions.get(session.id) == session  # with its ticket


async def test_session_life_with_ticket(db: Prisma) -> None:
    garage, spots = await make_garage(db)
    vehicle = await make_vehicle(db)
    database = Database(db)
    sessions, tickets = database.sessions, database.tickets
    code = new_ticket_code()
    session = await start_session(db, spots[0], vehicle, start=T0, ticket_code=code)
    assert session.ticket is not None and (session.ticket.code, session.ticket.status) == (code, TicketStatus.OPEN)
    assert await tickets.by_code(code) == session.ticket and await tickets.by_code("NOPE") is None
    assert await sessions.get(session.id) == session  # with its ticket, without its garage
    assert await sessions.get("nope") is None
    assert await sessions.active_for_vehicle(vehicle.id) == session.model_copy(update={"ticket": None})

    end, now = T0 + timedelta(minutes=42), now_ms()
    async with database.batch(actor=ACTOR) as unit:
        completed = unit.sessions.queue_complete(
            session, end_time=end, fee_cents=225, minutes=42, lost_ticket=False, payment=None, now=now
        )
    assert (completed.status, completed.endTime, completed.feeCents, completed.updatedAt) == (
        SessionStatus.COMPLETED, end, 225, now)
    paid = session.ticket.model_copy(update={"status": TicketStatus.PAID, "updatedAt": now})
    assert completed.ticket == paid and completed.garage is None
    assert await sessions.get(session.id) == completed
    assert await tickets.by_code(code) == paid
    assert await sessions.active_for_vehicle(vehicle.id) is None


async def test_a_lost_ticket_is_marked_lost_with_its_session(db: Prisma) -> None:
    garage, spots = await make_garage(db, spots=1)
    session = await start_session(db, spots[0], start=T0)
    assert session.ticket is not None
    database, now = Database(db), now_ms()
    async with database.batch(actor=ACTOR) as unit:
        completed = unit.sessions.queue_complete(
            session, end_time=T0 + timedelta(hours=1), fee_cents=2000, minutes=60, lost_ticket=True, payment=None,
            now=now,
        )
    lost = session.ticket.model_copy(update={"status": TicketStatus.LOST, "updatedAt": now})
    assert completed.ticket == lost and await database.tickets.by_code(lost.code) == lost
    assert await database.sessions.get(session.id) == completed


async def test_get_with_garage_and_rate(db: Prisma) -> None:
    garage, spots = await make_garage(db, spots=2)
    database = Database(db)
    rated = await start_session(db, spots[0])
    assert await database.sessions.get(rated.id) == rated  # neither garage nor rate by default
    found = await database.sessions.get(rated.id, with_garage_and_rate=True)
    assert found is not None and found.garage is not None
    assert found.garage.model_dump(exclude={"rate"}) == garage.model_dump(exclude={"rate"})
    assert found.garage.rate is None  # no rate row (imported data may lack one)
    assert found.spot == spots[0]  # and its spot (check-out's spot.changed says what it becomes)
    assert found.model_copy(update={"garage": None, "spot": None}) == rated

    async def create_rate(unit: UnitOfWork) -> Rate:
        return await unit.rates.create(garage.id)

    rate = await database.transaction(create_rate, actor=ACTOR)
    again = await database.sessions.get(rated.id, with_garage_and_rate=True)
    assert again is not None and again.garage is not None and again.garage.rate == rate


async def test_queue_complete_of_a_session_no_longer_active_fails_the_whole_batch(db: Prisma) -> None:
    garage, spots = await make_garage(db, spots=1)
    session = await start_session(db, spots[0], start=T0)  # `session` stays the stale ACTIVE read
    completed = await complete_session(db, session, end=T0 + timedelta(minutes=5), fee_cents=100)

    await assert_batch_writes_nothing(db, RecordMissing, lambda unit: unit.sessions.queue_complete(
        session, end_time=T0 + timedelta(hours=1), fee_cents=1, minutes=60, lost_ticket=True, payment=None,
        now=now_ms()))
    assert await Database(db).sessions.get(session.id) == completed  # unchanged, its ticket still PAID
    missing = session.model_copy(update={"id": "no-such-session"})
    await assert_batch_writes_nothing(db, RecordMissing, lambda unit: unit.sessions.queue_complete(
        missing, end_time=T0, fee_cents=1, minutes=0, lost_ticket=True, payment=None, now=now_ms()))
    assert await Database(db).sessions.get(session.id) == completed


async def test_lists_filter_and_order_newest_start_first(db: Prisma) -> None:
    garage, spots = await make_garage(db, spots=3)
    vehicle = await make_vehicle(db)
    other = await make_vehicle(db)
    sessions = Database(db).sessions
    starts = [T0 + timedelta(hours=h) for h in (0, 1, 2)]
    made = []
    for start in starts:
        s = await start_session(db, spots[0], vehicle, start=start)
        made.append(await complete_session(db, s, end=start + timedelta(minutes=30), fee_cents=150))
    active = await start_session(db, spots[1], other, start=T0 + timedelta(hours=3))

    everything = await sessions.list(garage_id=garage.id, limit=50, cursor=None)
    assert everything.items == [active, made[2], made[1], made[0]]
    assert all(s.ticket is not None for s in everything.items)  # listed with their tickets

    history = await sessions.list(vehicle_id=vehicle.id, limit=2, cursor=None)
    assert [s.id for s in history.items] == [made[2].id, made[1].id] and history.next_after_id == position(
        made[1].startTime, made[1].id)
    rest = await sessions.list(vehicle_id=vehicle.id, limit=2, cursor=history.next_after_id)
    assert [s.id for s in rest.items] == [made[0].id] and rest.next_after_id is None

    actives = await sessions.list(garage_id=garage.id, status=SessionStatus.ACTIVE, limit=50, cursor=None)
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
    with pytest.raises(UniqueViolation) as same_vehicle:
        await start_session(db, spots[1], vehicle, start=T0)
    assert same_vehicle.value.involves("vehicleId") and not same_vehicle.value.involves("spotId")
    with pytest.raises(UniqueViolation) as same_spot:
        await start_session(db, spots[0], other, start=T0)
    assert same_spot.value.involves("spotId") and not same_spot.value.involves("vehicleId")
    assert await Database(db).sessions.active_for_vehicle(other.id) is None


async def test_by_ticket_code_finds_the_session_in_one_read(db: Prisma) -> None:
    garage, spots = await make_garage(db)
    vehicle = await make_vehicle(db)
    sessions, code = Database(db).sessions, new_ticket_code()
    session = await start_session(db, spots[0], vehicle, start=T0, ticket_code=code)
    assert await sessions.by_ticket_code(code) == session  # with its ticket
    assert await sessions.by_ticket_code("NOPE2345") is None
    for_check_out = await sessions.by_ticket_code(code, with_garage_and_rate=True)
    assert for_check_out == await sessions.get(session.id, with_garage_and_rate=True)
    assert for_check_out is not None and for_check_out.garage is not None and for_check_out.garage.id == garage.id
