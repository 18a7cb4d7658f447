"""TicketRepository: codes are unique in the database itself."""

from __future__ import annotations


import pytest
from prisma import Prisma
from prisma.errors import UniqueViolationError

from garage.repositories.sessions import SessionRepository
from garage.repositories.tickets import TicketRepository
from garage.services.tickets import new_ticket_code
from tests.repositories.test_sessions import T0, make_garage, make_vehicle

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_a_code_cannot_be_issued_twice(db: Prisma) -> None:
    garage, spots = await make_garage(db, spots=2)
    first_vehicle, second_vehicle = await make_vehicle(db), await make_vehicle(db)
    sessions, tickets = SessionRepository(db), TicketRepository(db)
    first = await sessions.create(garage_id=garage.id, spot_id=spots[0].id, vehicle_id=first_vehicle.id,
                                  license_plate=first_vehicle.licensePlate, start_time=T0)
    second = await sessions.create(garage_id=garage.id, spot_id=spots[1].id, vehicle_id=second_vehicle.id,
                                   license_plate=second_vehicle.licensePlate, start_time=T0)
    code = new_ticket_code()
    await tickets.create(code=code, session_id=first.id, issued_at=T0)
    with pytest.raises(UniqueViolationError):
        await tickets.create(code=code, session_id=second.id, issued_at=T0)
    lost = await tickets.set_status(first.id, "LOST")
    assert lost is not None and lost.status == "LOST" and lost.code == code
