"""SQLAlchemy Core tables for the garage schema (prisma/migrations), for the SQLAlchemy baseline of
bench/data_layer_bench.py. Only what the benchmarked operations touch; the database file itself
is created by the migrations, never by this metadata.

Timestamps are stored the way the Prisma engine stores them ("2026-11-24T23:02:37.990+00:00",
UTC, millisecond precision, ISO 8601 text), so `IsoDateTime` reads and writes that format instead
of SQLAlchemy's own SQLite DATETIME format ("2026-11-24 23:02:37.990000").
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class IsoDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime <-> the engine's ISO 8601 text at millisecond precision."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> str | None:
        return None if value is None else iso_ms(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else datetime.fromisoformat(value)


def iso_ms(moment: datetime) -> str:
    """The text the Prisma engine stores for a DateTime."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


metadata = MetaData()


def _timestamps() -> list[Column[Any]]:
    return [Column("createdAt", IsoDateTime, nullable=False), Column("updatedAt", IsoDateTime, nullable=False)]


garage = Table(
    "Garage",
    metadata,
    Column("id", String, primary_key=True),
    Column("name", String, nullable=False),
    Column("address", String, nullable=False),
    Column("timezone", String, nullable=False),
    Column("currency", String, nullable=False),
    Column("capacity", Integer, nullable=False),
    *_timestamps(),
    Column("deletedAt", IsoDateTime),
)

rate = Table(
    "Rate",
    metadata,
    Column("garageId", String, primary_key=True),
    Column("hourlyRateCents", Integer, nullable=False),
    Column("incrementMinutes", Integer, nullable=False),
    Column("graceMinutes", Integer, nullable=False),
    Column("dailyMaxCents", Integer, nullable=False),
    Column("lostTicketFeeCents", Integer, nullable=False),
    Column("vehicleTypeRates", String, nullable=False, default="{}"),
    Column("flatRates", String, nullable=False, default="[]"),
    *_timestamps(),
)

spot = Table(
    "Spot",
    metadata,
    Column("id", String, primary_key=True),
    Column("garageId", String, nullable=False),
    Column("level", Integer, nullable=False),
    Column("number", String, nullable=False),
    Column("sortKey", String, nullable=False),
    Column("type", String, nullable=False),
    Column("status", String, nullable=False),
    *_timestamps(),
    Column("deletedAt", IsoDateTime),
)

vehicle = Table(
    "Vehicle",
    metadata,
    Column("id", String, primary_key=True),
    Column("licensePlate", String, nullable=False),
    Column("type", String, nullable=False),
    Column("ownerName", String),
    Column("ownerEmail", String),
    Column("ownerPhone", String),
    *_timestamps(),
    Column("deletedAt", IsoDateTime),
)

parking_session = Table(
    "Session",
    metadata,
    Column("id", String, primary_key=True),
    Column("garageId", String, nullable=False),
    Column("spotId", String, nullable=False),
    Column("vehicleId", String, nullable=False),
    Column("licensePlate", String, nullable=False),
    Column("vehicleType", String, nullable=False),
    Column("status", String, nullable=False),
    Column("startTime", IsoDateTime, nullable=False),
    Column("endTime", IsoDateTime),
    Column("feeCents", Integer),
    Column("permitId", String),
    Column("voidReason", String),
    *_timestamps(),
)

ticket = Table(
    "Ticket",
    metadata,
    Column("id", String, primary_key=True),
    Column("code", String, nullable=False),
    Column("sessionId", String, nullable=False),
    Column("issuedAt", IsoDateTime, nullable=False),
    Column("status", String, nullable=False),
    *_timestamps(),
)

payment = Table(
    "Payment",
    metadata,
    Column("id", String, primary_key=True),
    Column("sessionId", String, nullable=False),
    Column("garageId", String, nullable=False),
    Column("amountCents", Integer, nullable=False),
    Column("currency", String, nullable=False),
    Column("method", String, nullable=False),
    Column("status", String, nullable=False),
    Column("reference", String),
    Column("discountCents", Integer, nullable=False, default=0),
    *_timestamps(),
    Column("refundedAt", IsoDateTime),
)

audit_log = Table(
    "AuditLog",
    metadata,
    Column("id", String, primary_key=True),
    Column("actor", String, nullable=False),
    Column("action", String, nullable=False),
    Column("entity", String, nullable=False),
    Column("entityId", String, nullable=False),
    Column("before", String),
    Column("after", String),
    *_timestamps(),
)
