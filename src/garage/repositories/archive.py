"""Archival of completed sessions: the same repository reads batches from the live database and
writes them to the archive database (same schema), so both sides are counted the same way."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prisma.models import ParkingSession
from pydantic import BaseModel

from garage.db import insert_rows
from garage.repositories.base import Repository
from garage.vocabulary import SessionStatus

# Relations are not columns: left out when a row is copied.
SESSION_RELATIONS = {"garage", "spot", "vehicle", "ticket", "payment"}
GARAGE_RELATIONS = {"spots", "sessions", "payments", "rate"}
SPOT_RELATIONS = {"garage", "sessions"}
VEHICLE_RELATIONS = {"sessions"}
PART_RELATIONS = {"session", "garage"}


@dataclass(frozen=True)
class BatchTotals:
    """What a batch must add up to on both sides: counts, and money by payment status."""

    sessions: int = 0
    fee_cents: int = 0
    tickets: int = 0
    payments: int = 0
    payment_cents: dict[str, int] = field(default_factory=dict)


def totals_of(sessions: Sequence[ParkingSession]) -> BatchTotals:
    payment_cents: dict[str, int] = {}
    for session in sessions:
        if session.payment is not None:
            status = session.payment.status
            payment_cents[status] = payment_cents.get(status, 0) + session.payment.amountCents
    return BatchTotals(
        sessions=len(sessions),
        fee_cents=sum(session.feeCents or 0 for session in sessions),
        tickets=sum(1 for session in sessions if session.ticket is not None),
        payments=sum(1 for session in sessions if session.payment is not None),
        payment_cents=payment_cents,
    )


def _columns(row: BaseModel, relations: set[str]) -> Any:
    return row.model_dump(exclude=relations)


class ArchiveRepository(Repository):
    async def count_completed_before(self, before: datetime) -> int:
        return await self._db.parkingsession.count(where={"status": SessionStatus.COMPLETED, "endTime": {"lt": before}})

    async def completed_before(self, before: datetime, limit: int) -> list[ParkingSession]:
        """The oldest `limit` completed sessions that ended before `before`, with everything a copy
        needs (one query). Always the first batch: archived sessions leave the live database."""
        return await self._db.parkingsession.find_many(
            where={"status": SessionStatus.COMPLETED, "endTime": {"lt": before}},
            include={"ticket": True, "payment": True, "garage": True, "spot": True, "vehicle": True},
            order=[{"endTime": "asc"}, {"id": "asc"}],
            take=limit,
        )

    async def sessions_with_parts(self, ids: Sequence[str]) -> list[ParkingSession]:
        return await self._db.parkingsession.find_many(
            where={"id": {"in": list(ids)}}, include={"ticket": True, "payment": True}
        )

    async def totals(self, ids: Sequence[str]) -> BatchTotals:
        return totals_of(await self.sessions_with_parts(ids))

    async def replace_batch(self, sessions: Sequence[ParkingSession]) -> None:
        """Writes `sessions` with their ticket and payment, replacing any earlier copy of them (an
        interrupted run), and the garages, spots and vehicles they point at when missing.
        Run it on a transaction: the batch lands whole or not at all. (The archive keeps copies,
        not changes: the live database's ARCHIVE entry records the move.)"""
        self._covered_by_job()
        ids = [session.id for session in sessions]
        await self._copy_missing_references(sessions)
        await self._writing().payment.delete_many(where={"sessionId": {"in": ids}})
        await self._writing().ticket.delete_many(where={"sessionId": {"in": ids}})
        await self._writing().parkingsession.delete_many(where={"id": {"in": ids}})
        await insert_rows(self._writing(), "ParkingSession", [_columns(s, SESSION_RELATIONS) for s in sessions])
        await insert_rows(
            self._writing(), "Ticket", [_columns(s.ticket, PART_RELATIONS) for s in sessions if s.ticket is not None]
        )
        await insert_rows(
            self._writing(), "Payment", [_columns(s.payment, PART_RELATIONS) for s in sessions if s.payment is not None]
        )

    async def _copy_missing_references(self, sessions: Sequence[ParkingSession]) -> None:
        """Reference copies as they are now (the live rows stay where they are)."""
        self._covered_by_job()
        garages = {s.garage.id: s.garage for s in sessions if s.garage is not None}
        spots = {s.spot.id: s.spot for s in sessions if s.spot is not None}
        vehicles = {s.vehicle.id: s.vehicle for s in sessions if s.vehicle is not None}
        present = {row.id for row in await self._db.garage.find_many(where={"id": {"in": list(garages)}})}
        await insert_rows(
            self._writing(),
            "Garage",
            [_columns(row, GARAGE_RELATIONS) for key, row in garages.items() if key not in present],
        )
        present = {row.id for row in await self._db.spot.find_many(where={"id": {"in": list(spots)}})}
        await insert_rows(
            self._writing(), "Spot", [_columns(row, SPOT_RELATIONS) for key, row in spots.items() if key not in present]
        )
        present = {row.id for row in await self._db.vehicle.find_many(where={"id": {"in": list(vehicles)}})}
        await insert_rows(
            self._writing(),
            "Vehicle",
            [_columns(row, VEHICLE_RELATIONS) for key, row in vehicles.items() if key not in present],
        )

    async def delete_batch(self, ids: Sequence[str]) -> int:
        """Removes archived sessions (tickets and payments first) from this database; run it on a
        transaction (the job records one ARCHIVE entry for the batch)."""
        self._covered_by_job()
        await self._writing().payment.delete_many(where={"sessionId": {"in": list(ids)}})
        await self._writing().ticket.delete_many(where={"sessionId": {"in": list(ids)}})
        return await self._writing().parkingsession.delete_many(where={"id": {"in": list(ids)}})
