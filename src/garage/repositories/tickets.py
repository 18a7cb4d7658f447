"""Tickets: one per session, found by their code."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from prisma import Prisma
from prisma.models import Ticket
from prisma.types import TicketCreateWithoutRelationsInput


class TicketRepository:
    def __init__(self, db: Prisma) -> None:
        self._db = db

    async def create(self, *, code: str, session_id: str, issued_at: datetime) -> Ticket:
        return await self._db.ticket.create(
            data={"code": code, "sessionId": session_id, "issuedAt": issued_at, "status": "OPEN"}
        )

    async def by_code(self, code: str) -> Ticket | None:
        return await self._db.ticket.find_unique(where={"code": code})

    async def code_taken(self, code: str) -> bool:
        return await self._db.ticket.count(where={"code": code}) > 0

    async def set_status(self, session_id: str, status: str) -> Ticket | None:
        return await self._db.ticket.update(where={"sessionId": session_id}, data={"status": status})

    async def for_sessions(self, session_ids: Sequence[str]) -> list[Ticket]:
        """The tickets of the sessions: bulk import's existence check."""
        return await self._db.ticket.find_many(where={"sessionId": {"in": list(session_ids)}})

    async def with_codes(self, codes: Sequence[str]) -> list[Ticket]:
        """Tickets holding one of `codes`: bulk import's code clash check."""
        return await self._db.ticket.find_many(where={"code": {"in": list(codes)}})

    async def insert_many(self, rows: Sequence[TicketCreateWithoutRelationsInput]) -> int:
        """Bulk import: ONE createMany."""
        return await self._db.ticket.create_many(data=list(rows))
