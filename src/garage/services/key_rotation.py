"""Re-encrypting sensitive fields under the newest key (`garage rotate-keys`).

After adding a key to the end of GARAGE_ENCRYPTION_KEYS (keeping the old ones so existing values
still decrypt), this rewrites every value sealed with an older key, in batches, each batch one
transaction. Once it reports nothing left, the old keys can be removed from the setting."""

from __future__ import annotations

from dataclasses import dataclass

from prisma import Prisma

from garage.db import transaction
from garage.repositories.audit import AuditRepository
from garage.repositories.payments import PaymentRepository
from garage.repositories.vehicles import VehicleRepository
from garage.security.crypto import FieldCipher
from garage.vocabulary import PAYMENT_REFERENCE, VEHICLE_OWNER_FIELDS



@dataclass
class RotationReport:
    vehicles: int = 0
    payments: int = 0


class KeyRotationService:
    def __init__(self, db: Prisma, cipher: FieldCipher) -> None:
        self._db = db
        self._cipher = cipher

    async def rotate(self, *, actor: str, batch_size: int = 200) -> RotationReport:
        report = RotationReport()
        report.vehicles = await self._rotate_vehicles(batch_size)
        report.payments = await self._rotate_payments(batch_size)
        await AuditRepository(self._db).record(
            actor=actor, action="ROTATE_KEYS", entity="EncryptionKey", entity_id=self._cipher.current_key_id,
            after={"vehiclesReencrypted": report.vehicles, "paymentsReencrypted": report.payments},
        )
        return report

    def _reseal(self, stored: str | None, field: str) -> str | None:
        if stored is None or not self._cipher.needs_rotation(stored):
            return stored
        return self._cipher.encrypt(self._cipher.decrypt(stored, field), field)

    async def _rotate_vehicles(self, batch_size: int) -> int:
        changed, after_id = 0, None
        while rows := await VehicleRepository(self._db).with_owner_fields(after_id=after_id, limit=batch_size):
            async def work(tx: Prisma) -> int:
                """The batch's rows rewritten (counted per attempt: a retry starts again from 0)."""
                vehicles, rewritten = VehicleRepository(tx), 0
                for row in rows:
                    current = {attr: getattr(row, attr) for attr in VEHICLE_OWNER_FIELDS}
                    resealed = {attr: self._reseal(current[attr], field) for attr, field in VEHICLE_OWNER_FIELDS.items()}
                    if resealed != current:
                        await vehicles.set_owner_fields(
                            row.id, name=resealed["ownerName"], email=resealed["ownerEmail"], phone=resealed["ownerPhone"]
                        )
                        rewritten += 1
                return rewritten

            changed += await transaction(self._db, work)
            after_id = rows[-1].id
        return changed

    async def _rotate_payments(self, batch_size: int) -> int:
        changed, after_id = 0, None
        while rows := await PaymentRepository(self._db).with_reference(after_id=after_id, limit=batch_size):
            async def work(tx: Prisma) -> int:
                """The batch's rows rewritten (counted per attempt: a retry starts again from 0)."""
                payments, rewritten = PaymentRepository(tx), 0
                for row in rows:
                    resealed = self._reseal(row.reference, PAYMENT_REFERENCE)
                    if resealed is not None and resealed != row.reference:
                        await payments.set_reference(row.id, resealed)
                        rewritten += 1
                return rewritten

            changed += await transaction(self._db, work)
            after_id = rows[-1].id
        return changed
