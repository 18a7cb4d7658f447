"""Vehicles: plates in normal form, owner contact encrypted at rest, soft delete."""

from __future__ import annotations

from typing import Any

from prisma import Prisma
from prisma.errors import UniqueViolationError
from prisma.models import ParkingSession, Vehicle

from garage.db import transaction
from garage.errors import Conflict, found
from garage.repositories.audit import AuditRepository
from garage.repositories.pagination import Page
from garage.repositories.sessions import SessionRepository
from garage.repositories.vehicles import VehicleRepository
from garage.security.crypto import FieldCipher
from garage.vocabulary import VEHICLE_OWNER_FIELDS


class VehicleService:
    def __init__(self, db: Prisma, cipher: FieldCipher) -> None:
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

        async def work(tx: Prisma) -> Vehicle:
            vehicles = VehicleRepository(tx)
            if await vehicles.live_by_plate(license_plate) is not None:
                raise _duplicate(license_plate)
            vehicle = await vehicles.create(
                license_plate=license_plate,
                type=type,
                owner_name=sealed.get("ownerName"),
                owner_email=sealed.get("ownerEmail"),
                owner_phone=sealed.get("ownerPhone"),
            )
            await AuditRepository(tx).record(
                actor=actor, action="CREATE", entity="Vehicle", entity_id=vehicle.id, after=audit_view(vehicle)
            )
            return vehicle

        try:
            vehicle = await transaction(self._db, work)
        except UniqueViolationError as error:
            # the live-plate partial unique index: another request created the plate first
            raise _duplicate(license_plate) from error
        return self.reveal(vehicle)

    async def get(self, vehicle_id: str) -> Vehicle:
        return self.reveal(await _live(VehicleRepository(self._db), vehicle_id))

    async def list(self, *, license_plate: str | None, limit: int, cursor: str | None) -> Page[Vehicle]:
        page = await VehicleRepository(self._db).list_live(license_plate=license_plate, limit=limit, cursor=cursor)
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

        async def work(tx: Prisma) -> Vehicle:
            vehicles = VehicleRepository(tx)
            before = await _live(vehicles, vehicle_id)
            if plate is not None and plate != before.licensePlate:
                if await vehicles.live_by_plate(plate) is not None:
                    raise _duplicate(plate)
            after = await vehicles.update(vehicle_id, stored)
            assert after is not None
            await AuditRepository(tx).record(
                actor=actor,
                action="UPDATE",
                entity="Vehicle",
                entity_id=vehicle_id,
                before=audit_view(before),
                after=audit_view(after),
            )
            return after

        try:
            after = await transaction(self._db, work)
        except UniqueViolationError as error:
            raise _duplicate(str(plate)) from error
        return self.reveal(after)

    async def delete(self, vehicle_id: str, *, actor: str) -> None:
        """Soft delete. A parked vehicle cannot be deleted: its plate could then be checked in a
        second time while the first car is still inside."""

        async def work(tx: Prisma) -> None:
            vehicles = VehicleRepository(tx)
            before = await _live(vehicles, vehicle_id)
            if await SessionRepository(tx).active_for_vehicle(vehicle_id) is not None:
                raise Conflict("The vehicle is parked (it has an ACTIVE session)", code="HAS_ACTIVE_SESSIONS")
            after = await vehicles.soft_delete(vehicle_id)
            await AuditRepository(tx).record(
                actor=actor,
                action="DELETE",
                entity="Vehicle",
                entity_id=vehicle_id,
                before=audit_view(before),
                after=audit_view(after) if after else None,
            )

        await transaction(self._db, work)

    async def history(self, vehicle_id: str, *, limit: int, cursor: str | None) -> Page[ParkingSession]:
        await _live(VehicleRepository(self._db), vehicle_id)
        return await SessionRepository(self._db).list(vehicle_id=vehicle_id, limit=limit, cursor=cursor)


def audit_view(vehicle: Vehicle) -> dict[str, Any]:
    """What the audit log keeps of a vehicle: owner fields only as "set" or null, never values."""
    view = vehicle.model_dump(mode="json", exclude={"sessions"})
    for name in VEHICLE_OWNER_FIELDS:
        view[name] = "(set)" if view.get(name) is not None else None
    return view


async def _live(vehicles: VehicleRepository, vehicle_id: str) -> Vehicle:
    return found(await vehicles.get_live(vehicle_id), f"vehicle {vehicle_id}")


def _duplicate(plate: str) -> Conflict:
    return Conflict(f"A vehicle with plate {plate} exists", code="DUPLICATE_PLATE")
