"""Errors to HTTP, in one place: GarageError subclasses carry their status and contract code;
anything else is a 500 INTERNAL with no internals in the body."""

from __future__ import annotations

import logging

import httpx
from prisma import errors as prisma_errors
from prisma.engine import errors as engine_errors
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from garage.errors import DatabaseUnavailable, GarageError

log = logging.getLogger(__name__)


def error_response(status: int, code: str, message: str, details: dict[str, object] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "details": details or {}}}, status_code=status)


async def garage_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, GarageError)
    return error_response(exc.status, exc.code, exc.message, exc.details)


async def http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    codes = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE"}
    return error_response(exc.status_code, codes.get(exc.status_code, "HTTP_ERROR"), str(exc.detail))


async def engine_unavailable(_: Request, exc: Exception) -> Response:
    log.warning("database unavailable: %s", exc)
    error = DatabaseUnavailable("The database is unavailable; try again shortly")
    return error_response(error.status, error.code, error.message)


async def unexpected_error(_: Request, exc: Exception) -> Response:
    log.exception("unhandled error", exc_info=exc)
    return error_response(500, "INTERNAL", "Internal error")


EXCEPTION_HANDLERS = {
    GarageError: garage_error,
    HTTPException: http_error,
    engine_errors.EngineConnectionError: engine_unavailable,
    engine_errors.NotConnectedError: engine_unavailable,
    prisma_errors.ClientNotConnectedError: engine_unavailable,
    # transient failures are retried in garage/db.py; these reach here only when a call bypassed it
    httpx.TransportError: engine_unavailable,
    prisma_errors.TransactionError: engine_unavailable,
    Exception: unexpected_error,
}
