"""Vehicles: plates in normal form, owner contact encrypted at rest, soft delete."""

from __future__ import annotations

from typing import Any

from garage.errors import Conflict, UniqueViolation, found
from garage.repositories.pagination import Page
from garage.repositories.records import ParkingSession, Vehicle
from garage.repositories.unit_of_work import Database, UnitOfWork
from garage.repositories.vehicles import VehicleRepository
from garage.security.crypto import FieldCipher
from garage.vocabulary import VEHICLE_OWNER_FIELDS


class VehicleService:
    def __init__(self, db: Database, cipher: FieldCipher) -> None:
        self._db = db
        self._cipher = cipher

    def reveal(self, vehicle: Vehicle) -> Vehicle:
        """A copy with the owner fields decrypted (what the API returns)."""
        return vehicle.model_copy(
            update={
                name: self._cipher.decrypt_optional(getattr(vehicle, name), field)
                for name, field in VEHICLE_OWNER_FIELDS.items()
            }
        )

    def _seal(self, owner: dict[str, str | None]) -> dict[str, str | None]:
        return {name: self._cipher.encrypt_optional(value, VEHICLE_OWNER_FIELDS[name]) for name, value in owner.items()}

    async def create(self, *, license_plate: str, type: str, owner: dict[str, str | None], actor: str) -> Vehicle:
        """`license_plate` is normalised; `owner` maps ownerName/ownerEmail/ownerPhone to plaintext."""
        sealed = self._seal(owner)

        async def work(unit: UnitOfWork) -> Vehicle:
            vehicles = unit.vehicles
            if await vehicles.live_by_plate(license_plate) is not None:
                raise _duplicate(license_plate)
            return await vehicles.create(
                license_plate=license_plate,
                type=type,
                owner_name=sealed.get("ownerName"),
                owner_email=sealed.get("ownerEmail"),
                owner_phone=sealed.get("ownerPhone"),
            )

        try:
            vehicle = await self._db.transaction(work, actor=actor)
        except UniqueViolation as error:
            # the live-plate partial unique index: another request created the plate first
            raise _duplicate(license_plate) from error
        return self.reveal(vehicle)

    async def get(self, vehicle_id: str) -> Vehicle:
        return self.reveal(await _live(self._db.vehicles, vehicle_id))

    async def list(
        self, *, license_plate: str | None, plate_contains: str | None = None, limit: int, cursor: str | None
    ) -> Page[Vehicle]:
        page = await self._db.vehicles.list_live(
            license_plate=license_plate, plate_contains=plate_contains, limit=limit, cursor=cursor
        )
        return Page(items=[self.reveal(vehicle) for vehicle in page.items], next_after_id=page.next_after_id)

    async def update(self, vehicle_id: str, changes: dict[str, Any], *, actor: str) -> Vehicle:
        """`changes` uses model names (licensePlate normalised, type, owner fields as plaintext or
        None to clear); only the fields given change."""
        stored = {
            name: (
                self._cipher.encrypt_optional(value, VEHICLE_OWNER_FIELDS[name])
                if name in VEHICLE_OWNER_FIELDS
                else value
            )
            for name, value in changes.items()
        }
        plate = changes.get("licensePlate")
        if not stored:
            return await self.get(vehicle_id)  # nothing to change, nothing to audit

        async def work(unit: UnitOfWork) -> Vehicle:
            vehicles = unit.vehicles
            before = await _live(vehicles, vehicle_id)
            if plate is not None and plate != before.licensePlate:
                if await vehicles.live_by_plate(plate) is not None:
                    raise _duplicate(plate)
            return await vehicles.update(before, stored)

        try:
            after = await self._db.transaction(work, actor=actor)
        except UniqueViolation as error:
            raise _duplicate(str(plate)) from error
        return self.reveal(after)

    async def delete(self, vehicle_id: str, *, actor: str) -> None:
        """Soft delete. A parked vehicle cannot be deleted: its plate could then be checked in a
        second time while the first car is still inside."""

        async def work(unit: UnitOfWork) -> None:
            before = await _live(unit.vehicles, vehicle_id)
            if await unit.sessions.active_for_vehicle(vehicle_id) is not None:
                raise Conflict("The vehicle is parked (it has an ACTIVE session)", code="HAS_ACTIVE_SESSIONS")
            await unit.vehicles.soft_delete(before)

        await self._db.transaction(work, actor=actor)

    async def history(self, vehicle_id: str, *, limit: int, cursor: str | None) -> Page[ParkingSession]:
        await _live(self._db.vehicles, vehicle_id)
        return await self._db.sessions.list(vehicle_id=vehicle_id, limit=limit, cursor=cursor)


async def _live(vehicles: VehicleRepository, vehicle_id: str) -> Vehicle:
    return found(await vehicles.get_live(vehicle_id), f"vehicle {vehicle_id}")


def _duplicate(plate: str) -> Conflict:
    return Conflict(f"A vehicle with plate {plate} exists", code="DUPLICATE_PLATE")
