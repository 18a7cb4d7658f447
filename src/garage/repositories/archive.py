"""Archival of ended sessions (COMPLETED and VOIDED): the same repository reads batches from the live
database and writes them to the archive database (same schema), so both sides are counted the same
way. A session goes with its parts (ticket, payment, validation); what it points at (garage, spot,
vehicle, permit, the validation's validator) is copied to the archive when missing there."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prisma.models import ParkingSession

from garage.db import insert_rows
from garage.repositories.base import Repository
from garage.repositories.rows import columns_of
from garage.vocabulary import SessionStatus


@dataclass(frozen=True)
class BatchTotals:
    """What a batch must add up to on both sides: counts, and money by payment status."""

    sessions: int = 0
    fee_cents: int = 0
    tickets: int = 0
    payments: int = 0
    validations: int = 0
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
        validations=sum(1 for session in sessions if session.validation is not None),
        payment_cents=payment_cents,
    )


ENDED: list[str] = [SessionStatus.COMPLETED, SessionStatus.VOIDED]
_PARTS: dict[str, Any] = {"ticket": True, "payment": True, "validation": True}
_PARTS_AND_REFERENCES: dict[str, Any] = {
    **_PARTS,
    "validation": {"include": {"validator": True}},
    "garage": True,
    "spot": True,
    "vehicle": True,
    "permit": True,
}


class ArchiveRepository(Repository):
    async def count_completed_before(self, before: datetime) -> int:
        """Ended sessions (COMPLETED or VOIDED) whose endTime is before `before`."""
        return await self._db.parkingsession.count(where={"status": {"in": ENDED}, "endTime": {"lt": before}})

    async def completed_before(self, before: datetime, limit: int) -> list[ParkingSession]:
        """The oldest `limit` completed sessions that ended before `before`, with everything a copy
        needs (one query). Always the first batch: archived sessions leave the live database."""
        return await self._db.parkingsession.find_many(
            where={"status": {"in": ENDED}, "endTime": {"lt": before}},
            include=_PARTS_AND_REFERENCES,  # type: ignore[arg-type]
            order=[{"endTime": "asc"}, {"id": "asc"}],
            take=limit,
        )

    async def sessions_with_parts(self, ids: Sequence[str]) -> list[ParkingSession]:
        return await self._db.parkingsession.find_many(
            where={"id": {"in": list(ids)}},
            include=_PARTS,  # type: ignore[arg-type]
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
        await self._delete_sessions(ids)
        await insert_rows(self._writing(), "ParkingSession", [columns_of(s) for s in sessions])
        await insert_rows(self._writing(), "Ticket", [columns_of(s.ticket) for s in sessions if s.ticket is not None])
        await insert_rows(
            self._writing(), "Payment", [columns_of(s.payment) for s in sessions if s.payment is not None]
        )
        await insert_rows(
            self._writing(), "Validation", [columns_of(s.validation) for s in sessions if s.validation is not None]
        )

    async def _copy_missing_references(self, sessions: Sequence[ParkingSession]) -> None:
        """Reference copies as they are now (the live rows stay where they are)."""
        self._covered_by_job()
        garages = {s.garage.id: s.garage for s in sessions if s.garage is not None}
        spots = {s.spot.id: s.spot for s in sessions if s.spot is not None}
        vehicles = {s.vehicle.id: s.vehicle for s in sessions if s.vehicle is not None}
        permits = {s.permit.id: s.permit for s in sessions if s.permit is not None}
        validators = {
            s.validation.validator.id: s.validation.validator
            for s in sessions
            if s.validation is not None and s.validation.validator is not None
        }
        present = {row.id for row in await self._db.garage.find_many(where={"id": {"in": list(garages)}})}
        await insert_rows(
            self._writing(),
            "Garage",
            [columns_of(row) for key, row in garages.items() if key not in present],
        )
        present = {row.id for row in await self._db.spot.find_many(where={"id": {"in": list(spots)}})}
        await insert_rows(
            self._writing(), "Spot", [columns_of(row) for key, row in spots.items() if key not in present]
        )
        present = {row.id for row in await self._db.vehicle.find_many(where={"id": {"in": list(vehicles)}})}
        await insert_rows(
            self._writing(),
            "Vehicle",
            [columns_of(row) for key, row in vehicles.items() if key not in present],
        )
        present = {row.id for row in await self._db.permit.find_many(where={"id": {"in": list(permits)}})}
        await insert_rows(
            self._writing(), "Permit", [columns_of(row) for key, row in permits.items() if key not in present]
        )
        present = {row.id for row in await self._db.validator.find_many(where={"id": {"in": list(validators)}})}
        await insert_rows(
            self._writing(), "Validator", [columns_of(row) for key, row in validators.items() if key not in present]
        )

    async def delete_batch(self, ids: Sequence[str]) -> int:
        """Removes archived sessions (their parts first) from this database; run it on a
        transaction (the job records one ARCHIVE entry for the batch)."""
        self._covered_by_job()
        return await self._delete_sessions(ids)

    async def _delete_sessions(self, ids: Sequence[str]) -> int:
        self._covered_by_job()
        await self._writing().validation.delete_many(where={"sessionId": {"in": list(ids)}})
        await self._writing().payment.delete_many(where={"sessionId": {"in": list(ids)}})
        await self._writing().ticket.delete_many(where={"sessionId": {"in": list(ids)}})
        return await self._writing().parkingsession.delete_many(where={"id": {"in": list(ids)}})
