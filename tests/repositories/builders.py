"""Test data built through the repositories, written the way the parking flow writes it: each
step is ONE unit of work (`Database.batch`: one transactional batch of the repositories'
`queue_*` methods, which return the rows as they will be stored, ids and timestamps chosen by
the application, garage/repositories/rows.py), with the audit entries those writes record.

Every builder makes its own uniquely named rows, so tests sharing the session's database never
collide. Times given to them should be at the database's millisecond precision (T0 is).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TypeVar

import pytest
from prisma import Prisma
from prisma.models import Garage, ParkingSession, Payment, Spot, Vehicle

from garage.repositories.rows import now_ms
from garage.repositories.spots import NewSpot
from garage.repositories.unit_of_work import Database, UnitOfWork
from garage.services.tickets import new_ticket_code

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)
E = TypeVar("E", bound=Exception)
ACTOR = "test"


def new_plate(prefix: str = "S") -> str:
    """A plate no other test uses: `prefix` (letters) then random characters, 10 in all."""
    return prefix + uuid.uuid4().hex[:10 - len(prefix)].upper()


async def make_garage(db: Prisma, spots: int = 3) -> tuple[Garage, list[Spot]]:
    """A garage (EUR, no rate row) with `spots` AVAILABLE STANDARD spots numbered 1.. on level 0."""

    async def work(unit: UnitOfWork) -> tuple[Garage, list[Spot]]:
        garage = await unit.garages.create(name=f"g {uuid.uuid4().hex[:6]}", address="1 Road", timezone="UTC",
                                           currency="EUR", capacity=100)
        created = await unit.spots.create_many(
            garage.id,
            [NewSpot(level=0, number=str(n), sort_key=f"{n:04d}", type="STANDARD") for n in range(1, spots + 1)],
        )
        return garage, created

    return await Database(db).transaction(work, actor=ACTOR)


async def make_vehicle(db: Prisma) -> Vehicle:
    async with Database(db).batch(actor=ACTOR) as unit:
        vehicle = unit.vehicles.queue_create(license_plate=new_plate(), type="CAR", now=now_ms())
    return vehicle


async def start_session(
    db: Prisma, spot: Spot, vehicle: Vehicle | None = None, *, start: datetime | None = None,
    ticket_code: str | None = None,
) -> ParkingSession:
    """An ACTIVE session of `vehicle` (default: a new CAR) on `spot` from `start` (default now),
    with its OPEN ticket issued at `start` (`ticket_code`, default a new one; in the returned
    `ticket`). The spot's status is left as it is (see `occupy`)."""
    vehicle = vehicle if vehicle is not None else await make_vehicle(db)
    now = now_ms()
    start = now if start is None else start
    async with Database(db).batch(actor=ACTOR) as unit:
        session = unit.sessions.queue_start(
            spot=spot, vehicle_id=vehicle.id, license_plate=vehicle.licensePlate, vehicle_type="CAR",
            start_time=start, ticket_code=ticket_code or new_ticket_code(), now=now,
        )
    return session


async def complete_session(db: Prisma, session: ParkingSession, *, end: datetime, fee_cents: int) -> ParkingSession:
    """ACTIVE -> COMPLETED (the session and its ticket, PAID); returns it as stored."""
    async with Database(db).batch(actor=ACTOR) as unit:
        completed = unit.sessions.queue_complete(
            session, end_time=end, fee_cents=fee_cents, minutes=0, lost_ticket=False, payment=None,
            now=now_ms(),
        )
    return completed


async def pay(
    db: Prisma, session: ParkingSession, *, amount_cents: int, created_at: datetime, currency: str = "EUR",
    method: str = "CARD", reference: str | None = None,
) -> Payment:
    """A COMPLETED payment for `session` (the session itself is not changed)."""
    async with Database(db).batch(actor=ACTOR) as unit:
        payment = unit.payments.queue_create(
            session_id=session.id, garage_id=session.garageId, amount_cents=amount_cents, currency=currency,
            method=method, reference=reference, discount_cents=0, created_at=created_at, now=now_ms(),
        )
    return payment


async def occupy(db: Prisma, spot: Spot) -> Spot:
    """AVAILABLE -> OCCUPIED; returns the spot as stored."""
    async with Database(db).batch(actor=ACTOR) as unit:
        occupied = unit.spots.queue_occupy(spot, session_id="test", now=now_ms())
    return occupied


async def assert_batch_writes_nothing(
    db: Prisma, expected: type[E], failing: Callable[[UnitOfWork], object]
) -> E:
    """Sends ONE unit of work's batch: a new vehicle, then the writes `failing` adds, then their
    audit rows; asserts the batch raises `expected` and that neither the vehicle nor any audit row
    was stored (all or nothing). Returns the error."""
    database = Database(db)
    plate = new_plate("B")
    with pytest.raises(expected) as raised:
        async with database.batch(actor=ACTOR) as unit:
            vehicle = unit.vehicles.queue_create(license_plate=plate, type="CAR", now=now_ms())
            failing(unit)
    assert await database.vehicles.live_by_plate(plate) is None
    audit = await database.audit.list(entity="Vehicle", entity_id=vehicle.id, since=None, until=None, limit=1,
                                      cursor=None)
    assert audit.items == []
    return raised.value


async def audit_entries(db: Prisma, entity: str, entity_id: str) -> list[tuple[str, str, object, object]]:
    """(actor, action, before, after) of the audit entries of `entity` `entity_id`, oldest first."""
    page = await Database(db).audit.list(entity=entity, entity_id=entity_id, since=None, until=None, limit=50,
                                         cursor=None)
    return [
        (row.actor, row.action, row.before and json.loads(row.before), row.after and json.loads(row.after))
        for row in reversed(page.items)
    ]
