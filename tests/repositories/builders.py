"""Test data built through the repositories, written the way the parking flow writes it: each
step is ONE transactional batch (`db.batch_()`, garage.db.RetryingBatch) of the repositories'
`queue_*` methods, which return the rows as they will be stored (ids and timestamps chosen by
the application, garage/repositories/rows.py).

Every builder makes its own uniquely named rows, so tests sharing the session's database never
collide. Times given to them should be at the database's millisecond precision (T0 is).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TypeVar

import pytest
from prisma import Prisma
from prisma.client import Batch
from prisma.models import Garage, ParkingSession, Payment, Spot, Ticket, Vehicle

from garage.repositories.audit import AuditEntry, AuditRepository
from garage.repositories.garages import GarageRepository
from garage.repositories.payments import PaymentRepository
from garage.repositories.rows import now_ms
from garage.repositories.sessions import SessionRepository
from garage.repositories.spots import NewSpot, SpotRepository
from garage.repositories.tickets import TicketRepository
from garage.repositories.vehicles import VehicleRepository

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)
E = TypeVar("E", bound=Exception)


def new_plate(prefix: str = "S") -> str:
    """A plate no other test uses: `prefix` (letters) then random characters, 10 in all."""
    return prefix + uuid.uuid4().hex[:10 - len(prefix)].upper()


async def make_garage(db: Prisma, spots: int = 3) -> tuple[Garage, list[Spot]]:
    """A garage (EUR, no rate row) with `spots` AVAILABLE STANDARD spots numbered 1.. on level 0."""
    garage = await GarageRepository(db).create(name=f"g {uuid.uuid4().hex[:6]}", address="1 Road", timezone="UTC",
                                               currency="EUR", capacity=100)
    created = await SpotRepository(db).create_many(
        garage.id, [NewSpot(level=0, number=str(n), sort_key=f"{n:04d}", type="STANDARD") for n in range(1, spots + 1)]
    )
    return garage, created


async def make_vehicle(db: Prisma) -> Vehicle:
    return await VehicleRepository(db).create(license_plate=new_plate(), type="CAR")


async def start_session(
    db: Prisma, spot: Spot, vehicle: Vehicle | None = None, *, start: datetime | None = None,
    ticket_code: str | None = None,
) -> ParkingSession:
    """An ACTIVE session of `vehicle` (default: a new CAR) on `spot` from `start` (default now),
    with an OPEN ticket issued at `start` (also in the returned `ticket`) when `ticket_code` is
    given. The spot's status is left as it is (see `occupy`)."""
    vehicle = vehicle if vehicle is not None else await make_vehicle(db)
    now = now_ms()
    start = now if start is None else start
    ticket: Ticket | None = None
    async with db.batch_() as batch:
        session = SessionRepository.queue_start(
            batch, garage_id=spot.garageId, spot_id=spot.id, vehicle_id=vehicle.id,
            license_plate=vehicle.licensePlate, start_time=start, now=now,
        )
        if ticket_code is not None:
            ticket = TicketRepository.queue_issue(batch, code=ticket_code, session_id=session.id, issued_at=start, now=now)
    return session.model_copy(update={"ticket": ticket})


async def complete_session(db: Prisma, session: ParkingSession, *, end: datetime, fee_cents: int) -> ParkingSession:
    """ACTIVE -> COMPLETED (only the session row); returns it as stored."""
    now = now_ms()
    async with db.batch_() as batch:
        SessionRepository.queue_complete(batch, session.id, end_time=end, fee_cents=fee_cents, now=now)
    return session.model_copy(update={"status": "COMPLETED", "endTime": end, "feeCents": fee_cents, "updatedAt": now})


async def pay(
    db: Prisma, session: ParkingSession, *, amount_cents: int, created_at: datetime, currency: str = "EUR",
    method: str = "CARD", reference: str | None = None,
) -> Payment:
    """A COMPLETED payment for `session` (the session itself is not changed)."""
    async with db.batch_() as batch:
        payment = PaymentRepository.queue_create(
            batch, session_id=session.id, garage_id=session.garageId, amount_cents=amount_cents, currency=currency,
            method=method, reference=reference, created_at=created_at, now=now_ms(),
        )
    return payment


async def occupy(db: Prisma, spot: Spot) -> Spot:
    """AVAILABLE -> OCCUPIED; returns the spot as stored."""
    async with db.batch_() as batch:
        occupied = SpotRepository.queue_occupy(batch, spot, now=now_ms())
    return occupied


async def assert_batch_writes_nothing(
    db: Prisma, expected: type[E], failing: Callable[[Batch], object]
) -> E:
    """Sends ONE batch: a new vehicle, then the writes `failing` adds, then an audit row; asserts
    the batch raises `expected` and that neither the vehicle nor the audit row was stored (all or
    nothing). Returns the error."""
    plate, marker = new_plate("B"), uuid.uuid4().hex
    with pytest.raises(expected) as raised:
        async with db.batch_() as batch:
            VehicleRepository.queue_create(batch, license_plate=plate, type="CAR", now=now_ms())
            failing(batch)
            AuditRepository.queue_records(batch, actor="test", entries=[AuditEntry("UPDATE", "Marker", marker)])
    assert await VehicleRepository(db).live_by_plate(plate) is None
    audit = await AuditRepository(db).list(entity="Marker", entity_id=marker, since=None, until=None, limit=1, cursor=None)
    assert audit.items == []
    return raised.value
