"""The two baselines of bench/data_layer_bench.py: the garage's data-layer operations written
directly on SQLAlchemy 2 async (Core, on aiosqlite) and on Python's sqlite3 (the floor).

Both run the SAME flow for check-in and check-out (`check_in_flow`, `check_out_flow`): the checks
and writes of ParkingService's check-in and check-out as they stood when this benchmark was
written (one BEGIN IMMEDIATE transaction each: garage live, vehicle by plate, its ACTIVE session
and last exit, the first fitting spot, the new vehicle, session, ticket with an unused code, spot
status, audit rows; for check-out: session with garage and rate, fee, guarded completion, payment,
ticket status, spot release, the completed session read back, audit rows). They differ only in how
a statement runs (`BaselineTx`): SQLAlchemy Core statements built once with bind parameters, or
SQL text on one sqlite3 connection. Where a direct implementation naturally does better than one
query per relation it does (joins for session+garage+rate and session+ticket, INSERT/UPDATE ...
RETURNING, the audit rows of one transaction in one executemany).

Connection settings are the engine's (engine/src/sqlite-connection.js): the writer has
busy_timeout, journal_mode=WAL, synchronous (FULL by default), foreign_keys=ON and starts every
transaction with BEGIN IMMEDIATE; SQLAlchemy also gets the engine's query_only reader for
reads outside transactions. sqlite3 uses one autocommit connection (reads need no transaction).
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Select, bindparam, event, insert, select, update
from sqlalchemy.engine import Connection as SyncConnection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bench._sqlalchemy_schema import (
    IsoDateTime,
    audit_log,
    garage,
    iso_ms,
    parking_session,
    payment,
    rate,
    spot,
    ticket,
    vehicle,
)
from garage.errors import Conflict, NotFound, ValidationFailed
from garage.repositories.spots import NewSpot
from garage.services import pricing
from garage.services.tickets import new_ticket_code
from garage.vocabulary import DEFAULT_RATE, SPOT_PREFERENCE, RateTerms, VehicleType

ACTOR = "bench"
PAGE_LIMIT = 50
BUSY_TIMEOUT_MS = 10_000  # the engine's default ENGINE_BUSY_TIMEOUT_MS
_CODE_ATTEMPTS = 5
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"

SESSION_FIELDS = (
    "id",
    "garageId",
    "spotId",
    "vehicleId",
    "licensePlate",
    "status",
    "startTime",
    "endTime",
    "feeCents",
    "createdAt",
    "updatedAt",
)
VEHICLE_FIELDS = (
    "id",
    "licensePlate",
    "type",
    "ownerName",
    "ownerEmail",
    "ownerPhone",
    "createdAt",
    "updatedAt",
    "deletedAt",
)
PAYMENT_FIELDS = (
    "id",
    "sessionId",
    "garageId",
    "amountCents",
    "currency",
    "method",
    "status",
    "reference",
    "createdAt",
    "updatedAt",
    "refundedAt",
)
OWNER_FIELDS = ("ownerName", "ownerEmail", "ownerPhone")
RATE_FIELDS = ("hourlyRateCents", "incrementMinutes", "graceMinutes", "dailyMaxCents", "lostTicketFeeCents")


class Record(Protocol):
    """A row by column name: sqlite3.Row or SQLAlchemy's RowMapping."""

    def __getitem__(self, key: str) -> Any: ...


# ---- values the application chooses -------------------------------------------------------------
def now_ms() -> datetime:
    """Now in UTC at the database's millisecond precision."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def new_id() -> str:
    """A cuid-shaped id ("c", the time in base 36, 16 random hex digits): ids are TEXT, any
    unique string does; this one costs ~1 us."""
    millis, stamp = int(time.time() * 1000), ""
    while millis:
        millis, digit = divmod(millis, 36)
        stamp = _BASE36[digit] + stamp
    return "c" + stamp.rjust(8, "0") + secrets.token_hex(8)


def as_datetime(value: datetime | str) -> datetime:
    """sqlite3 returns the stored text, SQLAlchemy (IsoDateTime) a datetime."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


# ---- audit rows, as the service writes them ---------------------------------------------------------
def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, default=_json_default, sort_keys=True)


def _json_default(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def audit_row(
    action: str, entity: str, entity_id: str, now: datetime, *, before: Any = None, after: Any = None
) -> dict[str, Any]:
    return {
        "id": new_id(),
        "actor": ACTOR,
        "action": action,
        "entity": entity,
        "entityId": entity_id,
        "before": _json(before),
        "after": _json(after),
        "createdAt": now,
        "updatedAt": now,
    }


def session_view(session: Record) -> dict[str, Any]:
    return {name: session[name] for name in SESSION_FIELDS}


def vehicle_view(row: Record) -> dict[str, Any]:
    view = {name: row[name] for name in VEHICLE_FIELDS}
    for name in OWNER_FIELDS:
        view[name] = "(set)" if view[name] is not None else None
    return view


def payment_view(row: Record) -> dict[str, Any]:
    view = {name: row[name] for name in PAYMENT_FIELDS}
    view["reference"] = "(set)" if view["reference"] is not None else None
    return view


def rate_terms(session: Record) -> RateTerms:
    """The rate joined to the session (LEFT JOIN: a garage without a rate row pays the defaults)."""
    if session["hourlyRateCents"] is None:
        return DEFAULT_RATE
    return RateTerms(
        hourly_rate_cents=session["hourlyRateCents"],
        increment_minutes=session["incrementMinutes"],
        grace_minutes=session["graceMinutes"],
        daily_max_cents=session["dailyMaxCents"],
        lost_ticket_fee_cents=session["lostTicketFeeCents"],
    )


def spot_rows(garage_id: str, spots: Sequence[NewSpot]) -> list[dict[str, Any]]:
    now = now_ms()
    return [
        {
            "id": new_id(),
            "garageId": garage_id,
            "level": s.level,
            "number": s.number,
            "sortKey": s.sort_key,
            "type": s.type,
            "status": s.status,
            "createdAt": now,
            "updatedAt": now,
        }
        for s in spots
    ]


# ---- the flow both baselines run ----------------------------------------------------------------------
class BaselineTx(Protocol):
    """The statements of check-in and check-out, inside one BEGIN IMMEDIATE transaction."""

    async def live_garage(self, garage_id: str) -> bool: ...
    async def vehicle_by_plate(self, plate: str) -> Record | None: ...
    async def has_active_session(self, vehicle_id: str) -> bool: ...
    async def last_exit(self, vehicle_id: str) -> datetime | None: ...
    async def first_available(self, garage_id: str, spot_type: str) -> Record | None: ...
    async def insert_returning(self, table: str, row: dict[str, Any]) -> Record: ...
    async def code_taken(self, code: str) -> bool: ...
    async def set_spot_status(self, spot_id: str, status: str, now: datetime) -> Record: ...
    async def session_for_check_out(self, session_id: str) -> Record | None: ...
    async def complete_session(self, session_id: str, end: datetime, fee_cents: int, now: datetime) -> bool: ...
    async def set_ticket_status(self, session_id: str, status: str, now: datetime) -> Record: ...
    async def session_with_ticket(self, session_id: str) -> Record: ...
    async def insert_audit(self, rows: list[dict[str, Any]]) -> None: ...


async def first_available(tx: BaselineTx, garage_id: str, spot_types: Sequence[str]) -> Record | None:
    """SpotRepository.first_available: one indexed query per type, in preference order."""
    for spot_type in spot_types:
        found = await tx.first_available(garage_id, spot_type)
        if found is not None:
            return found
    return None


async def check_in_flow(tx: BaselineTx, garage_id: str, plate: str, vehicle_type: str, start: datetime) -> Record:
    if not await tx.live_garage(garage_id):
        raise NotFound(f"No garage {garage_id}")
    vehicle = await tx.vehicle_by_plate(plate)
    parked_as = vehicle_type if vehicle is None else vehicle["type"]
    if vehicle is not None:
        if await tx.has_active_session(vehicle["id"]):
            raise Conflict(f"Vehicle {plate} is already parked", code="VEHICLE_ALREADY_PARKED")
        last_exit = await tx.last_exit(vehicle["id"])
        if last_exit is not None and start < last_exit:
            raise ValidationFailed("at is before this vehicle's last check-out")
    chosen = await first_available(tx, garage_id, SPOT_PREFERENCE[VehicleType(parked_as)])
    if chosen is None:
        raise Conflict(f"No free spot fits a {parked_as}", code="GARAGE_FULL")
    now = now_ms()
    audit: list[dict[str, Any]] = []
    if vehicle is None:
        vehicle = await tx.insert_returning(
            "Vehicle", {"id": new_id(), "licensePlate": plate, "type": parked_as, "createdAt": now, "updatedAt": now}
        )
        audit.append(audit_row("CREATE", "Vehicle", vehicle["id"], now, after=vehicle_view(vehicle)))
    session = await tx.insert_returning(
        "Session",
        {
            "id": new_id(),
            "garageId": garage_id,
            "spotId": chosen["id"],
            "vehicleId": vehicle["id"],
            "licensePlate": plate,
            "vehicleType": parked_as,
            "status": "ACTIVE",
            "startTime": start,
            "createdAt": now,
            "updatedAt": now,
        },
    )
    issued = await tx.insert_returning(
        "Ticket",
        {
            "id": new_id(),
            "code": await unused_code(tx),
            "sessionId": session["id"],
            "issuedAt": start,
            "status": "OPEN",
            "createdAt": now,
            "updatedAt": now,
        },
    )
    occupied = await tx.set_spot_status(chosen["id"], "OCCUPIED", now)
    audit.append(
        audit_row(
            "CHECK_IN", "Session", session["id"], now, after={**session_view(session), "ticketCode": issued["code"]}
        )
    )
    audit.append(
        audit_row(
            "UPDATE",
            "Spot",
            chosen["id"],
            now,
            before={"status": chosen["status"]},
            after={"status": occupied["status"], "sessionId": session["id"]},
        )
    )
    await tx.insert_audit(audit)
    return session


async def unused_code(tx: BaselineTx) -> str:
    for _ in range(_CODE_ATTEMPTS):
        code = new_ticket_code()
        if not await tx.code_taken(code):
            return code
    raise RuntimeError("no unused ticket code found")


async def check_out_flow(
    tx: BaselineTx, session_id: str, method: str, reference: str | None, lost_ticket: bool
) -> Record:
    session = await tx.session_for_check_out(session_id)
    if session is None:
        raise NotFound(f"No session {session_id}")
    if session["status"] != "ACTIVE":
        raise Conflict("The session has already ended", code="SESSION_NOT_ACTIVE")
    start = as_datetime(session["startTime"])
    end = max(now_ms(), start)
    fee = pricing.fee_between(start, end, rate_terms(session), lost_ticket=lost_ticket)
    now = now_ms()
    if not await tx.complete_session(session_id, end, fee.fee_cents, now):
        raise Conflict("The session has already ended", code="SESSION_NOT_ACTIVE")
    paid = await tx.insert_returning(
        "Payment",
        {
            "id": new_id(),
            "sessionId": session_id,
            "garageId": session["garageId"],
            "amountCents": fee.fee_cents,
            "currency": session["currency"],
            "method": method,
            "status": "COMPLETED",
            "reference": reference,
            "createdAt": end,
            "updatedAt": now,
        },
    )
    closed = await tx.set_ticket_status(session_id, "LOST" if lost_ticket else "PAID", now)
    released = await tx.set_spot_status(session["spotId"], "AVAILABLE", now)
    completed = await tx.session_with_ticket(session_id)
    await tx.insert_audit(
        [
            audit_row(
                "CHECK_OUT",
                "Session",
                session_id,
                now,
                before=session_view(session),
                after={**session_view(completed), "ticketStatus": closed["status"], "minutes": fee.minutes},
            ),
            audit_row("CREATE", "Payment", paid["id"], now, after=payment_view(paid)),
            audit_row(
                "UPDATE",
                "Spot",
                released["id"],
                now,
                before={"status": "OCCUPIED", "sessionId": session_id},
                after={"status": released["status"]},
            ),
        ]
    )
    return completed


# ---- SQLAlchemy Core statements, built once --------------------------------------------------------------
def _ticket_columns() -> list[Any]:
    return [column.label(f"ticket_{column.name}") for column in ticket.c if column.name != "sessionId"]


def _session_with_ticket() -> Select[Any]:
    return select(parking_session, *_ticket_columns()).select_from(
        parking_session.outerjoin(ticket, ticket.c.sessionId == parking_session.c.id)
    )


SA_LIVE_GARAGE = select(garage.c.id).where(garage.c.id == bindparam("garage_id"), garage.c.deletedAt.is_(None))
SA_VEHICLE_BY_PLATE = (
    select(vehicle).where(vehicle.c.licensePlate == bindparam("plate"), vehicle.c.deletedAt.is_(None)).limit(1)
)
SA_ACTIVE_OF_VEHICLE = (
    select(parking_session.c.id)
    .where(parking_session.c.vehicleId == bindparam("vehicle_id"), parking_session.c.status == "ACTIVE")
    .limit(1)
)
SA_LAST_EXIT = (
    select(parking_session.c.endTime)
    .where(parking_session.c.vehicleId == bindparam("vehicle_id"), parking_session.c.endTime.is_not(None))
    .order_by(parking_session.c.endTime.desc())
    .limit(1)
)
SA_FIRST_AVAILABLE = (
    select(spot)
    .where(
        spot.c.garageId == bindparam("garage_id"),
        spot.c.status == "AVAILABLE",
        spot.c.type == bindparam("spot_type"),
        spot.c.deletedAt.is_(None),
    )
    .order_by(spot.c.level, spot.c.sortKey, spot.c.id)
    .limit(1)
)
SA_CODE_TAKEN = select(ticket.c.id).where(ticket.c.code == bindparam("code")).limit(1)
SA_INSERT_RETURNING = {
    table.name: insert(table).returning(table) for table in (vehicle, parking_session, ticket, payment)
}
SA_SET_SPOT_STATUS = (
    update(spot)
    .where(spot.c.id == bindparam("b_id"))
    .values(status=bindparam("b_status"), updatedAt=bindparam("b_now", type_=IsoDateTime()))
    .returning(spot)
)
SA_SESSION_FOR_CHECK_OUT = (
    select(parking_session, garage.c.currency, *(rate.c[name] for name in RATE_FIELDS))
    .select_from(
        parking_session.join(garage, garage.c.id == parking_session.c.garageId).outerjoin(
            rate, rate.c.garageId == parking_session.c.garageId
        )
    )
    .where(parking_session.c.id == bindparam("session_id"))
)
SA_COMPLETE_SESSION = (
    update(parking_session)
    .where(parking_session.c.id == bindparam("b_id"), parking_session.c.status == "ACTIVE")
    .values(
        status="COMPLETED",
        endTime=bindparam("b_end", type_=IsoDateTime()),
        feeCents=bindparam("b_fee"),
        updatedAt=bindparam("b_now", type_=IsoDateTime()),
    )
)
SA_SET_TICKET_STATUS = (
    update(ticket)
    .where(ticket.c.sessionId == bindparam("b_session_id"))
    .values(status=bindparam("b_status"), updatedAt=bindparam("b_now", type_=IsoDateTime()))
    .returning(ticket)
)
SA_SESSION_WITH_TICKET = _session_with_ticket().where(parking_session.c.id == bindparam("session_id"))
SA_SESSION_PAGE = (
    _session_with_ticket()
    .where(parking_session.c.garageId == bindparam("garage_id"))
    .order_by(parking_session.c.startTime.desc(), parking_session.c.id.desc())
    .limit(PAGE_LIMIT + 1)
)
SA_INSERT_AUDIT = insert(audit_log)
SA_INSERT_SPOTS = insert(spot)


class SqlAlchemyTx:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def _first(self, statement: Any, parameters: dict[str, Any]) -> Record | None:
        row = (await self._conn.execute(statement, parameters)).first()
        return None if row is None else row._mapping

    async def _one(self, statement: Any, parameters: dict[str, Any]) -> Record:
        return (await self._conn.execute(statement, parameters)).one()._mapping

    async def live_garage(self, garage_id: str) -> bool:
        return await self._first(SA_LIVE_GARAGE, {"garage_id": garage_id}) is not None

    async def vehicle_by_plate(self, plate: str) -> Record | None:
        return await self._first(SA_VEHICLE_BY_PLATE, {"plate": plate})

    async def has_active_session(self, vehicle_id: str) -> bool:
        return await self._first(SA_ACTIVE_OF_VEHICLE, {"vehicle_id": vehicle_id}) is not None

    async def last_exit(self, vehicle_id: str) -> datetime | None:
        row = await self._first(SA_LAST_EXIT, {"vehicle_id": vehicle_id})
        return None if row is None else row["endTime"]

    async def first_available(self, garage_id: str, spot_type: str) -> Record | None:
        return await self._first(SA_FIRST_AVAILABLE, {"garage_id": garage_id, "spot_type": spot_type})

    async def insert_returning(self, table: str, row: dict[str, Any]) -> Record:
        return await self._one(SA_INSERT_RETURNING[table], row)

    async def code_taken(self, code: str) -> bool:
        return await self._first(SA_CODE_TAKEN, {"code": code}) is not None

    async def set_spot_status(self, spot_id: str, status: str, now: datetime) -> Record:
        return await self._one(SA_SET_SPOT_STATUS, {"b_id": spot_id, "b_status": status, "b_now": now})

    async def session_for_check_out(self, session_id: str) -> Record | None:
        return await self._first(SA_SESSION_FOR_CHECK_OUT, {"session_id": session_id})

    async def complete_session(self, session_id: str, end: datetime, fee_cents: int, now: datetime) -> bool:
        result = await self._conn.execute(
            SA_COMPLETE_SESSION, {"b_id": session_id, "b_end": end, "b_fee": fee_cents, "b_now": now}
        )
        return result.rowcount == 1

    async def set_ticket_status(self, session_id: str, status: str, now: datetime) -> Record:
        return await self._one(SA_SET_TICKET_STATUS, {"b_session_id": session_id, "b_status": status, "b_now": now})

    async def session_with_ticket(self, session_id: str) -> Record:
        return await self._one(SA_SESSION_WITH_TICKET, {"session_id": session_id})

    async def insert_audit(self, rows: list[dict[str, Any]]) -> None:
        await self._conn.execute(SA_INSERT_AUDIT, rows)


def _configure_sqlalchemy(engine: AsyncEngine, *, writer: bool, synchronous: str) -> None:
    """The engine's per-connection settings; the writer begins with BEGIN IMMEDIATE (SQLAlchemy's
    documented recipe: the driver's own BEGIN off, ours in the `begin` event)."""

    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        if writer:
            dbapi_connection.isolation_level = None
        pragmas = [f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}"]
        pragmas += (
            ["PRAGMA journal_mode = WAL", f"PRAGMA synchronous = {synchronous}", "PRAGMA foreign_keys = ON"]
            if writer
            else ["PRAGMA query_only = ON"]
        )
        cursor = dbapi_connection.cursor()
        for pragma in pragmas:
            cursor.execute(pragma)
        cursor.close()

    if writer:

        @event.listens_for(engine.sync_engine, "begin")
        def on_begin(conn: SyncConnection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


class SqlAlchemyLayer:
    """SQLAlchemy 2 async Core on aiosqlite: a query_only reader engine and a writer engine."""

    name = "sqlalchemy"

    def __init__(self, path: Path, synchronous: str) -> None:
        url = f"sqlite+aiosqlite:///{path}"
        self._reader = create_async_engine(url)
        self._writer = create_async_engine(url)
        _configure_sqlalchemy(self._reader, writer=False, synchronous=synchronous)
        _configure_sqlalchemy(self._writer, writer=True, synchronous=synchronous)

    async def find_available(self, garage_id: str, spot_types: Sequence[str]) -> Record | None:
        async with self._reader.connect() as conn:
            return await first_available(SqlAlchemyTx(conn), garage_id, spot_types)

    async def vehicle_by_plate(self, plate: str) -> Record | None:
        async with self._reader.connect() as conn:
            return await SqlAlchemyTx(conn).vehicle_by_plate(plate)

    async def session_page(self, garage_id: str) -> tuple[list[Any], str | None]:
        async with self._reader.connect() as conn:
            rows = (await conn.execute(SA_SESSION_PAGE, {"garage_id": garage_id})).all()
        return page_of(rows, lambda row: row.id)

    async def check_in(self, garage_id: str, plate: str, vehicle_type: str) -> str:
        start = now_ms()
        async with self._writer.begin() as conn:
            session = await check_in_flow(SqlAlchemyTx(conn), garage_id, plate, vehicle_type, start)
        return str(session["id"])

    async def check_out(self, session_id: str) -> Record:
        async with self._writer.begin() as conn:
            return await check_out_flow(SqlAlchemyTx(conn), session_id, "CARD", None, False)

    async def create_spots(self, garage_id: str, spots: Sequence[NewSpot]) -> list[dict[str, Any]]:
        rows = spot_rows(garage_id, spots)
        async with self._writer.begin() as conn:
            await conn.execute(SA_INSERT_SPOTS, rows)
        return rows

    async def close(self) -> None:
        await self._reader.dispose()
        await self._writer.dispose()


# ---- sqlite3 -------------------------------------------------------------------------------------------------
SESSION_WITH_TICKET_SQL = (
    'SELECT s.*, t."id" AS "ticket_id", t."code" AS "ticket_code", t."issuedAt" AS "ticket_issuedAt", '
    't."status" AS "ticket_status", t."createdAt" AS "ticket_createdAt", t."updatedAt" AS "ticket_updatedAt" '
    'FROM "Session" s LEFT JOIN "Ticket" t ON t."sessionId" = s."id" '
)
SQL = {
    "live_garage": 'SELECT "id" FROM "Garage" WHERE "id" = ? AND "deletedAt" IS NULL',
    "vehicle_by_plate": 'SELECT * FROM "Vehicle" WHERE "licensePlate" = ? AND "deletedAt" IS NULL LIMIT 1',
    "active_of_vehicle": 'SELECT "id" FROM "Session" WHERE "vehicleId" = ? AND "status" = \'ACTIVE\' LIMIT 1',
    "last_exit": 'SELECT "endTime" FROM "Session" WHERE "vehicleId" = ? AND "endTime" IS NOT NULL '
    'ORDER BY "endTime" DESC LIMIT 1',
    "first_available": 'SELECT * FROM "Spot" WHERE "garageId" = ? AND "status" = \'AVAILABLE\' AND "type" = ? '
    'AND "deletedAt" IS NULL ORDER BY "level", "sortKey", "id" LIMIT 1',
    "code_taken": 'SELECT "id" FROM "Ticket" WHERE "code" = ? LIMIT 1',
    "set_spot_status": 'UPDATE "Spot" SET "status" = ?, "updatedAt" = ? WHERE "id" = ? RETURNING *',
    "session_for_check_out": 'SELECT s.*, g."currency", '
    + ", ".join(f'r."{name}"' for name in RATE_FIELDS)
    + ' FROM "Session" s JOIN "Garage" g ON g."id" = s."garageId" '
    'LEFT JOIN "Rate" r ON r."garageId" = s."garageId" WHERE s."id" = ?',
    "complete_session": 'UPDATE "Session" SET "status" = \'COMPLETED\', "endTime" = ?, "feeCents" = ?, "updatedAt" = ? '
    'WHERE "id" = ? AND "status" = \'ACTIVE\'',
    "set_ticket_status": 'UPDATE "Ticket" SET "status" = ?, "updatedAt" = ? WHERE "sessionId" = ? RETURNING *',
    "session_with_ticket": SESSION_WITH_TICKET_SQL + 'WHERE s."id" = ?',
    "session_page": SESSION_WITH_TICKET_SQL + 'WHERE s."garageId" = ? ORDER BY s."startTime" DESC, s."id" DESC LIMIT ?',
}


def _insert_sql(table: str, columns: Sequence[str], *, returning: bool) -> str:
    names = ", ".join(f'"{name}"' for name in columns)
    values = ", ".join(f":{name}" for name in columns)
    return f'INSERT INTO "{table}" ({names}) VALUES ({values})' + (" RETURNING *" if returning else "")


AUDIT_COLUMNS = ("id", "actor", "action", "entity", "entityId", "before", "after", "createdAt", "updatedAt")
SPOT_COLUMNS = ("id", "garageId", "level", "number", "sortKey", "type", "status", "createdAt", "updatedAt")
SQL["insert_audit"] = _insert_sql("AuditLog", AUDIT_COLUMNS, returning=False)
SQL["insert_spots"] = _insert_sql("Spot", SPOT_COLUMNS, returning=False)
sqlite3.register_adapter(datetime, iso_ms)  # datetimes are bound as the engine's ISO text


class Sqlite3Tx:
    """Synchronous statements behind the async BaselineTx interface (its coroutines never suspend)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._inserts: dict[tuple[str, tuple[str, ...]], str] = {}

    def _first(self, name: str, parameters: Sequence[Any]) -> Any:
        return self._conn.execute(SQL[name], parameters).fetchone()

    async def live_garage(self, garage_id: str) -> bool:
        return self._first("live_garage", (garage_id,)) is not None

    async def vehicle_by_plate(self, plate: str) -> Record | None:
        row: Record | None = self._first("vehicle_by_plate", (plate,))
        return row

    async def has_active_session(self, vehicle_id: str) -> bool:
        return self._first("active_of_vehicle", (vehicle_id,)) is not None

    async def last_exit(self, vehicle_id: str) -> datetime | None:
        row = self._first("last_exit", (vehicle_id,))
        return None if row is None else as_datetime(row["endTime"])

    async def first_available(self, garage_id: str, spot_type: str) -> Record | None:
        row: Record | None = self._first("first_available", (garage_id, spot_type))
        return row

    async def insert_returning(self, table: str, row: dict[str, Any]) -> Record:
        key = (table, tuple(row))
        sql = self._inserts.get(key)
        if sql is None:
            sql = self._inserts[key] = _insert_sql(table, key[1], returning=True)
        inserted: Record = self._conn.execute(sql, row).fetchone()
        return inserted

    async def code_taken(self, code: str) -> bool:
        return self._first("code_taken", (code,)) is not None

    async def set_spot_status(self, spot_id: str, status: str, now: datetime) -> Record:
        row: Record = self._first("set_spot_status", (status, now, spot_id))
        return row

    async def session_for_check_out(self, session_id: str) -> Record | None:
        row: Record | None = self._first("session_for_check_out", (session_id,))
        return row

    async def complete_session(self, session_id: str, end: datetime, fee_cents: int, now: datetime) -> bool:
        return self._conn.execute(SQL["complete_session"], (end, fee_cents, now, session_id)).rowcount == 1

    async def set_ticket_status(self, session_id: str, status: str, now: datetime) -> Record:
        row: Record = self._first("set_ticket_status", (status, now, session_id))
        return row

    async def session_with_ticket(self, session_id: str) -> Record:
        row: Record = self._first("session_with_ticket", (session_id,))
        return row

    async def insert_audit(self, rows: list[dict[str, Any]]) -> None:
        self._conn.executemany(SQL["insert_audit"], rows)


@contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT, ROLLBACK on any error (an autocommit-mode connection)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class Sqlite3Layer:
    """Python's sqlite3, synchronous, one connection in autocommit mode: the floor."""

    name = "sqlite3"

    def __init__(self, path: Path, synchronous: str) -> None:
        self._conn = sqlite3.connect(path, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        for pragma in (
            f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}",
            "PRAGMA journal_mode = WAL",
            f"PRAGMA synchronous = {synchronous}",
            "PRAGMA foreign_keys = ON",
        ):
            self._conn.execute(pragma)
        self._tx = Sqlite3Tx(self._conn)

    async def find_available(self, garage_id: str, spot_types: Sequence[str]) -> Record | None:
        return await first_available(self._tx, garage_id, spot_types)

    async def vehicle_by_plate(self, plate: str) -> Record | None:
        return await self._tx.vehicle_by_plate(plate)

    async def session_page(self, garage_id: str) -> tuple[list[Any], str | None]:
        rows = self._conn.execute(SQL["session_page"], (garage_id, PAGE_LIMIT + 1)).fetchall()
        return page_of(rows, lambda row: row["id"])

    async def check_in(self, garage_id: str, plate: str, vehicle_type: str) -> str:
        start = now_ms()
        with immediate(self._conn):
            session = await check_in_flow(self._tx, garage_id, plate, vehicle_type, start)
        return str(session["id"])

    async def check_out(self, session_id: str) -> Record:
        with immediate(self._conn):
            return await check_out_flow(self._tx, session_id, "CARD", None, False)

    async def create_spots(self, garage_id: str, spots: Sequence[NewSpot]) -> list[dict[str, Any]]:
        rows = spot_rows(garage_id, spots)
        with immediate(self._conn):
            self._conn.executemany(SQL["insert_spots"], rows)
        return rows

    async def close(self) -> None:
        self._conn.close()


def page_of(rows: list[Any], id_of: Any) -> tuple[list[Any], str | None]:
    """The first PAGE_LIMIT rows and the cursor of the next page (the extra row says one exists)."""
    if len(rows) > PAGE_LIMIT:
        return rows[:PAGE_LIMIT], str(id_of(rows[PAGE_LIMIT - 1]))
    return rows, None
