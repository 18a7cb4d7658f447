"""Tickets: one per session, found by their code."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from prisma import Prisma
from prisma.client import Batch
from prisma.models import Ticket
from prisma.types import TicketCreateWithoutRelationsInput

from garage.db import insert_rows
from garage.repositories.rows import new_id


class TicketRepository:
    def __init__(self, db: Prisma) -> None:
        self._db = db

    @staticmethod
    def queue_issue(batch: Batch, *, code: str, session_id: str, issued_at: datetime, now: datetime) -> Ticket:
        """Adds the INSERT of an OPEN ticket to `batch`; returns the row as it will be stored. A code
        already in use fails the batch (UniqueViolationError on `code`)."""
        ticket = Ticket(
            id=new_id(),
            code=code,
            sessionId=session_id,
            issuedAt=issued_at,
            status="OPEN",
            createdAt=now,
            updatedAt=now,
        )
        batch.ticket.create_many(data=[ticket.model_dump(exclude={"session"})])  # type: ignore[list-item]
        return ticket

    @staticmethod
    def queue_set_status(batch: Batch, ticket: Ticket, status: str, *, now: datetime) -> Ticket:
        batch.ticket.update_many(where={"id": ticket.id}, data={"status": status, "updatedAt": now})
        return ticket.model_copy(update={"status": status, "updatedAt": now})

    async def by_code(self, code: str) -> Ticket | None:
        return await self._db.ticket.find_unique(where={"code": code})

    async def for_sessions(self, session_ids: Sequence[str]) -> list[Ticket]:
        """The tickets of the sessions: bulk import's existence check."""
        return await self._db.ticket.find_many(where={"sessionId": {"in": list(session_ids)}})

    async def with_codes(self, codes: Sequence[str]) -> list[Ticket]:
        """Tickets holding one of `codes`: bulk import's code clash check."""
        return await self._db.ticket.find_many(where={"code": {"in": list(codes)}})

    async def insert_many(self, rows: Sequence[TicketCreateWithoutRelationsInput]) -> int:
        """Bulk import: ONE createMany."""
        return await insert_rows(self._db, "Ticket", rows)
