"""SessionRepository and TicketRepository through a whole session life: create, find, complete,
history and filtered lists."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from prisma import Prisma
from prisma.errors import UniqueViolationError
from prisma.models import Garage, Spot, Vehicle

from garage.repositories.garages import GarageRepository
from garage.repositories.sessions import SessionRepository
from garage.repositories.spots import NewSpot, SpotRepository
from garage.repositories.tickets import TicketRepository
from garage.repositories.vehicles import VehicleRepository
from garage.services.tickets import new_ticket_code

pytestmark = pytest.mark.asyncio(loop_scope="session")

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)


async def make_garage(db: Prisma, spots: int = 3) -> tuple[Garage, list[Spot]]:
    garage = await GarageRepository(db).create(name=f"g {uuid.uuid4().hex[:6]}", address="1 Road", timezone="UTC",
                                               currency="EUR", capacity=100)
    created = await SpotRepository(db).create_many(
        garage.id, [NewSpot(level=0, number=str(n), sort_key=f"{n:04d}", type="STANDARD") for n in range(1, spots + 1)]
    )
    return garage, created


async def make_vehicle(db: Prisma) -> Vehicle:
    return await VehicleRepository(db).create(license_plate="S" + uuid.uuid4().hex[:9].upper(), type="CAR")


async def test_session_life_with_ticket(db: Prisma) -> None:
    garage, spots = await make_garage(db)
    vehicle = await make_vehicle(db)
    sessions, tickets = SessionRepository(db), TicketRepository(db)
    session = await sessions.create(garage_id=garage.id, spot_id=spots[0].id, vehicle_id=vehicle.id,
                                    license_plate=vehicle.licensePlate, start_time=T0)
    assert session.status == "ACTIVE" and session.startTime == T0 and session.endTime is None
    code = new_ticket_code()
    assert not await tickets.code_taken(code)
    ticket = await tickets.create(code=code, session_id=session.id, issued_at=T0)
    assert await tickets.code_taken(code)
    assert await tickets.by_code(code) == ticket and await tickets.by_code("NOPE") is None
    found = await sessions.get(session.id)
    assert found is not None and found.ticket is not None and found.ticket.code == code and found.garage is None
    with_garage = await sessions.get(session.id, with_garage=True)
    assert with_garage is not None and with_garage.garage is not None and with_garage.garage.currency == "EUR"
    assert await sessions.get("nope") is None
    assert (await sessions.active_for_vehicle(vehicle.id)) is not None
    assert (await sessions.active_for_spot(spots[0].id)) is not None
    assert await sessions.active_for_spot(spots[1].id) is None
    assert await sessions.latest_end_for_vehicle(vehicle.id) is None

    end = T0 + timedelta(minutes=42)
    assert await sessions.complete(session.id, end_time=end, fee_cents=225)
    assert not await sessions.complete(session.id, end_time=end, fee_cents=1)  # only ACTIVE completes
    done = await sessions.get(session.id)
    assert done is not None and (done.status, done.endTime, done.feeCents) == ("COMPLETED", end, 225)
    assert await sessions.active_for_vehicle(vehicle.id) is None
    assert await sessions.latest_end_for_vehicle(vehicle.id) == end
    paid = await tickets.set_status(session.id, "PAID")
    assert paid is not None and paid.status == "PAID"


async def test_lists_filter_and_order_newest_start_first(db: Prisma) -> None:
    garage, spots = await make_garage(db, spots=3)
    vehicle = await make_vehicle(db)
    other = await make_vehicle(db)
    sessions = SessionRepository(db)
    starts = [T0 + timedelta(hours=h) for h in (0, 1, 2)]
    made = []
    for start in starts:
        s = await sessions.create(garage_id=garage.id, spot_id=spots[0].id, vehicle_id=vehicle.id,
                                  license_plate=vehicle.licensePlate, start_time=start)
        await sessions.complete(s.id, end_time=start + timedelta(minutes=30), fee_cents=150)
        made.append(s)
    active = await sessions.create(garage_id=garage.id, spot_id=spots[1].id, vehicle_id=other.id,
                                   license_plate=other.licensePlate, start_time=T0 + timedelta(hours=3))

    everything = await sessions.list(garage_id=garage.id, limit=50, cursor=None)
    assert [s.id for s in everything.items] == [active.id, made[2].id, made[1].id, made[0].id]
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
    sessions = SessionRepository(db)
    await sessions.create(garage_id=garage.id, spot_id=spots[0].id, vehicle_id=vehicle.id,
                          license_plate=vehicle.licensePlate, start_time=T0)
    with pytest.raises(UniqueViolationError) as same_vehicle:
        await sessions.create(garage_id=garage.id, spot_id=spots[1].id, vehicle_id=vehicle.id,
                              license_plate=vehicle.licensePlate, start_time=T0)
    assert "vehicleId" in f"{same_vehicle.value} {same_vehicle.value.meta}"
    with pytest.raises(UniqueViolationError) as same_spot:
        await sessions.create(garage_id=garage.id, spot_id=spots[0].id, vehicle_id=other.id,
                              license_plate=other.licensePlate, start_time=T0)
    assert "spotId" in f"{same_spot.value} {same_spot.value.meta}"
