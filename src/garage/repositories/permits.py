"""Monthly permits (API-operations.md "Monthly permits and the deny list").

Holder fields arrive sealed (the service encrypts them; vocabulary.SENSITIVE_FIELDS), so the audit
log shows them only as set or not and permit.changed events leave them out (`event_view`). A
permit is never deleted: CANCELLED ends it. Validity is the half-open [validFrom, validTo)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from garage.repositories.base import Repository
from garage.repositories.events import event_view
from garage.repositories.pagination import Page, after, page_of, page_window
from garage.repositories.records import Permit
from garage.vocabulary import AuditAction, AuditEntity, EventType, PermitStatus

NEWEST_FIRST: list[dict[str, str]] = [{"validFrom": "desc"}, {"id": "desc"}]
# `not: None` is not in the generated types
_HOLDING: Any = {"OR": [{"holderName": {"not": None}}, {"holderEmail": {"not": None}}]}


class PermitRepository(Repository):
    async def create(
        self,
        *,
        garage_id: str,
        license_plate: str,
        holder_name: str | None,
        holder_email: str | None,
        valid_from: datetime,
        valid_to: datetime,
    ) -> Permit:
        """An ACTIVE permit; holder fields arrive sealed."""
        permit = await self._writing().permit.create(
            data={
                "garageId": garage_id,
                "licensePlate": license_plate,
                "holderName": holder_name,
                "holderEmail": holder_email,
                "validFrom": valid_from,
                "validTo": valid_to,
                "status": PermitStatus.ACTIVE,
            }
        )
        self._record(AuditAction.CREATE, AuditEntity.PERMIT, permit.id, after=permit)
        self._changed(permit)
        return permit

    async def update(self, permit: Permit, changes: dict[str, Any]) -> Permit:
        """`changes` uses the model's field names (holderName/holderEmail sealed, validTo, status);
        `permit` is the row read in the same transaction."""
        updated = await self._writing().permit.update(where={"id": permit.id}, data=changes)  # type: ignore[arg-type]
        assert updated is not None, f"permit {permit.id} vanished inside its transaction"
        self._record(AuditAction.UPDATE, AuditEntity.PERMIT, permit.id, before=permit, after=updated)
        self._changed(updated)
        return updated

    def _changed(self, permit: Permit) -> None:
        self._emit(EventType.PERMIT_CHANGED, permit.garageId, {"permit": event_view(permit)})

    async def get(self, permit_id: str) -> Permit | None:
        return await self._db.permit.find_unique(where={"id": permit_id})

    async def covering(self, garage_id: str, license_plate: str, at: datetime) -> Permit | None:
        """The ACTIVE permit of the garage and plate valid at `at` (validFrom <= at < validTo); ACTIVE
        permits of one plate never overlap, but should they, the one that started last wins."""
        return await self._db.permit.find_first(
            where={
                "garageId": garage_id,
                "licensePlate": license_plate,
                "status": PermitStatus.ACTIVE,
                "validFrom": {"lte": at},
                "validTo": {"gt": at},
            },
            order=NEWEST_FIRST,  # type: ignore[arg-type]
        )

    async def overlapping(
        self, garage_id: str, license_plate: str, valid_from: datetime, valid_to: datetime, *, besides: str | None
    ) -> Permit | None:
        """An ACTIVE permit of the garage and plate (other than `besides`) whose validity shares an
        instant with [valid_from, valid_to): half-open, so back-to-back permits do not overlap."""
        where: dict[str, Any] = {
            "garageId": garage_id,
            "licensePlate": license_plate,
            "status": PermitStatus.ACTIVE,
            "validFrom": {"lt": valid_to},
            "validTo": {"gt": valid_from},
        }
        if besides is not None:
            where["id"] = {"not": besides}
        return await self._db.permit.find_first(where=where, order=NEWEST_FIRST)  # type: ignore[arg-type]

    async def of_garage(
        self,
        garage_id: str,
        *,
        license_plate: str | None,
        status: str | None,
        active_at: datetime | None,
        limit: int,
        cursor: str | None,
    ) -> Page[Permit]:
        """Newest validFrom first (id breaks ties); `active_at`: ACTIVE and validFrom <= it < validTo."""
        conditions: list[dict[str, Any]] = [{"garageId": garage_id}]
        if license_plate is not None:
            conditions.append({"licensePlate": license_plate})
        if status is not None:
            conditions.append({"status": status})
        if active_at is not None:
            conditions.append(
                {"status": PermitStatus.ACTIVE, "validFrom": {"lte": active_at}, "validTo": {"gt": active_at}}
            )
        rows = await self._db.permit.find_many(
            where={"AND": conditions},  # type: ignore[arg-type]
            order=NEWEST_FIRST,  # type: ignore[arg-type]
            **page_window(limit, cursor),
        )
        return page_of(rows, limit)

    async def with_holder_fields(self, *, after_id: str | None, limit: int) -> list[Permit]:
        """Every permit (cancelled ones too) holding a sealed holder field, by id: key rotation."""
        return await self._db.permit.find_many(where=_HOLDING, order={"id": "asc"}, take=limit, **after(after_id))

    async def count_with_holder_fields(self) -> int:
        """How many permits with_holder_fields goes through (key rotation's progress)."""
        counted: int = await self._db.permit.count(where=_HOLDING)
        return counted

    async def set_holder_fields(self, permit_id: str, *, name: str | None, email: str | None) -> None:
        """Key rotation: the same holder fields sealed with the current key (the job's ROTATE_KEYS
        entry covers it; no event: nothing a listener sees changed)."""
        self._covered_by_job()
        await self._writing().permit.update(where={"id": permit_id}, data={"holderName": name, "holderEmail": email})
