"""Monthly permits and the deny list (API-operations.md "Monthly permits and the deny list").

Permits: holder fields encrypted at rest; validity the half-open [validFrom, validTo), at most
PERMIT_MAX_DAYS long; two ACTIVE permits of one garage and plate never overlap, checked under the
write lock (`Database.transaction` is BEGIN IMMEDIATE: concurrent creates and moves serialise). A
cancelled permit stays cancelled: re-activating it or changing its validity is 409
PERMIT_CANCELLED; cancelling it again changes nothing (200, no audit entry, no event), so a retried
cancel succeeds. Every change that can alter which permit covers a session (create, cancel, a moved
validTo) re-derives the `permitId` of the plate's ACTIVE session in that garage in the same
transaction, so the session always names the permit that covers it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from garage.errors import Conflict, NotFound, ValidationFailed, found
from garage.repositories.denied_plates import DeniedPlatePage
from garage.repositories.pagination import Page
from garage.repositories.records import DeniedPlate, Permit
from garage.repositories.rows import at_db_precision
from garage.repositories.unit_of_work import Database, UnitOfWork
from garage.security.crypto import FieldCipher
from garage.services.garages import live_garage
from garage.vocabulary import PERMIT_HOLDER_FIELDS, PERMIT_MAX_DAYS, PermitStatus

MAX_VALIDITY = timedelta(days=PERMIT_MAX_DAYS)


class PermitService:
    def __init__(self, db: Database, cipher: FieldCipher) -> None:
        self._db = db
        self._cipher = cipher

    def reveal(self, permit: Permit) -> Permit:
        """A copy with the holder fields decrypted (what the API returns)."""
        return permit.model_copy(
            update={
                name: self._cipher.decrypt_optional(getattr(permit, name), field)
                for name, field in PERMIT_HOLDER_FIELDS.items()
            }
        )

    def _seal(self, name: str, value: str | None) -> str | None:
        return self._cipher.encrypt_optional(value, PERMIT_HOLDER_FIELDS[name])

    async def create(
        self,
        garage_id: str,
        *,
        license_plate: str,
        holder: dict[str, str | None],
        valid_from: datetime,
        valid_to: datetime,
        actor: str,
    ) -> Permit:
        """`license_plate` is normalised; `holder` maps holderName/holderEmail to plaintext."""
        # checked as stored (milliseconds), so the database's own window CHECK never disagrees
        valid_from, valid_to = at_db_precision(valid_from), at_db_precision(valid_to)
        sealed = {name: self._seal(name, holder.get(name)) for name in PERMIT_HOLDER_FIELDS}

        async def work(unit: UnitOfWork) -> Permit:
            await live_garage(unit.garages, garage_id)  # an unknown garage is 404 before any rule of the body
            _check_window(valid_from, valid_to)
            clash = await unit.permits.overlapping(garage_id, license_plate, valid_from, valid_to, besides=None)
            if clash is not None:
                raise _duplicate(clash)
            permit = await unit.permits.create(
                garage_id=garage_id,
                license_plate=license_plate,
                holder_name=sealed["holderName"],
                holder_email=sealed["holderEmail"],
                valid_from=valid_from,
                valid_to=valid_to,
            )
            await _follow_coverage(unit, garage_id, license_plate)
            return permit

        return self.reveal(await self._db.transaction(work, actor=actor))

    async def get(self, permit_id: str) -> Permit:
        """A permit, whatever its status (a permit is never deleted)."""
        return self.reveal(found(await self._db.permits.get(permit_id), f"permit {permit_id}"))

    async def list(
        self,
        garage_id: str,
        *,
        license_plate: str | None,
        status: PermitStatus | None,
        active_at: datetime | None,
        limit: int,
        cursor: str | None,
    ) -> Page[Permit]:
        await live_garage(self._db.garages, garage_id)
        page = await self._db.permits.of_garage(
            garage_id, license_plate=license_plate, status=status, active_at=active_at, limit=limit, cursor=cursor
        )
        return Page(items=[self.reveal(permit) for permit in page.items], next_after_id=page.next_after_id)

    async def update(self, permit_id: str, changes: dict[str, Any], *, actor: str) -> Permit:
        """`changes` uses model names: holderName/holderEmail (plaintext, None clears), validTo,
        status. Only what actually changes is written; nothing changing writes nothing."""
        valid_to = changes.get("validTo")
        if valid_to is not None:
            valid_to = at_db_precision(valid_to)
        status = changes.get("status")

        async def work(unit: UnitOfWork) -> Permit:
            before = found(await unit.permits.get(permit_id), f"permit {permit_id}")
            await live_garage(unit.garages, before.garageId)
            stored: dict[str, Any] = {
                name: self._seal(name, changes[name])
                for name, field in PERMIT_HOLDER_FIELDS.items()
                if name in changes and changes[name] != self._cipher.decrypt_optional(getattr(before, name), field)
            }
            if valid_to is not None:
                _check_window(before.validFrom, valid_to)
                if valid_to != before.validTo:
                    stored["validTo"] = valid_to
            if status is not None and status != before.status:
                stored["status"] = status
            if before.status == PermitStatus.CANCELLED and {"validTo", "status"} & stored.keys():
                raise Conflict(
                    f"Permit {permit_id} is cancelled: it cannot be re-activated or its validity changed",
                    code="PERMIT_CANCELLED",
                )
            if not stored:
                return before
            if "validTo" in stored and stored.get("status", before.status) == PermitStatus.ACTIVE:
                clash = await unit.permits.overlapping(
                    before.garageId, before.licensePlate, before.validFrom, stored["validTo"], besides=before.id
                )
                if clash is not None:
                    raise _duplicate(clash)
            updated = await unit.permits.update(before, stored)
            if {"validTo", "status"} & stored.keys():
                await _follow_coverage(unit, before.garageId, before.licensePlate)
            return updated

        return self.reveal(await self._db.transaction(work, actor=actor))


class DenyListService:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def put(self, garage_id: str, license_plate: str, reason: str, *, actor: str) -> DeniedPlate:
        """Lists the (normalised) plate in the garage, or replaces its reason."""

        async def work(unit: UnitOfWork) -> DeniedPlate:
            await live_garage(unit.garages, garage_id)
            return await unit.denied_plates.put(garage_id, license_plate, reason)

        return await self._db.transaction(work, actor=actor)

    async def remove(self, garage_id: str, license_plate: str, *, actor: str) -> None:
        """Takes the plate off the garage's list; 404 when it is not on it."""

        async def work(unit: UnitOfWork) -> None:
            await live_garage(unit.garages, garage_id)
            denied = await unit.denied_plates.get(garage_id, license_plate)
            if denied is None:
                raise NotFound(f"Plate {license_plate} is not denied in garage {garage_id}")
            await unit.denied_plates.delete(denied)

        await self._db.transaction(work, actor=actor)

    async def list(self, garage_id: str, *, limit: int, after_plate: str | None) -> DeniedPlatePage:
        await live_garage(self._db.garages, garage_id)
        return await self._db.denied_plates.of_garage(garage_id, limit=limit, after_plate=after_plate)


async def _follow_coverage(unit: UnitOfWork, garage_id: str, license_plate: str) -> None:
    """The plate's ACTIVE session in the garage (if any) names the permit that covers it now: an
    ACTIVE permit of its garage and plate with validFrom <= startTime < validTo, or none."""
    session = await unit.sessions.active_by_plate(garage_id, license_plate)
    if session is None:
        return
    covering = await unit.permits.covering(garage_id, license_plate, session.startTime)
    permit_id = covering.id if covering is not None else None
    if session.permitId != permit_id:
        await unit.sessions.set_permit(session, permit_id)


def _check_window(valid_from: datetime, valid_to: datetime) -> None:
    """400 VALIDATION_ERROR naming validTo unless validFrom < validTo <= validFrom + PERMIT_MAX_DAYS."""
    if valid_to <= valid_from:
        problem = "must be after validFrom"
    elif valid_to - valid_from > MAX_VALIDITY:
        problem = f"must be at most {PERMIT_MAX_DAYS} days after validFrom"
    else:
        return
    raise ValidationFailed(f"validTo {problem}", details={"fields": {"validTo": problem}})


def _duplicate(clash: Permit) -> Conflict:
    return Conflict(
        f"Permit {clash.id} of plate {clash.licensePlate} is ACTIVE for an overlapping validity",
        code="DUPLICATE_PERMIT",
        details={"permitId": clash.id},
    )
