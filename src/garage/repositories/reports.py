"""Read model for usage reports: the few columns a report needs, for one garage and window."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from garage.repositories.base import Repository
from garage.vocabulary import PaymentMethod, PaymentStatus, SessionStatus


@dataclass(frozen=True)
class SessionSpan:
    """A session's stay; `end` is its check-out, or its void's time when `voided` (a void is no
    check-out, but the session occupied its spot until then)."""

    start: datetime
    end: datetime | None
    voided: bool = False


@dataclass(frozen=True)
class Revenue:
    """A payment taken at check-out time `at`: how much, how, and what a validation took off."""

    at: datetime
    amount_cents: int
    method: PaymentMethod
    discount_cents: int


class ReportRepository(Repository):
    async def session_spans(self, garage_id: str, since: datetime, until: datetime) -> list[SessionSpan]:
        """Sessions active at some moment of [since, until): started before `until` and not
        ended before `since`, by start time. Two queries on the index [garageId, endTime], one for
        the sessions that ended since `since`, one for those still running: a single query on
        startTime < until would read the garage's whole history for every report (the start-time
        bound is applied here; for recent windows it removes nothing)."""
        ended, running = await asyncio.gather(
            self._db.parkingsession.find_many(where={"garageId": garage_id, "endTime": {"gte": since}}),
            self._db.parkingsession.find_many(where={"garageId": garage_id, "endTime": None}),
        )
        spans = [
            SessionSpan(start=row.startTime, end=row.endTime, voided=row.status == SessionStatus.VOIDED)
            for row in (*ended, *running)
            if row.startTime < until
        ]
        return sorted(spans, key=lambda span: span.start)

    async def completed_payments(self, garage_id: str, since: datetime, until: datetime) -> list[Revenue]:
        """Payments taken in [since, until), refunded ones excluded (index [garageId, createdAt])."""
        rows = await self._db.payment.find_many(
            where={"garageId": garage_id, "status": PaymentStatus.COMPLETED, "createdAt": {"gte": since, "lt": until}},
            order={"createdAt": "asc"},
        )
        return [
            Revenue(
                at=row.createdAt,
                amount_cents=row.amountCents,
                method=PaymentMethod(row.method),
                discount_cents=row.discountCents,
            )
            for row in rows
        ]

    async def active_session_count(self) -> int:
        return await self._db.parkingsession.count(where={"status": SessionStatus.ACTIVE})

    async def live_spots_by_status(self) -> dict[str, int]:
        rows = await self._db.spot.group_by(by=["status"], where={"deletedAt": None}, count=True)
        return {str(row["status"]): int(row["_count"]["_all"]) for row in rows}
