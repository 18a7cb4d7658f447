"""The repositories' bulk-import methods (legacy import): rows inserted as given, with their own
ids and timestamps, in one createMany each; and the lookups the import checks against."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
from prisma import Prisma

from garage.errors import UniqueViolation
from garage.repositories.garages import GarageRepository
from garage.repositories.payments import PaymentRepository
from garage.vocabulary import DEFAULT_RATE
from garage.repositories.sessions import SessionRepository
from garage.repositories.spots import SpotRepository
from garage.repositories.tickets import TicketRepository
from garage.repositories.unit_of_work import Database, UnitOfWork
from garage.repositories.vehicles import VehicleRepository
from garage.services.tickets import new_ticket_code
from tests.repositories.builders import T0

pytestmark = pytest.mark.asyncio(loop_scope="session")


def legacy_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def in_unit(db: Prisma, insert: Callable[[UnitOfWork], Awaitable[int]]) -> int:
    """One bulk insert in a unit of work of its own (the import runs them all in one)."""
    return await Database(db).transaction(insert, actor="test")


async def test_a_legacy_data_set_goes_in_with_its_own_ids_and_is_found_again(db: Prisma) -> None:
    garage_id, spot_ids = legacy_id("g"), [legacy_id("s"), legacy_id("s")]
    vehicle_ids, session_ids = [legacy_id("v"), legacy_id("v")], [legacy_id("x"), legacy_id("x")]
    plates = ["L" + uuid.uuid4().hex[:8].upper(), "L" + uuid.uuid4().hex[:8].upper()]
    # For the rate row (built from a plain dict); the other rows write their timestamps out, so mypy
    # checks each literal against its row type (a ** of a dict would hide them).
    stamp = {"createdAt": T0, "updatedAt": T0}

    assert await in_unit(db, lambda unit: unit.garages.insert_many(
        [{"id": garage_id, "name": "legacy", "address": "1 Old Rd", "capacity": 5, "createdAt": T0, "updatedAt": T0}]
    )) == 1
    assert await in_unit(db, lambda unit: unit.rates.insert_many([{"garageId": garage_id, **DEFAULT_RATE.as_row(), **stamp}])) == 1  # type: ignore[typeddict-item]
    spots = SpotRepository(db)
    assert await in_unit(db, lambda unit: unit.spots.insert_many([
        {"id": sid, "garageId": garage_id, "level": 0, "number": str(n), "sortKey": f"0{n}", "type": "STANDARD",
         "status": "OCCUPIED" if n == 0 else "AVAILABLE", "createdAt": T0, "updatedAt": T0}
        for n, sid in enumerate(spot_ids)
    ])) == 2
    vehicles = VehicleRepository(db)
    assert await in_unit(db, lambda unit: unit.vehicles.insert_many([
        {"id": vid, "licensePlate": plate, "type": "CAR", "ownerName": "v1:k:sealed", "createdAt": T0, "updatedAt": T0}
        for vid, plate in zip(vehicle_ids, plates)
    ])) == 2
    sessions = SessionRepository(db)
    end = T0 + timedelta(hours=2)
    assert await in_unit(db, lambda unit: unit.sessions.insert_many([
        {"id": session_ids[0], "garageId": garage_id, "spotId": spot_ids[0], "vehicleId": vehicle_ids[0],
         "licensePlate": plates[0], "vehicleType": "CAR", "status": "ACTIVE", "startTime": T0, "createdAt": T0, "updatedAt": T0},
        {"id": session_ids[1], "garageId": garage_id, "spotId": spot_ids[1], "vehicleId": vehicle_ids[1],
         "licensePlate": plates[1], "vehicleType": "CAR", "status": "COMPLETED", "startTime": T0, "endTime": end, "feeCents": 600,
         "createdAt": T0, "updatedAt": T0},
    ])) == 2
    tickets = TicketRepository(db)
    codes = [new_ticket_code(), new_ticket_code()]
    assert await in_unit(db, lambda unit: unit.tickets.insert_many([
        {"code": codes[0], "sessionId": session_ids[0], "issuedAt": T0, "status": "OPEN", "createdAt": T0, "updatedAt": T0},
        {"code": codes[1], "sessionId": session_ids[1], "issuedAt": T0, "status": "PAID", "createdAt": T0, "updatedAt": T0},
    ])) == 2
    payments = PaymentRepository(db)
    payment_id = legacy_id("p")
    assert await in_unit(db, lambda unit: unit.payments.insert_many([
        {"id": payment_id, "sessionId": session_ids[1], "garageId": garage_id, "amountCents": 600, "currency": "USD",
         "method": "CASH", "status": "COMPLETED", "createdAt": end, "updatedAt": end}
    ])) == 1

    [garage] = await GarageRepository(db).with_ids([garage_id, "g-none"])
    assert garage.createdAt == T0 and garage.name == "legacy"
    assert {s.id for s in await spots.with_ids(spot_ids)} == set(spot_ids)
    assert {s.id for s in await spots.live_in_garages([garage_id])} == set(spot_ids)
    assert {v.id for v in await vehicles.with_ids(vehicle_ids)} == set(vehicle_ids)
    assert {v.id for v in await vehicles.live_with_plates(plates)} == set(vehicle_ids)
    assert {x.id for x in await sessions.with_ids(session_ids)} == set(session_ids)
    by_spot = await sessions.active_on(spot_ids=[spot_ids[0]], vehicle_ids=[])
    by_vehicle = await sessions.active_on(spot_ids=[], vehicle_ids=vehicle_ids)
    assert [x.id for x in by_spot] == [x.id for x in by_vehicle] == [session_ids[0]]
    assert {t.code for t in await tickets.for_sessions(session_ids)} == set(codes)
    assert [t.sessionId for t in await tickets.with_codes([codes[1], "NOSUCHCODE"])] == [session_ids[1]]
    found = await payments.with_ids_or_sessions(ids=[], session_ids=[session_ids[1]])
    assert [p.id for p in found] == [payment_id]
    assert [p.id for p in await payments.with_ids_or_sessions(ids=[payment_id], session_ids=[])] == [payment_id]


async def test_a_bulk_insert_is_refused_whole_by_the_database_constraints(db: Prisma) -> None:
    garage_id, plate = legacy_id("g"), "D" + uuid.uuid4().hex[:8].upper()
    await in_unit(db, lambda unit: unit.garages.insert_many([{"id": garage_id, "name": "dup", "address": "x", "capacity": 5}]))
    vehicles = VehicleRepository(db)
    with pytest.raises(UniqueViolation):  # the partial unique index on live plates
        await in_unit(db, lambda unit: unit.vehicles.insert_many([
            {"id": legacy_id("v"), "licensePlate": plate, "type": "CAR"},
            {"id": legacy_id("v"), "licensePlate": plate, "type": "VAN"},
        ]))
    assert await vehicles.live_with_plates([plate]) == []
