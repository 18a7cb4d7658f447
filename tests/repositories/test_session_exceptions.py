"""SessionRepository's writes and reads for session exceptions (API-operations.md "Session
exceptions"): queue_void (guarded like queue_complete, audited, its event), the ACTIVE session of a
plate in a garage, and plate search (part of a plate) on sessions and vehicles."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from prisma import Prisma

from garage.errors import RecordMissing
from garage.repositories.rows import now_ms
from garage.repositories.records import Validation
from garage.repositories.unit_of_work import Database, UnitOfWork
from garage.vocabulary import EventType, SessionStatus, TicketStatus
from tests.repositories.builders import (
    ACTOR, T0, assert_batch_writes_nothing, audit_entries, complete_session, make_garage, make_vehicle,
    start_session,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_queue_void_writes_the_session_and_ticket_it_returns_audits_and_emits(db: Prisma) -> None:
    garage, spots = await make_garage(db, spots=1)
    session = await start_session(db, spots[0], start=T0)
    database, end, now = Database(db), T0 + timedelta(minutes=20), now_ms()
    async with database.batch(actor=ACTOR) as unit:
        voided = unit.sessions.queue_void(session, reason="open gate", end_time=end, now=now)
    assert (voided.status, voided.endTime, voided.feeCents, voided.voidReason, voided.updatedAt) == (
        SessionStatus.VOIDED, end, None, "open gate", now)
    assert voided.ticket is not None and voided.ticket.status == TicketStatus.VOID
    assert await database.sessions.get(session.id) == voided  # stored exactly as returned, with its ticket

    entries = await audit_entries(db, "Session", session.id)
    assert [(actor, action) for actor, action, _, _ in entries] == [(ACTOR, "CHECK_IN"), (ACTOR, "VOID")]
    before, after = entries[-1][2], entries[-1][3]
    assert isinstance(before, dict) and isinstance(after, dict)
    assert (before["status"], after["status"], after["voidReason"], after["ticketStatus"]) == (
        "ACTIVE", "VOIDED", "open gate", "VOID")

    events = await database.events.after(0, garage_id=garage.id, types=[EventType.SESSION_VOIDED], limit=10)
    assert [json.loads(event.data)["session"]["id"] for event in events.items] == [session.id]
    assert json.loads(events.items[0].data)["session"]["status"] == "VOIDED"


async def test_queue_void_of_a_session_no_longer_active_fails_the_whole_batch(db: Prisma) -> None:
    garage, spots = await make_garage(db, spots=1)
    session = await start_session(db, spots[0], start=T0)  # `session` stays the stale ACTIVE read
    completed = await complete_session(db, session, end=T0 + timedelta(minutes=5), fee_cents=100)
    await assert_batch_writes_nothing(db, RecordMissing, lambda unit: unit.sessions.queue_void(
        session, reason="too late", end_time=T0 + timedelta(hours=1), now=now_ms()))
    assert await Database(db).sessions.get(session.id) == completed  # unchanged, its ticket still PAID


async def test_active_by_plate_finds_the_plates_active_session_in_that_garage_only(db: Prisma) -> None:
    garage, spots = await make_garage(db, spots=2)
    other, other_spots = await make_garage(db, spots=1)
    vehicle = await make_vehicle(db)
    sessions = Database(db).sessions
    earlier = await start_session(db, spots[0], vehicle, start=T0)
    await complete_session(db, earlier, end=T0 + timedelta(minutes=5), fee_cents=0)
    assert await sessions.active_by_plate(garage.id, vehicle.licensePlate) is None  # only a COMPLETED one

    active = await start_session(db, spots[1], vehicle, start=T0 + timedelta(hours=1))
    assert await sessions.active_by_plate(garage.id, vehicle.licensePlate) == active
    assert await sessions.active_by_plate(other.id, vehicle.licensePlate) is None
    with_all = await sessions.active_by_plate(garage.id, vehicle.licensePlate, with_garage_and_rate=True)
    assert with_all is not None and with_all.garage is not None and with_all.garage.id == garage.id
    assert with_all.spot is not None and with_all.spot.id == spots[1].id
    assert other_spots  # the other garage has spots: it is not "not found" for want of them


async def test_plate_search_lists_plates_containing_the_part(db: Prisma) -> None:
    garage, spots = await make_garage(db, spots=3)
    database = Database(db)
    vehicles = [await make_vehicle(db) for _ in range(3)]
    for spot, vehicle in zip(spots, vehicles, strict=True):
        await start_session(db, spot, vehicle, start=T0)
    part = vehicles[1].licensePlate[2:6]
    found = await database.sessions.list(garage_id=garage.id, plate_contains=part, limit=50, cursor=None)
    assert [s.licensePlate for s in found.items] == [vehicles[1].licensePlate]
    assert (await database.sessions.list(plate_contains="ZZZZZZZZZZ", limit=50, cursor=None)).items == []
    live = await database.vehicles.list_live(license_plate=None, plate_contains=part, limit=50, cursor=None)
    assert [v.id for v in live.items] == [vehicles[1].id]
    exact_and_part = await database.vehicles.list_live(
        license_plate=vehicles[0].licensePlate, plate_contains=part, limit=50, cursor=None)
    assert exact_and_part.items == []  # both filters apply


async def test_queue_complete_refuses_a_session_changed_since_it_was_priced(db: Prisma) -> None:
    """A validation (or a permit change) committed between check-out's read and its batch fails the
    batch, so check-out prices again instead of charging without it."""
    garage, spots = await make_garage(db, spots=1)
    session = await start_session(db, spots[0], start=T0)  # read without a validation
    database = Database(db)

    async def validate(unit: UnitOfWork) -> Validation:
        validator = await unit.validators.create(garage_id=garage.id, name="Cafe", kind="AMOUNT_OFF", value=100)
        return await unit.validations.create(session, validator)

    await database.transaction(validate, actor=ACTOR)
    await assert_batch_writes_nothing(db, RecordMissing, lambda unit: unit.sessions.queue_complete(
        session, end_time=T0 + timedelta(hours=1), fee_cents=300, minutes=60, lost_ticket=False, payment=None,
        now=now_ms()))
    fresh = await database.sessions.get(session.id, with_garage_and_rate=True)
    assert fresh is not None and fresh.status == SessionStatus.ACTIVE and fresh.validation is not None
    # priced with its validation, it completes
    async with database.batch(actor=ACTOR) as unit:
        unit.sessions.queue_complete(fresh, end_time=T0 + timedelta(hours=1), fee_cents=200, minutes=60,
                                     lost_ticket=False, payment=None, now=now_ms())
    done = await database.sessions.get(session.id)
    assert done is not None and (done.status, done.feeCents) == (SessionStatus.COMPLETED, 200)

    # a permit that now covers (or no longer covers) a session read before the change: the same
    other = await start_session(db, spots[0], start=T0 + timedelta(hours=2))

    async def cover(unit: UnitOfWork) -> None:
        permit = await unit.permits.create(
            garage_id=garage.id, license_plate=other.licensePlate, holder_name=None, holder_email=None,
            valid_from=T0, valid_to=T0 + timedelta(days=30))
        await unit.sessions.set_permit(other, permit.id)

    await database.transaction(cover, actor=ACTOR)
    await assert_batch_writes_nothing(db, RecordMissing, lambda unit: unit.sessions.queue_complete(
        other, end_time=T0 + timedelta(hours=3), fee_cents=300, minutes=60, lost_ticket=False, payment=None,
        now=now_ms()))
