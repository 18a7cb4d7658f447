"""Parking sessions, always read with their ticket (its code is part of the Session resource)."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from prisma.models import ParkingSession, Payment, Spot, Ticket
from prisma.types import ParkingSessionCreateWithoutRelationsInput, PermitUpdateOneWithoutRelationsInput

from garage.db import insert_rows
from garage.repositories.audit import audit_view
from garage.repositories.base import Repository
from garage.repositories.events import event_view
from garage.repositories.pagination import Page, newest_first_window, page_of, time_range
from garage.repositories.rows import columns_of, new_id, relations_of
from garage.vocabulary import AuditAction, AuditEntity, EventType, SessionStatus, SpotStatus, TicketStatus

WITH_TICKET: dict[str, Any] = {"ticket": True}
# check-out and void also need its spot (the spot.changed event says what the spot became); the fee rule
# needs the garage (its timezone), the rate, and the session's validation
_WITH_TICKET_GARAGE_AND_RATE: dict[str, Any] = {
    **WITH_TICKET,
    "garage": {"include": {"rate": True}},
    "spot": True,
    "validation": True,
    "permit": True,
}


class SessionRepository(Repository):
    def queue_start(
        self,
        *,
        spot: Spot,
        vehicle_id: str,
        license_plate: str,
        vehicle_type: str,
        start_time: datetime,
        ticket_code: str,
        now: datetime,
        permit_id: str | None = None,
    ) -> ParkingSession:
        """Adds the INSERT of a new ACTIVE session and its OPEN ticket to the unit's batch; returns
        the session (with its ticket) as it will be stored. A ticket code already in use fails the
        batch (UniqueViolation). Emits session.started with the spot as the check-in leaves it."""
        session = ParkingSession(
            id=new_id(),
            garageId=spot.garageId,
            spotId=spot.id,
            vehicleId=vehicle_id,
            licensePlate=license_plate,
            vehicleType=vehicle_type,
            status=SessionStatus.ACTIVE,
            startTime=start_time,
            endTime=None,
            feeCents=None,
            permitId=permit_id,
            voidReason=None,
            createdAt=now,
            updatedAt=now,
        )
        ticket = Ticket(
            id=new_id(),
            code=ticket_code,
            sessionId=session.id,
            issuedAt=start_time,
            status=TicketStatus.OPEN,
            createdAt=now,
            updatedAt=now,
        )
        batch = self._batch()
        batch.parkingsession.create_many(data=[columns_of(session)])  # type: ignore[list-item]
        batch.ticket.create_many(data=[columns_of(ticket)])  # type: ignore[list-item]
        after = {**audit_view(session, AuditEntity.SESSION), "ticketCode": ticket.code}
        self._record(AuditAction.CHECK_IN, AuditEntity.SESSION, session.id, after=after)
        started = session.model_copy(update={"ticket": ticket})
        occupied = spot.model_copy(update={"status": SpotStatus.OCCUPIED, "updatedAt": now})
        self._emit(
            EventType.SESSION_STARTED, spot.garageId, {"session": event_view(started), "spot": event_view(occupied)}
        )
        return started

    def queue_complete(
        self,
        session: ParkingSession,
        *,
        end_time: datetime,
        fee_cents: int,
        minutes: int,
        lost_ticket: bool,
        payment: Payment | None,
        now: datetime,
    ) -> ParkingSession:
        """Adds ACTIVE -> COMPLETED (and its ticket PAID, or LOST) to the unit's batch; returns the
        session as it will be stored, with its ticket. What the fee was computed from is part of the
        WHERE (`_as_priced`): a session that is no longer ACTIVE, or that gained a validation or
        changed permit since it was read, fails the batch (RecordMissing) and nothing is written.
        Emits session.completed with `payment`, queued in the same batch (None only for test data)."""
        ticket_status = TicketStatus.LOST if lost_ticket else TicketStatus.PAID
        completed = self._queue_end(
            session,
            guard=_as_priced(session),
            changes={"status": SessionStatus.COMPLETED, "endTime": end_time, "feeCents": fee_cents},
            ticket_status=ticket_status,
            now=now,
        )
        after = {**audit_view(completed, AuditEntity.SESSION), "ticketStatus": ticket_status, "minutes": minutes}
        self._record(AuditAction.CHECK_OUT, AuditEntity.SESSION, session.id, before=session, after=after)
        paid = event_view(payment) if payment is not None else None
        self._emit(EventType.SESSION_COMPLETED, session.garageId, {"session": event_view(completed), "payment": paid})
        return completed

    def queue_void(self, session: ParkingSession, *, reason: str, end_time: datetime, now: datetime) -> ParkingSession:
        """Adds ACTIVE -> VOIDED (no fee, no payment; its ticket VOID) to the unit's batch; returns the
        session as it will be stored. Guarded like `queue_complete`: a session no longer ACTIVE when
        the batch runs fails it (RecordMissing), so a void racing a check-out leaves exactly one."""
        voided = self._queue_end(
            session,
            guard={"id": session.id, "status": SessionStatus.ACTIVE},
            changes={"status": SessionStatus.VOIDED, "endTime": end_time, "voidReason": reason},
            ticket_status=TicketStatus.VOID,
            now=now,
        )
        after = {**audit_view(voided, AuditEntity.SESSION), "ticketStatus": TicketStatus.VOID}
        self._record(AuditAction.VOID, AuditEntity.SESSION, session.id, before=session, after=after)
        self._emit(EventType.SESSION_VOIDED, session.garageId, {"session": event_view(voided)})
        return voided

    def _queue_end(
        self,
        session: ParkingSession,
        *,
        guard: dict[str, Any],
        changes: dict[str, Any],
        ticket_status: TicketStatus,
        now: datetime,
    ) -> ParkingSession:
        """The writes that end an ACTIVE session, added to the unit's batch: the session's `changes`
        where `guard` still holds (`update`, not `update_many`: only `update` fails a batch when nothing
        matches) and its ticket's status. Returns the session as it will be stored, with its ticket
        and without the other relations it was read with."""
        assert session.ticket is not None, "sessions are read with their ticket"
        batch = self._batch()
        batch.parkingsession.update(where=guard, data={**changes, "updatedAt": now})  # type: ignore[arg-type,typeddict-item]  # Prisma 5 extended unique where
        batch.ticket.update_many(where={"id": session.ticket.id}, data={"status": ticket_status, "updatedAt": now})
        ticket = session.ticket.model_copy(update={"status": ticket_status, "updatedAt": now})
        others = {name: None for name in relations_of("ParkingSession") if name != "ticket"}
        return session.model_copy(update={**changes, "updatedAt": now, **others, "ticket": ticket})

    async def get(self, session_id: str, *, with_garage_and_rate: bool = False) -> ParkingSession | None:
        return await self._db.parkingsession.find_unique(
            where={"id": session_id},
            include=_with_ticket(with_garage_and_rate),  # type: ignore[arg-type]
        )

    async def by_ticket_code(self, code: str, *, with_garage_and_rate: bool = False) -> ParkingSession | None:
        """The session holding the ticket `code` (normalised), in one query (Ticket.code is unique)."""
        return await self._db.parkingsession.find_first(
            where={"ticket": {"is": {"code": code}}},
            include=_with_ticket(with_garage_and_rate),  # type: ignore[arg-type]
        )

    async def active_by_plate(
        self, garage_id: str, license_plate: str, *, with_garage_and_rate: bool = False
    ) -> ParkingSession | None:
        """The ACTIVE session of `license_plate` (normalised, as recorded at check-in) in the garage:
        exit by plate (a vehicle has at most one ACTIVE session anywhere)."""
        return await self._db.parkingsession.find_first(
            where={"garageId": garage_id, "licensePlate": license_plate, "status": SessionStatus.ACTIVE},
            include=_with_ticket(with_garage_and_rate),  # type: ignore[arg-type]
        )

    async def active_for_vehicle(self, vehicle_id: str) -> ParkingSession | None:
        return await self._db.parkingsession.find_first(where={"vehicleId": vehicle_id, "status": SessionStatus.ACTIVE})

    async def list(
        self,
        *,
        garage_id: str | None = None,
        vehicle_id: str | None = None,
        status: str | None = None,
        license_plate: str | None = None,
        plate_contains: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int,
        cursor: str | None,
    ) -> Page[ParkingSession]:
        """Newest startTime first; `since` inclusive, `until` exclusive (on startTime);
        `plate_contains` (normalised) matches plates containing it (search)."""
        where: dict[str, Any] = {}
        for field, value in (
            ("garageId", garage_id),
            ("vehicleId", vehicle_id),
            ("status", status),
            ("licensePlate", license_plate),
        ):
            if value is not None:
                where[field] = value
        if plate_contains is not None:
            where["AND"] = [{"licensePlate": {"contains": plate_contains}}]
        if (window := time_range(since, until)) is not None:
            where["startTime"] = window
        # the next page's cursor is a position (startTime, id): SQLite seeks to it (pagination.keyset)
        rows = await self._db.parkingsession.find_many(
            include=WITH_TICKET,  # type: ignore[arg-type]
            **newest_first_window("startTime", where, limit, cursor),
        )
        return page_of(rows, limit, key="startTime")

    async def with_ids(self, ids: Sequence[str]) -> builtins.list[ParkingSession]:
        """Sessions having one of `ids` (without their ticket): bulk import's existence check."""
        return await self._db.parkingsession.find_many(where={"id": {"in": builtins.list(ids)}})

    async def active_on(self, *, spot_ids: Sequence[str], vehicle_ids: Sequence[str]) -> builtins.list[ParkingSession]:
        """ACTIVE sessions on any of the spots or of any of the vehicles: bulk import's one-active check."""
        return await self._db.parkingsession.find_many(
            where={
                "status": SessionStatus.ACTIVE,
                "OR": [{"spotId": {"in": builtins.list(spot_ids)}}, {"vehicleId": {"in": builtins.list(vehicle_ids)}}],
            }
        )

    async def insert_many(self, rows: Sequence[ParkingSessionCreateWithoutRelationsInput]) -> int:
        """Bulk import: ONE createMany."""
        self._covered_by_job()
        return await insert_rows(self._writing(), "ParkingSession", rows)

    async def set_permit(self, session: ParkingSession, permit_id: str | None) -> ParkingSession:
        """The permit covering `session` (ACTIVE, read in the same transaction) now that a permit of
        its garage and plate was created, cancelled or moved; returns it without its relations."""
        link: PermitUpdateOneWithoutRelationsInput = (
            {"connect": {"id": permit_id}} if permit_id is not None else {"disconnect": True}
        )
        updated = await self._writing().parkingsession.update(where={"id": session.id}, data={"permit": link})
        assert updated is not None, f"session {session.id} vanished inside its transaction"
        self._record(AuditAction.UPDATE, AuditEntity.SESSION, session.id, before=session, after=updated)
        return updated


def _as_priced(session: ParkingSession) -> dict[str, Any]:
    """The completion's guard: the session row still as it was read and priced, ACTIVE and with the
    same updatedAt (a new validation or a change of permit moves it: ValidationRepository.create,
    set_permit). A version check on the row's own key: no subquery on Validation."""
    return {"id": session.id, "status": SessionStatus.ACTIVE, "updatedAt": session.updatedAt}


def _with_ticket(garage_and_rate: bool) -> dict[str, Any]:
    """A session is always read with its ticket; check-out also needs its garage and rate."""
    return _WITH_TICKET_GARAGE_AND_RATE if garage_and_rate else WITH_TICKET
