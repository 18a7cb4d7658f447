"""Spots of a garage (soft-deleted: `deletedAt`). Lists and assignment order by level, then
`sortKey` (the numeric-aware key of the number, services/spot_numbers.py), then id."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prisma.models import Spot
from prisma.types import SpotCreateWithoutRelationsInput

from garage.db import insert_rows
from garage.errors import NotFound
from garage.repositories.base import Repository
from garage.repositories.events import event_view
from garage.repositories.pagination import Page, page_of, page_window
from garage.repositories.rows import new_id, now_ms
from garage.vocabulary import AuditAction, AuditEntity, EventType, SessionStatus, SpotStatus

_SPOT_ORDER: list[Any] = [{"level": "asc"}, {"sortKey": "asc"}, {"id": "asc"}]


@dataclass(frozen=True)
class NewSpot:
    level: int
    number: str
    sort_key: str
    type: str
    status: str = SpotStatus.AVAILABLE


@dataclass(frozen=True)
class SpotCount:
    """How many live spots of one level and type are in one status."""

    level: int
    type: str
    status: str
    count: int


class SpotRepository(Repository):
    async def get_live(self, spot_id: str) -> Spot | None:
        return await self._db.spot.find_first(where={"id": spot_id, "deletedAt": None})

    async def first_available(self, garage_id: str, spot_types: list[str]) -> Spot | None:
        """The first AVAILABLE live spot whose type is in `spot_types`: earlier types first, then
        lowest level, then numeric-aware number, then id. One indexed query per type."""
        for spot_type in spot_types:
            spot = await self._db.spot.find_first(
                where={"garageId": garage_id, "status": SpotStatus.AVAILABLE, "type": spot_type, "deletedAt": None},
                order=_SPOT_ORDER,
            )
            if spot is not None:
                return spot
        return None

    def queue_occupy(self, spot: Spot, *, session_id: str, now: datetime) -> Spot:
        """Adds AVAILABLE -> OCCUPIED (by `session_id`) to the unit's batch; returns the spot as it
        will be stored. A spot that is no longer live and AVAILABLE when the batch runs fails it
        (RecordMissing)."""
        self._batch().spot.update(
            where={"id": spot.id, "status": SpotStatus.AVAILABLE, "deletedAt": None},  # type: ignore[typeddict-unknown-key]  # Prisma 5 extended unique where
            data={"status": SpotStatus.OCCUPIED, "updatedAt": now},
        )
        self._record(
            AuditAction.UPDATE,
            AuditEntity.SPOT,
            spot.id,
            before={"status": spot.status},
            after={"status": SpotStatus.OCCUPIED, "sessionId": session_id},
        )
        occupied = spot.model_copy(update={"status": SpotStatus.OCCUPIED, "updatedAt": now})
        self._changed(occupied)
        return occupied

    def queue_release(self, spot: Spot, *, session_id: str, now: datetime) -> Spot:
        """Adds OCCUPIED -> AVAILABLE to the unit's batch (its session `session_id` is being
        completed in the same batch); returns the spot as it will be stored."""
        self._batch().spot.update_many(where={"id": spot.id}, data={"status": SpotStatus.AVAILABLE, "updatedAt": now})
        self._record(
            AuditAction.UPDATE,
            AuditEntity.SPOT,
            spot.id,
            before={"status": SpotStatus.OCCUPIED, "sessionId": session_id},
            after={"status": SpotStatus.AVAILABLE},
        )
        released = spot.model_copy(update={"status": SpotStatus.AVAILABLE, "updatedAt": now})
        self._changed(released)
        return released

    async def update(self, spot: Spot, changes: dict[str, Any]) -> Spot:
        """`changes` (field name -> value) to `spot`, read in the same transaction."""
        updated = await self._writing().spot.update(where={"id": spot.id}, data=changes)  # type: ignore[arg-type]
        if updated is None:
            raise NotFound(f"No spot {spot.id}")
        self._record(AuditAction.UPDATE, AuditEntity.SPOT, spot.id, before=spot, after=updated)
        self._changed(updated)
        return updated

    async def soft_delete(self, spot: Spot, at: datetime) -> Spot:
        deleted = await self._writing().spot.update(where={"id": spot.id}, data={"deletedAt": at})
        if deleted is None:
            raise NotFound(f"No spot {spot.id}")
        self._record(AuditAction.DELETE, AuditEntity.SPOT, spot.id, before=spot, after=deleted)
        self._changed(deleted)
        return deleted

    async def create_many(self, garage_id: str, spots: Sequence[NewSpot]) -> list[Spot]:
        """Creates the spots with ONE statement and returns them as stored.

        createMany does not return rows, so ids and timestamps are chosen here (ids cuid-shaped,
        times at the database's millisecond precision) instead of being read back.
        """
        now = now_ms()
        rows: list[dict[str, Any]] = [
            {
                "id": new_id(),
                "garageId": garage_id,
                "level": spot.level,
                "number": spot.number,
                "sortKey": spot.sort_key,
                "type": spot.type,
                "status": spot.status,
                "createdAt": now,
                "updatedAt": now,
            }
            for spot in spots
        ]
        await insert_rows(self._writing(), "Spot", rows)
        # the values were built here from checked input: no need to validate them again
        created = [Spot.model_construct(**row, deletedAt=None) for row in rows]
        for spot in created:
            self._record(AuditAction.CREATE, AuditEntity.SPOT, spot.id, after=spot)
            self._changed(spot)
        return created

    def _changed(self, spot: Spot) -> None:
        """spot.changed for every change of a spot, whatever caused it, and the garage's occupancy."""
        self._emit(EventType.SPOT_CHANGED, spot.garageId, {"spot": event_view(spot)})
        self._occupancy_changed(spot.garageId)

    async def count_live(self, garage_id: str) -> int:
        return await self._db.spot.count(where={"garageId": garage_id, "deletedAt": None})

    async def live_with_numbers(self, garage_id: str, numbers: Sequence[str]) -> list[Spot]:
        """Live spots of the garage having one of `numbers` (on any level): the candidates for a
        (level, number) clash."""
        return await self._db.spot.find_many(
            where={"garageId": garage_id, "deletedAt": None, "number": {"in": list(set(numbers))}}
        )

    async def list_live(
        self,
        garage_id: str,
        *,
        level: int | None,
        spot_type: str | None,
        status: str | None,
        limit: int,
        cursor: str | None,
    ) -> Page[Spot]:
        """Live spots of a garage, by level, then numeric-aware number, then id."""
        where: dict[str, Any] = {"garageId": garage_id, "deletedAt": None}
        if level is not None:
            where["level"] = level
        if spot_type is not None:
            where["type"] = spot_type
        if status is not None:
            where["status"] = status
        rows = await self._db.spot.find_many(
            where=where,  # type: ignore[arg-type]
            order=_SPOT_ORDER,
            **page_window(limit, cursor),
        )
        return page_of(rows, limit)

    async def count_active_sessions(self, spot_id: str) -> int:
        return await self._db.parkingsession.count(where={"spotId": spot_id, "status": SessionStatus.ACTIVE})

    async def counts(self, garage_id: str) -> list[SpotCount]:
        """How many live spots of the garage there are per (level, type, status): ONE GROUP BY, no
        spot rows loaded, and one snapshot for every total built from it."""
        rows = await self._db.spot.group_by(
            by=["level", "type", "status"],
            where={"garageId": garage_id, "deletedAt": None},
            count={"_all": True},
            order=[{"level": "asc"}, {"type": "asc"}, {"status": "asc"}],
        )
        return [
            SpotCount(level=row["level"], type=row["type"], status=row["status"], count=row["_count"]["_all"])
            for row in rows
        ]

    async def with_ids(self, ids: Sequence[str]) -> list[Spot]:
        """Spots (deleted ones too) having one of `ids`: bulk import's existence check."""
        return await self._db.spot.find_many(where={"id": {"in": list(ids)}})

    async def live_in_garages(self, garage_ids: Sequence[str]) -> list[Spot]:
        """Every live spot of the garages: bulk import's (level, number) and capacity checks."""
        return await self._db.spot.find_many(where={"garageId": {"in": list(garage_ids)}, "deletedAt": None})

    async def insert_many(self, rows: Sequence[SpotCreateWithoutRelationsInput]) -> int:
        """Bulk import: the rows as given (ids, sort keys and timestamps included), ONE createMany."""
        self._covered_by_job()
        return await insert_rows(self._writing(), "Spot", rows)
