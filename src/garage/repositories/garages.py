"""Garages (soft-deleted: `deletedAt`; a deleted garage is gone for every lookup and list)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from prisma.models import Garage
from prisma.types import GarageCreateWithoutRelationsInput

from garage.db import insert_rows
from garage.repositories.audit import audit_view
from garage.repositories.base import Repository
from garage.repositories.events import event_view
from garage.repositories.pagination import Page, page_of, page_window
from garage.vocabulary import AuditAction, AuditEntity, EventType, SessionStatus


class GarageRepository(Repository):
    async def get_live(self, garage_id: str) -> Garage | None:
        return await self._db.garage.find_first(where={"id": garage_id, "deletedAt": None})

    async def create(self, *, name: str, address: str, timezone: str, currency: str, capacity: int) -> Garage:
        garage = await self._writing().garage.create(
            data={"name": name, "address": address, "timezone": timezone, "currency": currency, "capacity": capacity}
        )
        self._record(AuditAction.CREATE, AuditEntity.GARAGE, garage.id, after=garage)
        return garage

    async def update(self, garage: Garage, changes: dict[str, Any]) -> Garage:
        """Applies `changes` (field name -> value) to `garage`, read in the same transaction."""
        updated = await self._writing().garage.update(where={"id": garage.id}, data=changes)  # type: ignore[arg-type]
        assert updated is not None, f"garage {garage.id} vanished inside its transaction"
        self._record(AuditAction.UPDATE, AuditEntity.GARAGE, garage.id, before=garage, after=updated)
        if updated.closed != garage.closed:  # the state signs show
            self._occupancy_changed(garage.id)
        return updated

    async def soft_delete(self, garage: Garage, at: datetime) -> Garage:
        """Soft-deletes `garage` and its live spots (their history keeps referring to both)."""
        deleted = await self._writing().garage.update(where={"id": garage.id}, data={"deletedAt": at})
        assert deleted is not None, f"garage {garage.id} vanished inside its transaction"
        live_spots = await self._db.spot.find_many(where={"garageId": garage.id, "deletedAt": None})
        spots = await self._writing().spot.update_many(
            where={"garageId": garage.id, "deletedAt": None}, data={"deletedAt": at}
        )
        after = {**audit_view(deleted, AuditEntity.GARAGE), "spotsDeleted": spots}
        self._record(AuditAction.DELETE, AuditEntity.GARAGE, garage.id, before=garage, after=after)
        for spot in live_spots:  # every change of a spot, whatever caused it, is a spot.changed
            gone = spot.model_copy(update={"deletedAt": at})
            self._emit(EventType.SPOT_CHANGED, garage.id, {"spot": event_view(gone)})
        self._occupancy_changed(garage.id)
        return deleted

    async def list_live(self, *, limit: int, cursor: str | None) -> Page[Garage]:
        """Live garages, newest first."""
        rows = await self._db.garage.find_many(
            where={"deletedAt": None},
            order=[{"createdAt": "desc"}, {"id": "desc"}],
            **page_window(limit, cursor),
        )
        return page_of(rows, limit)

    async def count_active_sessions(self, garage_id: str) -> int:
        return await self._db.parkingsession.count(where={"garageId": garage_id, "status": SessionStatus.ACTIVE})

    async def with_ids(self, ids: Sequence[str]) -> list[Garage]:
        """Garages (deleted ones too) having one of `ids`: bulk import's existence check."""
        return await self._db.garage.find_many(where={"id": {"in": list(ids)}})

    async def insert_many(self, rows: Sequence[GarageCreateWithoutRelationsInput]) -> int:
        """Bulk import: the rows as given (ids and timestamps included), ONE createMany."""
        self._covered_by_job()
        return await insert_rows(self._writing(), "Garage", rows)
