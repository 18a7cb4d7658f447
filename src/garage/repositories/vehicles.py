"""Vehicles (soft-deleted; the plate is unique among live vehicles)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from prisma import Prisma
from prisma.client import Batch
from prisma.models import Vehicle
from prisma.types import VehicleCreateWithoutRelationsInput

from garage.db import insert_rows
from garage.repositories.pagination import Page, after, page_of, page_window
from garage.repositories.rows import new_id

LIVE: dict[str, Any] = {"deletedAt": None}


class VehicleRepository:
    def __init__(self, db: Prisma) -> None:
        self._db = db

    async def create(
        self,
        *,
        license_plate: str,
        type: str,
        owner_name: str | None = None,
        owner_email: str | None = None,
        owner_phone: str | None = None,
    ) -> Vehicle:
        """Owner fields arrive encrypted (the service encrypts them)."""
        return await self._db.vehicle.create(
            data={
                "licensePlate": license_plate,
                "type": type,
                "ownerName": owner_name,
                "ownerEmail": owner_email,
                "ownerPhone": owner_phone,
            }
        )

    @staticmethod
    def queue_create(batch: Batch, *, license_plate: str, type: str, now: datetime) -> Vehicle:
        """Adds the INSERT of a vehicle without owner fields to `batch`; returns the row as it will
        be stored. A live vehicle with the plate fails the batch (UniqueViolationError)."""
        vehicle = Vehicle(
            id=new_id(),
            licensePlate=license_plate,
            type=type,
            ownerName=None,
            ownerEmail=None,
            ownerPhone=None,
            createdAt=now,
            updatedAt=now,
            deletedAt=None,
        )
        batch.vehicle.create_many(data=[vehicle.model_dump(exclude={"sessions"})])  # type: ignore[list-item]
        return vehicle

    async def get_live(self, vehicle_id: str) -> Vehicle | None:
        return await self._db.vehicle.find_first(where={"id": vehicle_id, **LIVE})  # type: ignore[arg-type]

    async def live_by_plate(self, license_plate: str) -> Vehicle | None:
        return await self._db.vehicle.find_first(where={"licensePlate": license_plate, **LIVE})  # type: ignore[arg-type]

    async def live_by_plate_with_latest_session(self, license_plate: str) -> Vehicle | None:
        """The live vehicle with the plate and, in `sessions`, its latest session by start time (a
        vehicle's sessions never overlap, so that is its ACTIVE one or the one it last left)."""
        return await self._db.vehicle.find_first(
            where={"licensePlate": license_plate, **LIVE},  # type: ignore[arg-type]
            include={"sessions": {"order_by": [{"startTime": "desc"}, {"id": "desc"}], "take": 1}},
        )

    async def list_live(self, *, license_plate: str | None, limit: int, cursor: str | None) -> Page[Vehicle]:
        where: dict[str, Any] = dict(LIVE)
        if license_plate is not None:
            where["licensePlate"] = license_plate
        rows = await self._db.vehicle.find_many(
            where=where,  # type: ignore[arg-type]
            order=[{"createdAt": "desc"}, {"id": "desc"}],
            **page_window(limit, cursor),
        )
        return page_of(rows, limit)

    async def update(self, vehicle_id: str, changes: dict[str, Any]) -> Vehicle | None:
        """`changes` uses the model's field names (licensePlate, type, ownerName, ...)."""
        return await self._db.vehicle.update(where={"id": vehicle_id}, data=changes)  # type: ignore[arg-type]

    async def soft_delete(self, vehicle_id: str) -> Vehicle | None:
        return await self._db.vehicle.update(where={"id": vehicle_id}, data={"deletedAt": datetime.now(UTC)})

    async def with_owner_fields(self, *, after_id: str | None, limit: int) -> list[Vehicle]:
        """Every vehicle (deleted ones too) holding an encrypted owner field, by id: key rotation."""
        return await self._db.vehicle.find_many(
            where={"OR": [{"ownerName": {"not": None}}, {"ownerEmail": {"not": None}}, {"ownerPhone": {"not": None}}]},  # type: ignore[arg-type]  # `not: None` is not in the generated types
            order={"id": "asc"},
            take=limit,
            **after(after_id),
        )

    async def count_with_owner_fields(self) -> int:
        """How many vehicles with_owner_fields goes through (key rotation's progress)."""
        # `not: None` is not in the generated types (as in the listing above)
        holding: Any = {
            "OR": [{"ownerName": {"not": None}}, {"ownerEmail": {"not": None}}, {"ownerPhone": {"not": None}}]
        }
        counted: int = await self._db.vehicle.count(where=holding)
        return counted

    async def set_owner_fields(
        self, vehicle_id: str, *, name: str | None, email: str | None, phone: str | None
    ) -> None:
        """Replaces the stored (encrypted) owner fields."""
        await self._db.vehicle.update(
            where={"id": vehicle_id}, data={"ownerName": name, "ownerEmail": email, "ownerPhone": phone}
        )

    async def with_ids(self, ids: Sequence[str]) -> list[Vehicle]:
        """Vehicles (deleted ones too) having one of `ids`: bulk import's existence check."""
        return await self._db.vehicle.find_many(where={"id": {"in": list(ids)}})

    async def live_with_plates(self, plates: Sequence[str]) -> list[Vehicle]:
        """Live vehicles holding one of `plates`: bulk import's duplicate-plate check."""
        return await self._db.vehicle.find_many(where={"licensePlate": {"in": list(plates)}, **LIVE})  # type: ignore[arg-type]

    async def insert_many(self, rows: Sequence[VehicleCreateWithoutRelationsInput]) -> int:
        """Bulk import: owner fields arrive encrypted; ONE createMany."""
        return await insert_rows(self._db, "Vehicle", rows)
