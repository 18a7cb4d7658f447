"""Errors to HTTP, in one place: GarageError subclasses carry their status and contract code;
anything else is a 500 INTERNAL with no internals in the body.

Every error answer has the contract's envelope `{"error": {"code", "message", "details"}}`, also
the ones the HTTP server writes itself before a request reaches the application (408, 414, 431,
unparseable HTTP: routes/http_protocol.py builds them with `error_body`). An exception nothing
handled is answered by routes/middleware.py's AnswerUnexpectedErrors with `internal_error_response`,
logged once, on a connection that stays usable.
"""

from __future__ import annotations

import json
import logging

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from garage.errors import DatabaseUnavailable, DiskFull, GarageError
from garage.routes.models import JsonResponse

log = logging.getLogger(__name__)


def error_envelope(code: str, message: str, details: dict[str, object] | None = None) -> dict[str, object]:
    """The body of every error answer; routes/openapi.py documents it as the `Error` schema."""
    return {"error": {"code": code, "message": message, "details": details or {}}}


def error_response(status: int, code: str, message: str, details: dict[str, object] | None = None) -> JsonResponse:
    return JsonResponse(error_envelope(code, message, details), status_code=status)


def error_body(error: GarageError) -> bytes:
    """The envelope of `error` as bytes, encoded as JSONResponse encodes it."""
    return json.dumps(
        error_envelope(error.code, error.message, error.details), ensure_ascii=False, separators=(",", ":")
    ).encode()


def garage_error_response(error: GarageError) -> Response:
    """The answer to `error`: its status and envelope, and Retry-After when the error says when to
    come back (DatabaseUnavailable, RateLimited)."""
    response = error_response(error.status, error.code, error.message, error.details)
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


async def garage_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, GarageError)
    response = garage_error_response(exc)
    if isinstance(exc, DatabaseUnavailable):
        # an operator needs to hear about a full disk; a busy database is answered and retried
        (log.error if isinstance(exc, DiskFull) else log.warning)("database unavailable: %s", exc.message)
    return response


async def http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    codes = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE"}
    return error_response(exc.status_code, codes.get(exc.status_code, "HTTP_ERROR"), str(exc.detail))


async def client_disconnected(_: Request, exc: Exception) -> Response:
    """The client went away (or the server gave up on its request body, 408) while the route was
    reading the body: nobody is left to answer, and it is not a fault of the service."""
    log.info("client disconnected before its request body was read")
    return Response(status_code=499)  # nginx's "client closed request": counted in metrics, never sent


def internal_error_response(exc: Exception) -> Response:
    log.error("unhandled error", exc_info=exc)
    return error_response(500, "INTERNAL", "Internal error")


EXCEPTION_HANDLERS = {
    # The database's own errors arrive as GarageErrors too (503 DATABASE_UNAVAILABLE when it is
    # unreachable, busy or its disk is full): the data layer translates them (garage/db/errors.py).
    GarageError: garage_error,
    HTTPException: http_error,
    ClientDisconnect: client_disconnected,
    # Any other exception: AnswerUnexpectedErrors (routes/middleware.py), not Starlette's
    # ServerErrorMiddleware, which re-raises after answering and so makes uvicorn drop the connection.
}
