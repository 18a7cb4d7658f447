"""The one error hierarchy of the project: every exception class defined in garage derives from
GarageException (tests/services/test_error_hierarchy.py walks the package to hold that).

- GarageError: what a client can cause or must be told about, with the API contract's HTTP status
  and code; routes/errors.py maps it to a response in one place.
- OperationalFailure: the service or a command could not do its job (a damaged or busy database,
  Litestream refusing, a restore or import refused, a stored value that does not decrypt). The
  message says what to do; the CLI prints it, the service logs it. Never mapped to a response
  by itself: reaching a route unhandled it answers 500 INTERNAL, as any unexpected error.
- WriteRefused (UniqueViolation, RecordMissing, ForeignKeyViolation): what the database refused,
  as the data layer says it (garage/db/errors.py translates Prisma's errors, in one place); the
  services turn them into the contract's 409 codes or try again. DatabaseFailure (an
  OperationalFailure) is any other database error.
- A few signals derive from GarageException directly: they carry control flow, not a failure.
"""

from __future__ import annotations

from typing import Any, TypeVar

T = TypeVar("T")


class GarageException(Exception):
    """The root: every exception class the project defines."""


class OperationalFailure(GarageException):
    """The service or a command could not do its job; the message says what to do."""


class GarageError(GarageException):
    """An error a client can cause or must be told about: a code from the API contract."""

    status = 500
    code = "INTERNAL"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        if code is not None:
            self.code = code


class ValidationFailed(GarageError):
    status = 400
    code = "VALIDATION_ERROR"


class Unauthenticated(GarageError):
    status = 401
    code = "UNAUTHENTICATED"


class Forbidden(GarageError):
    status = 403
    code = "FORBIDDEN"


class NotFound(GarageError):
    status = 404
    code = "NOT_FOUND"


def found(value: T | None, what: str) -> T:
    """`value`, or NotFound("No <what>") when a lookup found nothing."""
    if value is None:
        raise NotFound(f"No {what}")
    return value


class Conflict(GarageError):
    """409 with a contract code: GARAGE_FULL, SPOT_NOT_AVAILABLE, DUPLICATE_PLATE, ..."""

    status = 409
    code = "CONFLICT"


class PayloadTooLarge(GarageError):
    status = 413
    code = "PAYLOAD_TOO_LARGE"


# Refused by the HTTP server itself (routes/http_protocol.py) before the request reaches a route.
class RequestTimeout(GarageError):
    status = 408
    code = "REQUEST_TIMEOUT"


class UriTooLong(GarageError):
    status = 414
    code = "URI_TOO_LONG"


class HeadersTooLarge(GarageError):
    status = 431
    code = "HEADERS_TOO_LARGE"


class DatabaseUnavailable(GarageError):
    status = 503
    code = "DATABASE_UNAVAILABLE"
    # Seconds after which the client may try again: the 503's Retry-After header (routes/errors.py).
    retry_after = 2


class DiskFull(DatabaseUnavailable):
    """503 DATABASE_UNAVAILABLE: a write failed because the database's disk is full. `room`
    says how much is free (e.g. "12.0 KiB free"), when known."""

    def __init__(self, room: str | None = None) -> None:
        said = f" ({room})" if room else ""
        super().__init__(
            f"The database's disk is full{said}: the change was not saved. "
            "Try again once an operator has freed disk space"
        )


class InsufficientStorage(GarageError):
    """507: an operation that needs disk space (a backup) was refused, or ran out of room."""

    status = 507
    code = "INSUFFICIENT_STORAGE"


# --- what the database refused, as the data layer says it (garage/db/errors.py translates) -------


class WriteRefused(GarageException):
    """A write the database refused because of what it holds: the service decides what the client
    is told (a 409 code, another attempt). Not a GarageError: reaching a route unhandled it is a
    500, as a constraint the service did not expect is a bug."""


class UniqueViolation(WriteRefused):
    """A unique index (or partial unique index) already holds the value. `fields` are the
    columns the database named, when it named them."""

    def __init__(self, message: str, *, fields: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.fields = fields

    def involves(self, field: str) -> bool:
        return field in self.fields


class RecordMissing(WriteRefused):
    """An update or delete found no row to change (its WHERE, guard included, matched nothing)."""


class ForeignKeyViolation(WriteRefused):
    """A row refers to a row that does not exist, or a row still referred to was deleted."""


class DatabaseFailure(OperationalFailure):
    """Any other error of the database or its engine: not the client's fault, not transient."""


# --- abuse limits ----------------------------------------------------------------------------------


class RateLimited(GarageError):
    """429: too many failed authentications from one client address within its minute (the
    throttle in routes/middleware.py). `retry_after`: seconds until that minute is over, sent as
    the response's Retry-After header."""

    status = 429
    code = "RATE_LIMITED"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class EventsExpired(GarageError):
    """410: events after the `after` id were deleted by retention; start over from the list."""

    status = 410
    code = "EVENTS_EXPIRED"
