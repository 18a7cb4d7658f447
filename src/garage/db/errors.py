"""Prisma's and the engine's errors as the project's own (garage/errors.py), in ONE place: the
client's boundary (garage/db: `GaragePrisma`, its batches, bulk inserts and transactions) passes
every error that is not retried through `domain_error`, so nothing above the data layer catches
or reads a Prisma error, and a constraint's name is read here only.

- a unique index refused a value: UniqueViolation (with the columns it named);
- an update or delete matched no row: RecordMissing; a foreign key: ForeignKeyViolation;
- the disk is full (SQLite said so): DiskFull, a 503 saying how much room is left;
- the engine could not be reached or lost the transaction: DatabaseUnavailable (503);
- anything else the database or the engine said: DatabaseFailure (a 500, logged).
Transient failures are classified and retried before this (garage/db/retry.py)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from prisma import errors as prisma_errors
from prisma.engine import errors as engine_errors

from garage.db.disk import format_bytes, free_bytes, says_disk_full
from garage.errors import (
    DatabaseFailure,
    DatabaseUnavailable,
    DiskFull,
    ForeignKeyViolation,
    GarageException,
    RecordMissing,
    UniqueViolation,
)

UNAVAILABLE = "The database is unavailable; try again shortly"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_UNREACHABLE = (
    engine_errors.EngineConnectionError,
    engine_errors.NotConnectedError,
    prisma_errors.ClientNotConnectedError,
    prisma_errors.TransactionError,
    httpx.TransportError,
)


def domain_error(error: BaseException, database: Path | None) -> BaseException:
    """What the project calls `error`: itself when it is not the database's (a GarageException
    raised by a unit of work, a bug); `database` is the file, to say how much room a full disk has."""
    if isinstance(error, GarageException) or not _from_database(error):
        return error
    if says_disk_full(error):
        return DiskFull(None if database is None else f"{format_bytes(free_bytes(database))} free")
    if isinstance(error, prisma_errors.UniqueViolationError):
        return UniqueViolation(str(error), fields=_named_columns(error))
    if isinstance(error, prisma_errors.RecordNotFoundError):
        return RecordMissing(str(error))
    if isinstance(error, prisma_errors.ForeignKeyViolationError):
        return ForeignKeyViolation(str(error))
    if isinstance(error, _UNREACHABLE):
        return DatabaseUnavailable(UNAVAILABLE)
    return DatabaseFailure(f"{type(error).__name__}: {error}")


def _from_database(error: BaseException) -> bool:
    return isinstance(error, (prisma_errors.PrismaError, engine_errors.EngineError, httpx.TransportError))


def _named_columns(error: prisma_errors.UniqueViolationError) -> tuple[str, ...]:
    """The identifiers in the engine's message and meta ("Unique constraint failed on the fields:
    (`spotId`)"; a partial index names its columns the same way)."""
    text = f"{error} {getattr(error, 'meta', '') or ''}"
    return tuple(sorted(set(_NAME.findall(text))))
