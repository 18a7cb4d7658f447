"""The HTTP-level peer of bench/http_peer_bench.py: Garage's three hottest endpoints written the
straightforward way on Starlette + SQLAlchemy 2 async (Core) + aiosqlite, over the same schema.

    GET  /api/v1/sessions/{id}             a session with its ticket code           (viewer key)
    POST /api/v1/garages/{id}/check-in     {"licensePlate", "vehicleType"} -> 201   (operator key)
    POST /api/v1/sessions/{id}/check-out   {"paymentMethod", "lostTicket"?} -> 200  (operator key)
    GET  /health, GET /ready               {"status": "ok"}

Same request and response JSON as Garage (camelCase, every field present, timestamps UTC with
milliseconds and `Z`, errors as {"error": {"code", "message", "details"}}), on a copy of a file
Garage migrated and filled. Served by uvicorn (`bench.http_peer_app:app`, uvloop + httptools) with
the same worker count; configured from the environment:
  PEER_DATABASE     the SQLite file (required)
  PEER_SECRET_KEY   Garage's GARAGE_SECRET_KEY for that file (required): API keys are checked as Garage
                    checks them
  PEER_EVENTS       on (default) | off: write the event log as Garage does, or skip it

Reused, not copied: the tables (bench/_sqlalchemy_schema.py), the connections (a query_only reader
engine and a writer engine beginning with BEGIN IMMEDIATE, the engine's pragmas, synchronous=FULL)
and the check-in / check-out transactions (`check_in_flow`, `check_out_flow` on `SqlAlchemyTx`, from
bench/_data_layer_baselines.py, which data_layer_bench.py times against Garage's data layer), and
Garage's own occupancy statement (repositories/events.py OCCUPANCY_SQL).

What it does as Garage does: the Bearer key found by its prefix (garage.security.api_keys), an
HMAC-SHA256 compared in constant time, revoked keys refused, the role ladder (viewer for GET,
operator for the POSTs), verified keys remembered per process for 5 s as Garage's ApiKeyService does;
plate normalisation (garage.services.plates); at check-in the deny list read outside the write lock,
then one BEGIN IMMEDIATE transaction (the covering permit, garage live, vehicle by plate, its ACTIVE
session and last exit, first fitting spot by preference, vehicle, session, ticket with an unused code,
spot OCCUPIED, audit rows, events session.started and spot.changed, occupancy.changed); at check-out
one transaction (session with garage and rate, the fee by garage.services.pricing, guarded
completion, payment, ticket PAID/LOST, spot AVAILABLE, session read back, audit rows, events
session.completed and spot.changed, occupancy.changed).

What it skips (each makes the peer cheaper, so the comparison cannot flatter Garage): Garage's
middleware (request ids, metrics, the failed-authentication throttle, security headers, body size
limits), request and response models (pydantic) in favour of dict checks and dicts, the garage's
`closed` flag, validations and permits at check-out, the payment reference's encryption (the bench
sends none), back-dated `at` and `spotId` (answered 400 here, as is a check-in a permit covers), and
RevocationNews (a key revoked elsewhere is refused after at most 5 s). The events' data are the rows'
columns (Garage leaves out a few internal ones), the same rows and statements.
"""

from __future__ import annotations

import hmac
import json
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Column, MetaData, String, Table, bindparam, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bench._data_layer_baselines import (
    SA_SESSION_WITH_TICKET,
    Record,
    SqlAlchemyTx,
    _configure_sqlalchemy,
    check_in_flow,
    check_out_flow,
    now_ms,
)
from bench._sqlalchemy_schema import IsoDateTime, iso_ms
from garage.errors import Conflict, Forbidden, GarageError, NotFound, Unauthenticated, ValidationFailed
from garage.repositories.events import OCCUPANCY_SQL
from garage.security import api_keys
from garage.services.plates import normalise_plate
from garage.vocabulary import PaymentMethod, Role, VehicleType, format_timestamp

SYNCHRONOUS = "FULL"  # the engine's default (ENGINE_SQLITE_SYNCHRONOUS)
KEY_CACHE_SECONDS = 5.0  # Garage's ApiKeyService.CACHE_SECONDS
KEY_CACHE_ENTRIES = 10_000

api_key = Table(
    "ApiKey",
    MetaData(),
    Column("id", String, primary_key=True),
    Column("prefix", String, nullable=False),
    Column("hash", String, nullable=False),
    Column("role", String, nullable=False),
    Column("revokedAt", String),
)
KEY_BY_PREFIX = select(api_key.c.id, api_key.c.hash, api_key.c.role, api_key.c.revokedAt).where(
    api_key.c.prefix == bindparam("prefix")
)

# The event log as Garage writes it (repositories/events.py): the change's events as rows, then ONE
# occupancy.changed computed in SQL from the garage's spots (Garage's own statement, reused).
event = Table(
    "Event",
    MetaData(),
    Column("type", String, nullable=False),
    Column("garageId", String),
    Column("occurredAt", IsoDateTime, nullable=False),
    Column("data", String, nullable=False),
)
INSERT_EVENTS = insert(event)
OCCUPANCY = text(OCCUPANCY_SQL.replace("?", ":at", 1).replace("?", ":garage_id", 1))
DENIED = text('SELECT 1 FROM "DeniedPlate" WHERE "garageId" = :garage_id AND "licensePlate" = :plate')
COVERING_PERMIT = text(
    'SELECT "id" FROM "Permit" WHERE "garageId" = :garage_id AND "licensePlate" = :plate AND "status" = \'ACTIVE\' '
    'AND "validFrom" <= :at AND "validTo" > :at ORDER BY "validFrom" DESC LIMIT 1'
)

SESSION_OUT = (
    "id",
    "garageId",
    "spotId",
    "vehicleId",
    "licensePlate",
    "vehicleType",
    "ticketCode",
    "status",
    "startTime",
    "endTime",
    "feeCents",
    "permitId",
    "voidReason",
)
TICKET_OUT = ("code", "sessionId", "issuedAt", "status")
SPOT_OUT = ("id", "garageId", "level", "number", "type", "status", "createdAt", "updatedAt")
PAYMENT_OUT = (
    "id",
    "sessionId",
    "amountCents",
    "currency",
    "method",
    "status",
    "reference",
    "discountCents",
    "createdAt",
    "refundedAt",
)


# ---- JSON out ------------------------------------------------------------------------------------------------
def _value(value: Any) -> Any:
    return format_timestamp(value) if isinstance(value, datetime) else value


def _view(row: Record, fields: tuple[str, ...], **extra: Any) -> dict[str, Any]:
    return {name: _value(extra[name] if name in extra else row[name]) for name in fields}


def session_json(row: Record, ticket_code: str | None) -> dict[str, Any]:
    return _view(row, SESSION_OUT, ticketCode=ticket_code)


def row_view(row: Any, *, without: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every column of a row, times as the API writes them (what an event carries of a record)."""
    return {name: _value(value) for name, value in row.items() if name not in without}


async def log_events(conn: AsyncConnection, garage_id: str, events: list[tuple[str, dict[str, Any]]]) -> None:
    """The change's events and the garage's occupancy.changed, in its transaction (as Garage's unit of work)."""
    now = now_ms()
    rows = [{"type": kind, "garageId": garage_id, "occurredAt": now, "data": json.dumps(data)} for kind, data in events]
    await conn.execute(INSERT_EVENTS, rows)
    await conn.execute(OCCUPANCY, {"at": iso_ms(now), "garage_id": garage_id})


def answer(body: dict[str, Any], status: int = 200) -> Response:
    return JSONResponse(body, status_code=status, media_type="application/json; charset=utf-8")


def error_answer(error: GarageError) -> Response:
    return answer({"error": {"code": error.code, "message": error.message, "details": error.details}}, error.status)


# ---- the transaction's rows the flows do not return ---------------------------------------------------------
class RecordingTx(SqlAlchemyTx):
    """SqlAlchemyTx keeping the rows its INSERT/UPDATE ... RETURNING gave back, so that the answer
    needs no read of its own (the ticket and spot of a check-in, the payment of a check-out)."""

    def __init__(self, conn: AsyncConnection) -> None:
        super().__init__(conn)
        self.returned: dict[str, Record] = {}

    async def insert_returning(self, table: str, row: dict[str, Any]) -> Record:
        inserted = await super().insert_returning(table, row)
        self.returned[table] = inserted
        return inserted

    async def set_spot_status(self, spot_id: str, status: str, now: datetime) -> Record:
        spot = await super().set_spot_status(spot_id, status, now)
        self.returned["Spot"] = spot
        return spot

    async def set_ticket_status(self, session_id: str, status: str, now: datetime) -> Record:
        ticket = await super().set_ticket_status(session_id, status, now)
        self.returned["Ticket"] = ticket
        return ticket


# ---- the app's state: engines and the key cache ----------------------------------------------------------------
class Peer:
    def __init__(self, database: Path, secret: str, *, events: bool) -> None:
        self.events = events
        url = f"sqlite+aiosqlite:///{database}"
        self.reader: AsyncEngine = create_async_engine(url)
        self.writer: AsyncEngine = create_async_engine(url)
        _configure_sqlalchemy(self.reader, writer=False, synchronous=SYNCHRONOUS)
        _configure_sqlalchemy(self.writer, writer=True, synchronous=SYNCHRONOUS)
        self.secret = secret
        self._keys: dict[str, tuple[float, Role | None]] = {}

    async def role_of(self, key: str) -> Role | None:
        """The key's role, None when unknown or revoked (Garage's ApiKeyService.verify and _lookup)."""
        digest = api_keys.hash_key(key, self.secret)
        cached = self._keys.get(digest)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        async with self.reader.connect() as conn:
            row = (await conn.execute(KEY_BY_PREFIX, {"prefix": api_keys.derive_prefix(key)})).first()
        role = None
        if row is not None and row.revokedAt is None and hmac.compare_digest(digest, row.hash):
            role = Role(row.role)
        now = time.monotonic()
        if len(self._keys) >= KEY_CACHE_ENTRIES:
            self._keys.clear()
        self._keys[digest] = (now + KEY_CACHE_SECONDS, role)
        return role

    async def authenticate(self, request: Request, required: Role) -> None:
        sent = request.headers.getlist("authorization")
        if len(sent) > 1:
            raise ValidationFailed("Send the Authorization header once")
        scheme, _, key = (sent[0] if sent else "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise Unauthenticated("Send an API key as 'Authorization: Bearer <key>'")
        role = await self.role_of(key.strip())
        if role is None:
            raise Unauthenticated("The API key is unknown or revoked")
        if not role.includes(required):
            raise Forbidden(f"This needs the {required.value} role; the key has {role.value}")

    async def close(self) -> None:
        await self.reader.dispose()
        await self.writer.dispose()


def peer_of(request: Request) -> Peer:
    peer: Peer = request.app.state.peer
    return peer


async def json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body())
    except ValueError as error:
        raise ValidationFailed("The body is not JSON") from error
    if not isinstance(body, dict):
        raise ValidationFailed("The body must be a JSON object")
    return body


def enum_field(body: dict[str, Any], name: str, allowed: type[VehicleType] | type[PaymentMethod]) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if value not in allowed.__members__:
        raise ValidationFailed(f"{name} must be one of {', '.join(allowed.__members__)}")
    return str(value)


def refuse_unsupported(body: dict[str, Any], *names: str) -> None:
    for name in names:
        if body.get(name) is not None:
            raise ValidationFailed(f"{name} is not supported by the bench peer")


# ---- endpoints --------------------------------------------------------------------------------------------------
async def health(request: Request) -> Response:
    return answer({"status": "ok"})


async def get_session(request: Request) -> Response:
    peer = peer_of(request)
    try:
        await peer.authenticate(request, Role.VIEWER)
        session_id = request.path_params["id"]
        async with peer.reader.connect() as conn:
            row = (await conn.execute(SA_SESSION_WITH_TICKET, {"session_id": session_id})).first()
        if row is None:
            raise NotFound(f"No session {session_id}")
        return answer(session_json(row._mapping, row.ticket_code))
    except GarageError as error:
        return error_answer(error)


async def check_in(request: Request) -> Response:
    peer = peer_of(request)
    try:
        await peer.authenticate(request, Role.OPERATOR)
        body = await json_body(request)
        refuse_unsupported(body, "spotId", "at")
        plate = body.get("licensePlate")
        if not isinstance(plate, str):
            raise ValidationFailed("licensePlate is required")
        plate = normalise_plate(plate)
        vehicle_type = enum_field(body, "vehicleType", VehicleType)
        garage_id = request.path_params["id"]
        start = now_ms()
        async with peer.reader.connect() as conn:  # outside the write lock, as Garage reads it
            if (await conn.execute(DENIED, {"garage_id": garage_id, "plate": plate})).first() is not None:
                raise Conflict(f"Vehicle {plate} may not enter", code="VEHICLE_DENIED")
        async with peer.writer.begin() as conn:
            tx = RecordingTx(conn)
            if vehicle_type is None and await tx.vehicle_by_plate(plate) is None:
                raise ValidationFailed("vehicleType is required for a new plate")
            permit = {"garage_id": garage_id, "plate": plate, "at": iso_ms(start)}
            if (await conn.execute(COVERING_PERMIT, permit)).first() is not None:
                raise ValidationFailed("sessions covered by a permit are not supported by the bench peer")
            session = await check_in_flow(tx, garage_id, plate, vehicle_type or "CAR", start)
            ticket, spot = tx.returned["Ticket"], tx.returned["Spot"]
            if peer.events:
                spot_data = row_view(spot)
                started = {**row_view(session), "ticketCode": ticket["code"]}
                await log_events(
                    conn,
                    garage_id,
                    [
                        ("session.started", {"session": started, "spot": spot_data}),
                        ("spot.changed", {"spot": spot_data}),
                    ],
                )
        return answer(
            {
                "session": session_json(session, ticket["code"]),
                "ticket": _view(ticket, TICKET_OUT),
                "spot": _view(spot, SPOT_OUT),
            },
            201,
        )
    except GarageError as error:
        return error_answer(error)


async def check_out(request: Request) -> Response:
    peer = peer_of(request)
    try:
        await peer.authenticate(request, Role.OPERATOR)
        body = await json_body(request)
        refuse_unsupported(body, "at")
        method = enum_field(body, "paymentMethod", PaymentMethod)
        if method is None:
            raise ValidationFailed("paymentMethod is required")
        reference = body.get("reference")
        lost_ticket = body.get("lostTicket", False)
        if not isinstance(lost_ticket, bool) or not (reference is None or isinstance(reference, str)):
            raise ValidationFailed("lostTicket must be a boolean, reference a string")
        async with peer.writer.begin() as conn:
            tx = RecordingTx(conn)
            completed = await check_out_flow(tx, request.path_params["id"], method, reference, lost_ticket)
            ticket, payment = tx.returned["Ticket"], tx.returned["Payment"]
            if peer.events:
                ended = {**session_json(completed, ticket["code"]), "createdAt": _value(completed["createdAt"])}
                ended["updatedAt"] = _value(completed["updatedAt"])
                paid = row_view(payment, without=("reference",))
                await log_events(
                    conn,
                    completed["garageId"],
                    [
                        ("session.completed", {"session": ended, "payment": paid}),
                        ("spot.changed", {"spot": row_view(tx.returned["Spot"])}),
                    ],
                )
        return answer(
            {
                "session": session_json(completed, ticket["code"]),
                "payment": _view(payment, PAYMENT_OUT),
                "ticket": _view(ticket, TICKET_OUT),
            }
        )
    except GarageError as error:
        return error_answer(error)


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    peer = Peer(
        Path(os.environ["PEER_DATABASE"]),
        os.environ["PEER_SECRET_KEY"],
        events=os.environ.get("PEER_EVENTS", "on") != "off",
    )
    app.state.peer = peer
    try:
        yield
    finally:
        await peer.close()


app = Starlette(
    routes=[
        Route("/health", health),
        Route("/ready", health),
        Route("/api/v1/sessions/{id}", get_session),
        Route("/api/v1/garages/{id}/check-in", check_in, methods=["POST"]),
        Route("/api/v1/sessions/{id}/check-out", check_out, methods=["POST"]),
    ],
    lifespan=lifespan,
)
