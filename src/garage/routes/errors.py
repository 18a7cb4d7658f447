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

import httpx
from prisma import errors as prisma_errors
from prisma.engine import errors as engine_errors
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from garage.errors import DatabaseUnavailable, GarageError
from garage.ops.diskspace import disk_full_error

log = logging.getLogger(__name__)


def error_envelope(code: str, message: str, details: dict[str, object] | None = None) -> dict[str, object]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def error_response(status: int, code: str, message: str, details: dict[str, object] | None = None) -> JSONResponse:
    return JSONResponse(error_envelope(code, message, details), status_code=status)


def error_body(error: GarageError) -> bytes:
    """The envelope of `error` as bytes, encoded as JSONResponse encodes it."""
    return json.dumps(
        error_envelope(error.code, error.message, error.details), ensure_ascii=False, separators=(",", ":")
    ).encode()


async def garage_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, GarageError)
    response = error_response(exc.status, exc.code, exc.message, exc.details)
    if isinstance(exc, DatabaseUnavailable):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


async def http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    codes = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE"}
    return error_response(exc.status_code, codes.get(exc.status_code, "HTTP_ERROR"), str(exc.detail))


async def engine_unavailable(request: Request, exc: Exception) -> Response:
    log.warning("database unavailable: %s", exc)
    return await garage_error(request, DatabaseUnavailable("The database is unavailable; try again shortly"))


async def client_disconnected(_: Request, exc: Exception) -> Response:
    """The client went away (or the server gave up on its request body, 408) while the route was
    reading the body: nobody is left to answer, and it is not a fault of the service."""
    log.info("client disconnected before its request body was read")
    return Response(status_code=499)  # nginx's "client closed request": counted in metrics, never sent


async def database_error(request: Request, exc: Exception) -> Response:
    """A database error nothing above handled. When the disk is full (SQLite said SQLITE_FULL,
    "database or disk is full": ops/diskspace.py) it is 503 DATABASE_UNAVAILABLE saying so -
    SQLite rolled the write back, and writes work again once there is room; anything else is a
    500 like any unexpected error."""
    full = disk_full_error(exc, request.app.state.settings.database_path)
    if full is None:
        return internal_error_response(exc)
    log.error("a write failed, the disk is full: %s (%s)", full.message, type(exc).__name__)
    return await garage_error(request, full)


def internal_error_response(exc: Exception) -> Response:
    log.error("unhandled error", exc_info=exc)
    return error_response(500, "INTERNAL", "Internal error")


EXCEPTION_HANDLERS = {
    GarageError: garage_error,
    HTTPException: http_error,
    ClientDisconnect: client_disconnected,
    engine_errors.EngineConnectionError: engine_unavailable,
    engine_errors.NotConnectedError: engine_unavailable,
    prisma_errors.ClientNotConnectedError: engine_unavailable,
    # transient failures are retried in garage/db.py; these reach here only when a call bypassed it
    httpx.TransportError: engine_unavailable,
    prisma_errors.TransactionError: engine_unavailable,
    # any other database error: 503 when the disk is full, else 500 (database_error)
    prisma_errors.PrismaError: database_error,
    # Any other exception: AnswerUnexpectedErrors (routes/middleware.py), not Starlette's
    # ServerErrorMiddleware, which re-raises after answering and so makes uvicorn drop the connection.
}
