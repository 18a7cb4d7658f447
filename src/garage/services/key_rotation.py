"""Re-encrypting sensitive fields under the newest key (`garage rotate-keys`).

After adding a key to the end of GARAGE_ENCRYPTION_KEYS (keeping the old ones so existing values
still decrypt), this rewrites every value sealed with an older key, in batches, each batch one
transaction. Once it reports nothing left, the old keys can be removed from the setting.
Progress: the rows to go through are counted first; `on_progress` hears (rows gone through, rows
in all) after each batch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from garage.repositories.unit_of_work import Database, UnitOfWork
from garage.security.crypto import FieldCipher
from garage.vocabulary import PAYMENT_REFERENCE, VEHICLE_OWNER_FIELDS, AuditAction, AuditEntity

# (rows gone through so far, rows to go through in all: vehicles with owner fields, payments with a reference)
RotationProgress = Callable[[int, int], None]


@dataclass
class RotationReport:
    vehicles: int = 0
    payments: int = 0


class KeyRotationService:
    def __init__(self, db: Database, cipher: FieldCipher) -> None:
        self._db = db
        self._cipher = cipher

    async def rotate(
        self, *, actor: str, batch_size: int = 200, on_progress: RotationProgress | None = None
    ) -> RotationReport:
        report = RotationReport()
        progress = _Progress(on_progress)
        if on_progress is not None:
            progress.total = (
                await self._db.vehicles.count_with_owner_fields() + await self._db.payments.count_with_reference()
            )
            on_progress(0, progress.total)
        report.vehicles = await self._rotate_vehicles(batch_size, progress, actor)
        report.payments = await self._rotate_payments(batch_size, progress, actor)

        async def summary(unit: UnitOfWork) -> None:
            """The ONE entry of the whole rotation (its batches record none of their own)."""
            unit.record(
                AuditAction.ROTATE_KEYS,
                AuditEntity.ENCRYPTION_KEY,
                self._cipher.current_key_id,
                after={"vehiclesReencrypted": report.vehicles, "paymentsReencrypted": report.payments},
            )

        await self._db.transaction(summary, actor=actor)
        return report

    def _reseal(self, stored: str | None, field: str) -> str | None:
        if stored is None or not self._cipher.needs_rotation(stored):
            return stored
        return self._cipher.encrypt(self._cipher.decrypt(stored, field), field)

    async def _rotate_vehicles(self, batch_size: int, progress: _Progress, actor: str) -> int:
        changed, after_id = 0, None
        while rows := await self._db.vehicles.with_owner_fields(after_id=after_id, limit=batch_size):

            async def work(unit: UnitOfWork) -> int:
                """The batch's rows rewritten (counted per attempt: a retry starts again from 0)."""
                vehicles, rewritten = unit.vehicles, 0
                for row in rows:
                    current = {attr: getattr(row, attr) for attr in VEHICLE_OWNER_FIELDS}
                    resealed = {
                        attr: self._reseal(current[attr], field) for attr, field in VEHICLE_OWNER_FIELDS.items()
                    }
                    if resealed != current:
                        await vehicles.set_owner_fields(
                            row.id,
                            name=resealed["ownerName"],
                            email=resealed["ownerEmail"],
                            phone=resealed["ownerPhone"],
                        )
                        rewritten += 1
                return rewritten

            changed += await self._db.transaction(work, actor=actor)
            after_id = rows[-1].id
            progress.went_through(len(rows))
        return changed

    async def _rotate_payments(self, batch_size: int, progress: _Progress, actor: str) -> int:
        changed, after_id = 0, None
        while rows := await self._db.payments.with_reference(after_id=after_id, limit=batch_size):

            async def work(unit: UnitOfWork) -> int:
                """The batch's rows rewritten (counted per attempt: a retry starts again from 0)."""
                payments, rewritten = unit.payments, 0
                for row in rows:
                    resealed = self._reseal(row.reference, PAYMENT_REFERENCE)
                    if resealed is not None and resealed != row.reference:
                        await payments.set_reference(row.id, resealed)
                        rewritten += 1
                return rewritten

            changed += await self._db.transaction(work, actor=actor)
            after_id = rows[-1].id
            progress.went_through(len(rows))
        return changed


class _Progress:
    """Rows gone through, reported to the caller's callback (if any) after each batch. Rows
    written meanwhile may make the count pass the total counted at the start: it is capped."""

    def __init__(self, callback: RotationProgress | None) -> None:
        self._callback = callback
        self.total = 0
        self._done = 0

    def went_through(self, rows: int) -> None:
        self._done += rows
        if self._callback is not None:
            self._callback(min(self._done, self.total), self.total)
