"""Vehicles (soft-deleted; the plate is unique among live vehicles)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from prisma.models import Vehicle
from prisma.types import VehicleCreateWithoutRelationsInput

from garage.db import insert_rows
from garage.repositories.base import Repository
from garage.repositories.pagination import Page, after, page_of, page_window
from garage.repositories.rows import new_id
from garage.vocabulary import AuditAction, AuditEntity

LIVE: dict[str, Any] = {"deletedAt": None}


class VehicleRepository(Repository):
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
        vehicle = await self._writing().vehicle.create(
            data={
                "licensePlate": license_plate,
                "type": type,
                "ownerName": owner_name,
                "ownerEmail": owner_email,
                "ownerPhone": owner_phone,
            }
        )
        self._record(AuditAction.CREATE, AuditEntity.VEHICLE, vehicle.id, after=vehicle)
        return vehicle

    def queue_create(self, *, license_plate: str, type: str, now: datetime) -> Vehicle:
        """Adds the INSERT of a vehicle without owner fields to the unit's batch; returns the row as
        it will be stored. A live vehicle with the plate fails the batch (UniqueViolation)."""
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
        self._batch().vehicle.create_many(data=[vehicle.model_dump(exclude={"sessions"})])  # type: ignore[list-item]
        self._record(AuditAction.CREATE, AuditEntity.VEHICLE, vehicle.id, after=vehicle)
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

    async def list_live(
        self, *, license_plate: str | None, plate_contains: str | None = None, limit: int, cursor: str | None
    ) -> Page[Vehicle]:
        """Live vehicles, newest first: `license_plate` exactly, `plate_contains` (normalised) as a part (search)."""
        where: dict[str, Any] = dict(LIVE)
        if license_plate is not None:
            where["licensePlate"] = license_plate
        if plate_contains is not None:
            where["AND"] = [{"licensePlate": {"contains": plate_contains}}]
        rows = await self._db.vehicle.find_many(
            where=where,  # type: ignore[arg-type]
            order=[{"createdAt": "desc"}, {"id": "desc"}],
            **page_window(limit, cursor),
        )
        return page_of(rows, limit)

    async def update(self, vehicle: Vehicle, changes: dict[str, Any]) -> Vehicle:
        """`changes` uses the model's field names (licensePlate, type, ownerName, ...); `vehicle` is
        the row read in the same transaction."""
        updated = await self._writing().vehicle.update(where={"id": vehicle.id}, data=changes)  # type: ignore[arg-type]
        assert updated is not None, f"vehicle {vehicle.id} vanished inside its transaction"
        self._record(AuditAction.UPDATE, AuditEntity.VEHICLE, vehicle.id, before=vehicle, after=updated)
        return updated

    async def soft_delete(self, vehicle: Vehicle) -> Vehicle:
        deleted = await self._writing().vehicle.update(where={"id": vehicle.id}, data={"deletedAt": datetime.now(UTC)})
        assert deleted is not None, f"vehicle {vehicle.id} vanished inside its transaction"
        self._record(AuditAction.DELETE, AuditEntity.VEHICLE, vehicle.id, before=vehicle, after=deleted)
        return deleted

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
        """Key rotation: the same owner fields sealed with the current key (the job's ROTATE_KEYS entry)."""
        self._covered_by_job()
        await self._writing().vehicle.update(
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
        self._covered_by_job()
        return await insert_rows(self._writing(), "Vehicle", rows)
