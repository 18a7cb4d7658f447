"""Writing the plan: createMany in chunks, in foreign-key order, inside the caller's ONE
transaction (its unit of work), and one IMPORT audit entry per kind, written with the rows (see the
package docstring for why not per record)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, cast

from garage.repositories.records import PaymentRow, VehicleRow
from garage.repositories.unit_of_work import UnitOfWork
from garage.security.crypto import FieldCipher
from garage.services.legacy_import.plan import ImportReport, Plan
from garage.services.legacy_import.rows import (
    PlannedTicket,
    R,
    T,
    chunks,
    garage_row,
    payment_fields,
    rate_row,
    session_row,
    spot_row,
    vehicle_fields,
    without_nulls,
)
from garage.services.legacy_import.snapshot import LegacyPayment, Snapshot
from garage.vocabulary import PAYMENT_REFERENCE, VEHICLE_OWNER_FIELDS, AuditAction, AuditEntity

# Rows per createMany: large enough that per-call overhead vanishes, small enough for the engine's
# request limit (a 5000-row chunk is about 2 MB of query text).
CHUNK = 2000
# createMany calls of one kind in flight at once (see write_plan).
IN_FLIGHT = 3

# rows written, per chunk
Progress = Callable[[int], None]

# As the API's own audit rows name them ("Session", not the Prisma model's name).
_ENTITIES = {
    "garages": AuditEntity.GARAGE,
    "spots": AuditEntity.SPOT,
    "vehicles": AuditEntity.VEHICLE,
    "sessions": AuditEntity.SESSION,
    "tickets": AuditEntity.TICKET,
    "payments": AuditEntity.PAYMENT,
}


async def write_plan(
    unit: UnitOfWork, cipher: FieldCipher, s: Snapshot, plan: Plan, report: ImportReport, progress: Progress
) -> None:
    """Writes the plan's rows through `unit` (the import's one transaction) and records its audit
    entries there."""
    now = plan.now

    async def insert(
        records: Sequence[R], row_of: Callable[[R], T], into: Callable[[Sequence[T]], Awaitable[int]]
    ) -> None:
        # A few chunks of one kind in flight at once: the client builds the next query (Python,
        # about half of the time) while the engine runs the previous one. Kinds stay in
        # foreign-key order; the transaction serialises the statements themselves. Rows are
        # built inside the slot, so at most IN_FLIGHT chunks of rows exist at a time.
        in_flight = asyncio.Semaphore(IN_FLIGHT)

        async def one(chunk: Sequence[R]) -> None:
            async with in_flight:
                await into([without_nulls(row_of(record)) for record in chunk])
            progress(len(chunk))

        async with asyncio.TaskGroup() as group:
            for chunk in chunks(records, CHUNK):
                group.create_task(one(chunk))

    await insert(plan.garages, lambda garage: garage_row(garage, now), unit.garages.insert_many)
    await insert(plan.garages, lambda garage: rate_row(garage, now), unit.rates.insert_many)
    await insert(plan.spots, lambda planned: spot_row(planned[0], planned[1], now), unit.spots.insert_many)
    await insert(
        plan.vehicles,
        lambda vehicle: _sealed_vehicle(cipher, vehicle_fields(vehicle, now)),
        unit.vehicles.insert_many,
    )
    await insert(plan.sessions, lambda session: session_row(session, s.vehicles, now), unit.sessions.insert_many)
    await insert(plan.tickets, PlannedTicket.row, unit.tickets.insert_many)
    await insert(
        plan.payments,
        lambda payment: _sealed_payment(cipher, _payment_row(s, payment, now)),
        unit.payments.insert_many,
    )
    for kind, count in report.counts.items():
        if count.imported:
            unit.record(
                AuditAction.IMPORT,
                _ENTITIES[kind],
                f"memory-store:{report.snapshot_sha256}",
                after={
                    "imported": count.imported,
                    "skipped": count.skipped,
                    "snapshotSha256": report.snapshot_sha256,
                    **({"ratesCreated": report.rates_created} if kind == "garages" else {}),
                    **({"generated": report.tickets_generated} if kind == "tickets" else {}),
                    **({"occupiedNormalisedToAvailable": report.spots_normalised} if kind == "spots" else {}),
                },
            )


def _payment_row(s: Snapshot, payment: LegacyPayment, now: datetime) -> dict[str, Any]:
    session = s.sessions[payment.sessionId]
    return payment_fields(payment, session, s.garages[session.garageId], now)


def _sealed_vehicle(cipher: FieldCipher, row: dict[str, Any]) -> VehicleRow:
    sealed = {**row, **{attr: cipher.encrypt_optional(row[attr], name) for attr, name in VEHICLE_OWNER_FIELDS.items()}}
    return cast(VehicleRow, sealed)


def _sealed_payment(cipher: FieldCipher, row: dict[str, Any]) -> PaymentRow:
    sealed = {**row, "reference": cipher.encrypt_optional(row["reference"], PAYMENT_REFERENCE)}
    return cast(PaymentRow, sealed)
