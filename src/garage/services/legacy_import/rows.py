"""The database rows built from the snapshot's records, and the chunked look-ups of stored rows that
plan.py and write.py share. Rows are built per write chunk, never for the whole snapshot."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict, TypeVar, cast

from garage.repositories.records import GarageRow, RateRow, SessionRow, SpotRow, TicketRow
from garage.services.legacy_import.snapshot import (
    LegacyGarage,
    LegacyPayment,
    LegacySession,
    LegacySpot,
    LegacyVehicle,
    cents_of,
    payment_created,
)
from garage.services.spot_numbers import spot_sort_key
from garage.vocabulary import DEFAULT_RATE, PaymentStatus

# Ids per `in` lookup of existing rows; also how many existing rows are held at once.
LOOKUP_CHUNK = 2000
# Fields not compared when deciding whether an existing row is "the same": set by the database.
NOT_COMPARED = frozenset({"updatedAt"})

T = TypeVar("T")
R = TypeVar("R")


class Times(TypedDict):
    createdAt: datetime
    updatedAt: datetime


def _times(record: Any, now: datetime) -> Times:
    """The legacy timestamps when given; else the import's time."""
    created = record.createdAt or now
    return {"createdAt": created, "updatedAt": record.updatedAt or created}


def garage_row(garage: LegacyGarage, now: datetime) -> GarageRow:
    return {
        "id": garage.id,
        "name": garage.name,
        "address": garage.address,
        "timezone": garage.timezone,
        "currency": garage.currency,
        "capacity": garage.capacity,
        "closed": False,  # the memory store had no closed garages
        "deletedAt": garage.deletedAt,
        **_times(garage, now),
    }


def rate_row(garage: LegacyGarage, now: datetime) -> RateRow:
    return cast(
        RateRow,
        {"garageId": garage.id, **DEFAULT_RATE.as_row(), "createdAt": now, "updatedAt": now},
    )


def spot_row(spot: LegacySpot, status: str, now: datetime) -> SpotRow:
    return {
        "id": spot.id,
        "garageId": spot.garageId,
        "level": spot.level,
        "number": spot.number,
        "sortKey": spot_sort_key(spot.number),
        "type": spot.type,
        "status": status,
        "deletedAt": spot.deletedAt,
        **_times(spot, now),
    }


def vehicle_fields(vehicle: LegacyVehicle, now: datetime) -> dict[str, Any]:
    """The vehicle as stored, owner fields in clear (encrypted just before writing)."""
    return {
        "id": vehicle.id,
        "licensePlate": vehicle.licensePlate,
        "type": vehicle.type,
        "ownerName": vehicle.ownerName,
        "ownerEmail": vehicle.ownerEmail,
        "ownerPhone": vehicle.ownerPhone,
        "deletedAt": vehicle.deletedAt,
        **_times(vehicle, now),
    }


def session_row(session: LegacySession, vehicles: dict[str, LegacyVehicle], now: datetime) -> SessionRow:
    return {
        "id": session.id,
        "garageId": session.garageId,
        "spotId": session.spotId,
        "vehicleId": session.vehicleId,
        "licensePlate": session.licensePlate or vehicles[session.vehicleId].licensePlate,
        # the legacy store kept no type per session: the vehicle's is the best record of it
        "vehicleType": vehicles[session.vehicleId].type,
        "status": session.status,
        "startTime": session.startTime,
        "endTime": session.endTime,
        "feeCents": session.feeCents,
        "permitId": None,
        "voidReason": None,
        **_times(session, now),
    }


def payment_fields(
    payment: LegacyPayment, session: LegacySession, garage: LegacyGarage, now: datetime
) -> dict[str, Any]:
    """The payment as stored, reference in clear (encrypted just before writing). A REFUNDED one's
    refundedAt: the record's, else its updatedAt, else its creation time (module docstring)."""
    created = payment_created(payment, session) or now
    refunded = (
        None if payment.status is not PaymentStatus.REFUNDED else payment.refundedAt or payment.updatedAt or created
    )
    return {
        "id": payment.id,
        "sessionId": payment.sessionId,
        "garageId": session.garageId,
        "amountCents": cents_of(payment.amount),
        "currency": payment.currency or garage.currency,
        "method": payment.method,
        "status": payment.status,
        "reference": payment.reference,
        "createdAt": created,
        "updatedAt": payment.updatedAt or refunded or created,
        "refundedAt": refunded,
    }


@dataclass(slots=True)
class PlannedTicket:
    session_id: str
    code: str  # "" until one is drawn
    status: str
    issued_at: datetime

    def row(self) -> TicketRow:
        return {
            "code": self.code,
            "sessionId": self.session_id,
            "issuedAt": self.issued_at,
            "status": self.status,
            "createdAt": self.issued_at,
            "updatedAt": self.issued_at,
        }


def differences(wanted: dict[str, Any], stored: Any, *, compare_created: bool) -> list[str]:
    skipped = NOT_COMPARED if compare_created else NOT_COMPARED | {"createdAt"}
    return sorted(name for name, value in wanted.items() if name not in skipped and getattr(stored, name) != value)


def without_nulls(row: T) -> T:
    """Absent instead of null: the default is the same, and the client builds less query text."""
    return cast(T, {name: value for name, value in cast(dict[str, Any], row).items() if value is not None})


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def lookup(ids: Sequence[str], find: Callable[[Sequence[str]], Awaitable[list[T]]]) -> list[T]:
    found: list[T] = []
    for chunk in chunks(list(ids), LOOKUP_CHUNK):
        found.extend(await find(chunk))
    return found


async def with_stored(
    records: Sequence[R],
    find: Callable[[Sequence[str]], Awaitable[list[T]]],
    key: Callable[[R], str],
    stored_key: Callable[[T], str] = lambda row: cast(str, getattr(row, "id")),  # noqa: B009 (mypy: unbound T has no .id)
) -> AsyncIterator[tuple[R, T | None]]:
    """Each record with the database's row of the same key (or None), looked up a chunk at a time:
    a second run of a large snapshot finds every row, and holding them all at once would cost more
    than the snapshot itself."""
    for chunk in chunks(records, LOOKUP_CHUNK):
        found = {stored_key(row): row for row in await find([key(record) for record in chunk])}
        for record in chunk:
            yield record, found.get(key(record))
