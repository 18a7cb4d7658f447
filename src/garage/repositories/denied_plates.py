"""The deny list (API-operations.md "Monthly permits and the deny list"): plates refused at check-in
in one garage. One row per garage and plate; removing a plate deletes its row (the audit log keeps
what it was). Audit entries name a row "<garageId>/<licensePlate>" (it has no id of its own). No
events: the contract lists none for the deny list."""

from __future__ import annotations

from dataclasses import dataclass

from prisma.types import DeniedPlateWhereUniqueInput

from garage.repositories.base import Repository
from garage.repositories.records import DeniedPlate
from garage.vocabulary import AuditAction, AuditEntity


@dataclass(frozen=True)
class DeniedPlatePage:
    """A page of a garage's deny list; `next_after` is the last plate when more follow."""

    items: list[DeniedPlate]
    next_after: str | None


def audit_id(garage_id: str, license_plate: str) -> str:
    """The entityId of a deny-list row's audit entries."""
    return f"{garage_id}/{license_plate}"


def _key(garage_id: str, license_plate: str) -> DeniedPlateWhereUniqueInput:
    return {"garageId_licensePlate": {"garageId": garage_id, "licensePlate": license_plate}}


class DeniedPlateRepository(Repository):
    async def get(self, garage_id: str, license_plate: str) -> DeniedPlate | None:
        return await self._db.deniedplate.find_unique(where=_key(garage_id, license_plate))

    async def put(self, garage_id: str, license_plate: str, reason: str) -> DeniedPlate:
        """Lists the plate with `reason`, or replaces the reason of a listed plate (its createdAt
        stays); an unchanged reason writes nothing."""
        before = await self._db.deniedplate.find_unique(where=_key(garage_id, license_plate))
        if before is None:
            created = await self._writing().deniedplate.create(
                data={"garageId": garage_id, "licensePlate": license_plate, "reason": reason}
            )
            self._record(
                AuditAction.CREATE, AuditEntity.DENIED_PLATE, audit_id(garage_id, license_plate), after=created
            )
            return created
        if before.reason == reason:
            return before
        updated = await self._writing().deniedplate.update(
            where=_key(garage_id, license_plate), data={"reason": reason}
        )
        assert updated is not None, f"denied plate {license_plate} vanished inside its transaction"
        self._record(
            AuditAction.UPDATE,
            AuditEntity.DENIED_PLATE,
            audit_id(garage_id, license_plate),
            before=before,
            after=updated,
        )
        return updated

    async def delete(self, denied: DeniedPlate) -> None:
        """Removes `denied` (read in the same transaction) from the list."""
        await self._writing().deniedplate.delete(where=_key(denied.garageId, denied.licensePlate))
        self._record(
            AuditAction.DELETE, AuditEntity.DENIED_PLATE, audit_id(denied.garageId, denied.licensePlate), before=denied
        )

    async def of_garage(self, garage_id: str, *, limit: int, after_plate: str | None) -> DeniedPlatePage:
        """A garage's denied plates in plate order, `limit` after the plate `after_plate` (plates
        are unique within a garage: the order is stable)."""
        where: dict[str, object] = {"garageId": garage_id}
        if after_plate is not None:
            where["licensePlate"] = {"gt": after_plate}
        rows = await self._db.deniedplate.find_many(
            where=where,  # type: ignore[arg-type]
            order={"licensePlate": "asc"},
            take=limit + 1,
        )
        if len(rows) > limit:
            return DeniedPlatePage(items=rows[:limit], next_after=rows[limit - 1].licensePlate)
        return DeniedPlatePage(items=rows, next_after=None)
