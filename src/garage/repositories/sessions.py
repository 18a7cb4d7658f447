"""Parking sessions, always read with their ticket (its code is part of the Session resource)."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from prisma import Prisma
from prisma.client import Batch
from prisma.models import ParkingSession
from prisma.types import ParkingSessionCreateWithoutRelationsInput

from garage.db import insert_rows
from garage.repositories.pagination import Page, page_of, page_window, time_range
from garage.repositories.rows import new_id

WITH_TICKET: dict[str, Any] = {"ticket": True}
_WITH_TICKET_GARAGE_AND_RATE: dict[str, Any] = {**WITH_TICKET, "garage": {"include": {"rate": True}}}
_RELATIONS = {"garage", "spot", "vehicle", "ticket", "payment"}
NEWEST_FIRST: list[dict[str, str]] = [{"startTime": "desc"}, {"id": "desc"}]


class SessionRepository:
    def __init__(self, db: Prisma) -> None:
        self._db = db

    @staticmethod
    def queue_start(
        batch: Batch,
        *,
        garage_id: str,
        spot_id: str,
        vehicle_id: str,
        license_plate: str,
        start_time: datetime,
        now: datetime,
    ) -> ParkingSession:
        """Adds the INSERT of a new ACTIVE session to `batch`; returns the row as it will be stored."""
        session = ParkingSession(
            id=new_id(),
            garageId=garage_id,
            spotId=spot_id,
            vehicleId=vehicle_id,
            licensePlate=license_plate,
            status="ACTIVE",
            startTime=start_time,
            endTime=None,
            feeCents=None,
            createdAt=now,
            updatedAt=now,
        )
        batch.parkingsession.create_many(data=[session.model_dump(exclude=_RELATIONS)])  # type: ignore[list-item]
        return session

    @staticmethod
    def queue_complete(batch: Batch, session_id: str, *, end_time: datetime, fee_cents: int, now: datetime) -> None:
        """Adds ACTIVE -> COMPLETED to `batch`. The status is part of the WHERE: a session that is
        no longer ACTIVE when the batch runs fails it (RecordNotFoundError) and nothing is written.
        (`update`, not `update_many`: only `update` fails a batch when nothing matches.)"""
        batch.parkingsession.update(
            where={"id": session_id, "status": "ACTIVE"},  # type: ignore[typeddict-unknown-key]  # Prisma 5 extended unique where
            data={"status": "COMPLETED", "endTime": end_time, "feeCents": fee_cents, "updatedAt": now},
        )

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

    async def active_for_vehicle(self, vehicle_id: str) -> ParkingSession | None:
        return await self._db.parkingsession.find_first(where={"vehicleId": vehicle_id, "status": "ACTIVE"})

    async def list(
        self,
        *,
        garage_id: str | None = None,
        vehicle_id: str | None = None,
        status: str | None = None,
        license_plate: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int,
        cursor: str | None,
    ) -> Page[ParkingSession]:
        """Newest startTime first; `since` inclusive, `until` exclusive (on startTime)."""
        where: dict[str, Any] = {}
        for field, value in (
            ("garageId", garage_id),
            ("vehicleId", vehicle_id),
            ("status", status),
            ("licensePlate", license_plate),
        ):
            if value is not None:
                where[field] = value
        if (window := time_range(since, until)) is not None:
            where["startTime"] = window
        rows = await self._db.parkingsession.find_many(
            where=where,  # type: ignore[arg-type]
            include=WITH_TICKET,  # type: ignore[arg-type]
            order=NEWEST_FIRST,  # type: ignore[arg-type]
            **page_window(limit, cursor),
        )
        return page_of(rows, limit)

    async def with_ids(self, ids: Sequence[str]) -> builtins.list[ParkingSession]:
        """Sessions having one of `ids` (without their ticket): bulk import's existence check."""
        return await self._db.parkingsession.find_many(where={"id": {"in": builtins.list(ids)}})

    async def active_on(self, *, spot_ids: Sequence[str], vehicle_ids: Sequence[str]) -> builtins.list[ParkingSession]:
        """ACTIVE sessions on any of the spots or of any of the vehicles: bulk import's one-active check."""
        return await self._db.parkingsession.find_many(
            where={
                "status": "ACTIVE",
                "OR": [{"spotId": {"in": builtins.list(spot_ids)}}, {"vehicleId": {"in": builtins.list(vehicle_ids)}}],
            }
        )

    async def insert_many(self, rows: Sequence[ParkingSessionCreateWithoutRelationsInput]) -> int:
        """Bulk import: ONE createMany."""
        return await insert_rows(self._db, "ParkingSession", rows)


def _with_ticket(garage_and_rate: bool) -> dict[str, Any]:
    """A session is always read with its ticket; check-out also needs its garage and rate."""
    return _WITH_TICKET_GARAGE_AND_RATE if garage_and_rate else WITH_TICKET
