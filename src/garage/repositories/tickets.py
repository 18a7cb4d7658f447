"""Tickets: one per session, found by their code. They are written with their session (the
session's aggregate: repositories/sessions.py), or by the bulk import."""

from __future__ import annotations

from collections.abc import Sequence

from prisma.models import Ticket
from prisma.types import TicketCreateWithoutRelationsInput

from garage.db import insert_rows
from garage.repositories.base import Repository


class TicketRepository(Repository):
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
        self._covered_by_job()
        return await insert_rows(self._writing(), "Ticket", rows)
