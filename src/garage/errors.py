"""The one error hierarchy of the service. routes/errors.py maps it to HTTP in one place."""

from __future__ import annotations

from typing import Any, TypeVar

T = TypeVar("T")


class GarageError(Exception):
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
