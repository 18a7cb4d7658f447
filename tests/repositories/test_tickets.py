"""Tickets: issued with their session (SessionRepository.queue_start) and given their final
status when it completes (queue_complete); codes are unique in the database itself, and a
session has one ticket."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prisma import Prisma

from garage.errors import UniqueViolation
from garage.repositories.records import ParkingSession
from garage.repositories.rows import now_ms
from garage.repositories.unit_of_work import Database, UnitOfWork
from garage.services.tickets import new_ticket_code
from garage.vocabulary import TicketStatus
from tests.repositories.builders import ACTOR, T0, assert_batch_writes_nothing, make_garage, make_vehicle, start_session

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_a_session_is_started_and_completed_with_exactly_the_ticket_it_returns(db: Prisma) -> None:
    garage, spots = await make_garage(db, spots=1)
    vehicle = await make_vehicle(db)
    database, code, now = Database(db), new_ticket_code(), now_ms()
    async with database.batch(actor=ACTOR) as unit:
        session = unit.sessions.queue_start(
            spot=spots[0], vehicle_id=vehicle.id, license_plate=vehicle.licensePlate, vehicle_type="CAR",
            start_time=T0, ticket_code=code, now=now,
        )
    ticket = session.ticket
    assert ticket is not None
    assert (ticket.code, ticket.sessionId, ticket.status, ticket.issuedAt, ticket.createdAt, ticket.updatedAt) == (
        code, session.id, TicketStatus.OPEN, T0, now, now)
    assert await database.tickets.by_code(code) == ticket
    assert await database.tickets.for_sessions([session.id]) == [ticket]

    later = now_ms()
    async with database.batch(actor=ACTOR) as unit:
        completed = unit.sessions.queue_complete(
            session, end_time=T0 + timedelta(minutes=1), fee_cents=2000, minutes=1, lost_ticket=True, payment=None,
            now=later,
        )
    lost = ticket.model_copy(update={"status": TicketStatus.LOST, "updatedAt": later})
    assert completed.ticket == lost
    assert await database.tickets.by_code(code) == lost


async def test_a_code_cannot_be_issued_twice_and_the_batch_writes_nothing(db: Prisma) -> None:
    garage, spots = await make_garage(db, spots=2)
    database, code = Database(db), new_ticket_code()
    first = await start_session(db, spots[0], start=T0, ticket_code=code)
    vehicle = await make_vehicle(db)
    queued: list[ParkingSession] = []

    def start_with_the_same_code(unit: UnitOfWork) -> None:
        queued.append(unit.sessions.queue_start(
            spot=spots[1], vehicle_id=vehicle.id, license_plate=vehicle.licensePlate, vehicle_type="CAR",
            start_time=T0, ticket_code=code, now=now_ms(),
        ))

    error = await assert_batch_writes_nothing(db, UniqueViolation, start_with_the_same_code)
    assert error.involves("code")  # the error names the constraint's field
    (second,) = queued
    assert await database.sessions.get(second.id) is None  # nor its session
    assert await database.tickets.for_sessions([second.id]) == []
    assert await database.tickets.by_code(code) == first.ticket


async def test_a_session_has_one_ticket(db: Prisma) -> None:
    garage, spots = await make_garage(db, spots=1)
    session = await start_session(db, spots[0], start=T0, ticket_code=new_ticket_code())
    database = Database(db)

    async def issue_a_second_ticket(unit: UnitOfWork) -> int:
        # only the bulk import writes tickets of its own (a job: no audit entry of its own here)
        return await unit.tickets.insert_many(
            [{"code": new_ticket_code(), "sessionId": session.id, "issuedAt": T0, "status": TicketStatus.OPEN}]
        )

    with pytest.raises(UniqueViolation) as error:
        await database.transaction(issue_a_second_ticket, actor=ACTOR)
    assert error.value.involves("sessionId")
    assert await database.tickets.for_sessions([session.id]) == [session.ticket]
