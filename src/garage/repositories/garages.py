"""Garages (soft-deleted: `deletedAt`; a deleted garage is gone for every lookup and list)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from prisma import Prisma
from prisma.models import Garage
from prisma.types import GarageCreateWithoutRelationsInput

from garage.db import insert_rows
from garage.repositories.pagination import Page, page_of, page_window


class GarageRepository:
    def __init__(self, db: Prisma) -> None:
        self._db = db

    async def get_live(self, garage_id: str) -> Garage | None:
        return await self._db.garage.find_first(where={"id": garage_id, "deletedAt": None})

    async def create(self, *, name: str, address: str, timezone: str, currency: str, capacity: int) -> Garage:
        return await self._db.garage.create(
            data={"name": name, "address": address, "timezone": timezone, "currency": currency, "capacity": capacity}
        )

    async def update(self, garage_id: str, changes: dict[str, Any]) -> Garage:
        """Applies `changes` (field name -> value) to a garage known to exist."""
        updated = await self._db.garage.update(where={"id": garage_id}, data=changes)  # type: ignore[arg-type]
        assert updated is not None, f"garage {garage_id} vanished inside its transaction"
        return updated

    async def soft_delete(self, garage_id: str, at: datetime) -> Garage:
        return await self.update(garage_id, {"deletedAt": at})

    async def list_live(self, *, limit: int, cursor: str | None) -> Page[Garage]:
        """Live garages, newest first."""
        rows = await self._db.garage.find_many(
            where={"deletedAt": None},
            order=[{"createdAt": "desc"}, {"id": "desc"}],
            **page_window(limit, cursor),
        )
        return page_of(rows, limit)

    async def count_active_sessions(self, garage_id: str) -> int:
        return await self._db.parkingsession.count(where={"garageId": garage_id, "status": "ACTIVE"})

    async def with_ids(self, ids: Sequence[str]) -> list[Garage]:
        """Garages (deleted ones too) having one of `ids`: bulk import's existence check."""
        return await self._db.garage.find_many(where={"id": {"in": list(ids)}})

    async def insert_many(self, rows: Sequence[GarageCreateWithoutRelationsInput]) -> int:
        """Bulk import: the rows as given (ids and timestamps included), ONE createMany."""
        return await insert_rows(self._db, "Garage", rows)
