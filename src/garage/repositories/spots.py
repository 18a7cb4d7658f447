"""Spots of a garage (soft-deleted: `deletedAt`). Lists and assignment order by level, then
`sortKey` (the numeric-aware key of the number, services/spot_numbers.py), then id."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prisma import Prisma
from prisma.client import Batch
from prisma.models import Spot
from prisma.types import SpotCreateWithoutRelationsInput

from garage.db import insert_rows
from garage.errors import NotFound
from garage.repositories.pagination import Page, page_of, page_window
from garage.repositories.rows import new_id, now_ms

_SPOT_ORDER: list[Any] = [{"level": "asc"}, {"sortKey": "asc"}, {"id": "asc"}]


@dataclass(frozen=True)
class NewSpot:
    level: int
    number: str
    sort_key: str
    type: str
    status: str = "AVAILABLE"


@dataclass(frozen=True)
class SpotCount:
    """How many live spots of one level and type are in one status."""

    level: int
    type: str
    status: str
    count: int


class SpotRepository:
    def __init__(self, db: Prisma) -> None:
        self._db = db

    async def get_live(self, spot_id: str) -> Spot | None:
        return await self._db.spot.find_first(where={"id": spot_id, "deletedAt": None})

    async def first_available(self, garage_id: str, spot_types: list[str]) -> Spot | None:
        """The first AVAILABLE live spot whose type is in `spot_types`: earlier types first, then
        lowest level, then numeric-aware number, then id. One indexed query per type."""
        for spot_type in spot_types:
            spot = await self._db.spot.find_first(
                where={"garageId": garage_id, "status": "AVAILABLE", "type": spot_type, "deletedAt": None},
                order=_SPOT_ORDER,
            )
            if spot is not None:
                return spot
        return None

    @staticmethod
    def queue_occupy(batch: Batch, spot: Spot, *, now: datetime) -> Spot:
        """Adds AVAILABLE -> OCCUPIED to `batch`; returns the spot as it will be stored. A spot that
        is no longer live and AVAILABLE when the batch runs fails it (RecordNotFoundError)."""
        batch.spot.update(
            where={"id": spot.id, "status": "AVAILABLE", "deletedAt": None},  # type: ignore[typeddict-unknown-key]  # Prisma 5 extended unique where
            data={"status": "OCCUPIED", "updatedAt": now},
        )
        return spot.model_copy(update={"status": "OCCUPIED", "updatedAt": now})

    @staticmethod
    def queue_release(batch: Batch, spot_id: str, *, now: datetime) -> None:
        """Adds -> AVAILABLE to `batch` (the spot's session is being completed in the same batch)."""
        batch.spot.update_many(where={"id": spot_id}, data={"status": "AVAILABLE", "updatedAt": now})

    async def update(self, spot_id: str, changes: dict[str, Any]) -> Spot:
        updated = await self._db.spot.update(where={"id": spot_id}, data=changes)  # type: ignore[arg-type]
        if updated is None:
            raise NotFound(f"No spot {spot_id}")
        return updated

    async def soft_delete(self, spot_id: str, at: datetime) -> Spot:
        return await self.update(spot_id, {"deletedAt": at})

    async def soft_delete_all_of(self, garage_id: str, at: datetime) -> int:
        """Soft-deletes every live spot of a garage (the garage itself is being deleted)."""
        return await self._db.spot.update_many(where={"garageId": garage_id, "deletedAt": None}, data={"deletedAt": at})

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
        await insert_rows(self._db, "Spot", rows)
        # the values were built here from checked input: no need to validate them again
        return [Spot.model_construct(**row, deletedAt=None) for row in rows]

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
        return await self._db.parkingsession.count(where={"spotId": spot_id, "status": "ACTIVE"})

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
        return await insert_rows(self._db, "Spot", rows)
