"""TicketRepository: the batched issue and status change; codes are unique in the database itself."""

from __future__ import annotations

import pytest
from prisma import Prisma
from prisma.errors import UniqueViolationError

from garage.repositories.rows import now_ms
from garage.repositories.tickets import TicketRepository
from garage.services.tickets import new_ticket_code
from tests.repositories.builders import T0, assert_batch_writes_nothing, make_garage, start_session

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_queue_issue_and_set_status_write_exactly_the_ticket_they_return(db: Prisma) -> None:
    garage, spots = await make_garage(db, spots=1)
    session = await start_session(db, spots[0], start=T0)
    code, now = new_ticket_code(), now_ms()
    async with db.batch_() as batch:
        ticket = TicketRepository.queue_issue(batch, code=code, session_id=session.id, issued_at=T0, now=now)
    assert (ticket.code, ticket.sessionId, ticket.status, ticket.issuedAt, ticket.createdAt, ticket.updatedAt) == (
        code, session.id, "OPEN", T0, now, now)
    assert await TicketRepository(db).by_code(code) == ticket
    assert await TicketRepository(db).for_sessions([session.id]) == [ticket]

    later = now_ms()
    async with db.batch_() as batch:
        lost = TicketRepository.queue_set_status(batch, ticket, "LOST", now=later)
    assert lost == ticket.model_copy(update={"status": "LOST", "updatedAt": later})
    assert await TicketRepository(db).by_code(code) == lost


async def test_a_code_cannot_be_issued_twice_and_the_batch_writes_nothing(db: Prisma) -> None:
    garage, spots = await make_garage(db, spots=2)
    code = new_ticket_code()
    first = await start_session(db, spots[0], start=T0, ticket_code=code)
    second = await start_session(db, spots[1], start=T0)
    error = await assert_batch_writes_nothing(db, UniqueViolationError, lambda batch: TicketRepository.queue_issue(
        batch, code=code, session_id=second.id, issued_at=T0, now=now_ms()))
    assert "code" in f"{error} {error.meta}"  # the error names the constraint's field
    assert await TicketRepository(db).for_sessions([second.id]) == []
    assert await TicketRepository(db).by_code(code) == first.ticket


async def test_a_session_has_one_ticket(db: Prisma) -> None:
    garage, spots = await make_garage(db, spots=1)
    session = await start_session(db, spots[0], start=T0, ticket_code=new_ticket_code())
    await assert_batch_writes_nothing(db, UniqueViolationError, lambda batch: TicketRepository.queue_issue(
        batch, code=new_ticket_code(), session_id=session.id, issued_at=T0, now=now_ms()))
    assert await TicketRepository(db).for_sessions([session.id]) == [session.ticket]
