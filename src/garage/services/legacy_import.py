"""Legacy import: a MemoryStore snapshot into the database (`garage import-memory-store`).

The snapshot is `{"garages", "spots", "vehicles", "sessions", "payments"[, "tickets"]}`, records
shaped like the API resources with their legacy ids, which become the new rows' ids.

How it works, and why:
- Everything is checked before anything is written: each record against its pydantic model, then
  the references and uniqueness rules across the snapshot, then against what the database already
  holds. Every offending record is listed (kind, legacy id, problem); one problem refuses all.
- Idempotent: a record whose id already exists with the same content is skipped; one whose id
  exists with other content is a problem like any other. So a second run changes nothing.
- References must resolve inside the snapshot (a session's garage, spot and vehicle; a payment's
  session). A record the database already holds may be in it again: it is then skipped.
- Spots: a spot under an ACTIVE session is stored OCCUPIED (the contract's invariant "OCCUPIED
  exactly when it has an ACTIVE session"); a spot marked OCCUPIED without one is stored AVAILABLE and
  counted as normalised in the report: MemoryStore kept the flag separately, and a stale flag must
  not make a free spot unassignable. Other statuses are kept.
- Tickets: taken from a `tickets` section or a session's `ticketCode` when present (printed tickets
  keep working); otherwise generated: OPEN for an ACTIVE session, PAID for a COMPLETED one (LOST when
  the legacy session says `"lostTicket": true`).
- Money: `amount` is parsed from the JSON text as a decimal (never a binary float) and rounded half
  up to whole cents.
- Writing: ONE interactive transaction, createMany in chunks, in foreign-key order. The audit log
  gets one IMPORT row per kind (counts, skipped counts and the snapshot's sha256), not one per
  record: per-record rows would add ~100k rows to the ~135k a 100k-record snapshot writes (and about
  as much time again: the cost is per row) while adding nothing the archived snapshot file, named by
  its hash, does not already hold.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import zoneinfo
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any, Literal, TypedDict, TypeVar, cast

from prisma import Prisma
from prisma.errors import PrismaError
from prisma.types import (
    GarageCreateWithoutRelationsInput,
    ParkingSessionCreateWithoutRelationsInput,
    PaymentCreateWithoutRelationsInput,
    RateCreateWithoutRelationsInput,
    SpotCreateWithoutRelationsInput,
    TicketCreateWithoutRelationsInput,
    VehicleCreateWithoutRelationsInput,
)
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from garage.repositories.audit import AuditRepository
from garage.repositories.garages import GarageRepository
from garage.repositories.payments import PaymentRepository
from garage.repositories.rows import at_db_precision, now_ms
from garage.repositories.rates import DEFAULT_RATE, RateRepository
from garage.repositories.sessions import SessionRepository
from garage.repositories.spots import SpotRepository
from garage.repositories.tickets import TicketRepository
from garage.repositories.vehicles import VehicleRepository
from garage.security.crypto import FieldCipher
from garage.services.plates import InvalidPlate, normalise_plate
from garage.services.spot_numbers import spot_sort_key
from garage.services.tickets import ALPHABET, new_ticket_code

KINDS = ("garages", "spots", "vehicles", "sessions", "tickets", "payments")
REQUIRED_SECTIONS = ("garages", "spots", "vehicles", "sessions", "payments")
# Rows per createMany: large enough that per-call overhead vanishes, small enough for the engine's
# request limit (a 5000-row chunk is about 2 MB of query text).
CHUNK = 2000
# createMany calls of one kind in flight at once (see LegacyImportService._write).
IN_FLIGHT = 3
# Ids per `in` lookup of existing rows.
LOOKUP_CHUNK = 2000
# createMany calls of one kind in flight at once (see LegacyImportService._write).
IN_FLIGHT = 3
# One transaction holds the whole import: 100k records take seconds, a slow disk may take minutes.
TX_TIMEOUT = timedelta(minutes=15)
TX_MAX_WAIT = timedelta(seconds=30)
OWNER_FIELDS = (("ownerName", "Vehicle.ownerName"), ("ownerEmail", "Vehicle.ownerEmail"), ("ownerPhone", "Vehicle.ownerPhone"))
REFERENCE_FIELD = "Payment.reference"
# Fields not compared when deciding whether an existing row is "the same": set by the database.
NOT_COMPARED = frozenset({"updatedAt"})

T = TypeVar("T")


# --- the snapshot's records ------------------------------------------------------------------


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _plate(value: str) -> str:
    try:
        return normalise_plate(value)
    except InvalidPlate as error:
        raise ValueError(str(error)) from error


def _ticket_code(value: str) -> str:
    code = value.strip().upper()
    if len(code) < 8 or any(symbol not in ALPHABET for symbol in code):
        raise ValueError("a ticket code is 8+ characters of A-Z and 2-9 without O and I")
    return code


Id = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_no_nul)]
Text = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_no_nul)]
LongText = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_no_nul)]
Instant = Annotated[AwareDatetime, AfterValidator(at_db_precision)]
Plate = Annotated[str, Field(max_length=100), AfterValidator(_plate)]
TicketCode = Annotated[str, Field(max_length=100), AfterValidator(_ticket_code)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]


class LegacyRecord(BaseModel):
    # A field the import does not know would be dropped silently: refuse it instead.
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Id


class LegacyGarage(LegacyRecord):
    name: LongText
    address: LongText
    timezone: Text = "UTC"
    currency: Currency = "USD"
    capacity: int = Field(ge=1, le=100_000)
    createdAt: Instant | None = None
    updatedAt: Instant | None = None
    deletedAt: Instant | None = None


class LegacySpot(LegacyRecord):
    garageId: Id
    level: int = Field(ge=-20, le=200)
    number: Text
    type: Literal["MOTORCYCLE", "COMPACT", "STANDARD", "LARGE", "EV", "HANDICAP"]
    status: Literal["AVAILABLE", "OCCUPIED", "RESERVED", "MAINTENANCE"] = "AVAILABLE"
    createdAt: Instant | None = None
    updatedAt: Instant | None = None
    deletedAt: Instant | None = None


class LegacyVehicle(LegacyRecord):
    licensePlate: Plate
    type: Literal["MOTORCYCLE", "CAR", "EV", "VAN", "TRUCK"]
    ownerName: Text | None = None
    ownerEmail: Text | None = None
    ownerPhone: Text | None = None
    createdAt: Instant | None = None
    updatedAt: Instant | None = None
    deletedAt: Instant | None = None


class LegacySession(LegacyRecord):
    garageId: Id
    spotId: Id
    vehicleId: Id
    licensePlate: Plate | None = None
    ticketCode: TicketCode | None = None
    lostTicket: bool = False
    status: Literal["ACTIVE", "COMPLETED"]
    startTime: Instant
    endTime: Instant | None = None
    feeCents: int | None = Field(None, ge=0, le=1_000_000_000)
    createdAt: Instant | None = None
    updatedAt: Instant | None = None


class LegacyTicket(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: TicketCode
    sessionId: Id
    issuedAt: Instant | None = None
    status: Literal["OPEN", "PAID", "LOST"]


class LegacyPayment(LegacyRecord):
    sessionId: Id
    garageId: Id | None = None
    amount: Decimal = Field(ge=0, le=10_000_000, allow_inf_nan=False)
    currency: Currency | None = None
    method: Literal["CASH", "CARD", "MOBILE", "VALIDATION"]
    status: Literal["COMPLETED", "REFUNDED"] = "COMPLETED"
    reference: Text | None = None
    createdAt: Instant | None = None
    updatedAt: Instant | None = None
    refundedAt: Instant | None = None


MODELS: dict[str, TypeAdapter[Any]] = {
    "garages": TypeAdapter(LegacyGarage),
    "spots": TypeAdapter(LegacySpot),
    "vehicles": TypeAdapter(LegacyVehicle),
    "sessions": TypeAdapter(LegacySession),
    "tickets": TypeAdapter(LegacyTicket),
    "payments": TypeAdapter(LegacyPayment),
}


def cents_of(amount: Decimal) -> int:
    """Currency units to cents, half up, on the exact decimal written in the snapshot."""
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


# --- problems and the report ---------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Problem:
    kind: str
    legacy_id: str
    problem: str

    def __str__(self) -> str:
        return f"{_SINGULAR.get(self.kind, self.kind)} {self.legacy_id}: {self.problem}"


class ImportRefused(Exception):
    """The snapshot cannot be imported; nothing was written. `problems` lists every offending record."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = sorted(set(problems), key=lambda p: (KINDS.index(p.kind) if p.kind in KINDS else -1, p))
        records = len({(p.kind, p.legacy_id) for p in self.problems})
        super().__init__(f"{len(self.problems)} problem(s) in {records} record(s); nothing was written")


class SnapshotUnreadable(ImportRefused):
    pass


@dataclass
class KindCount:
    imported: int = 0
    skipped: int = 0


@dataclass
class ImportReport:
    snapshot_sha256: str
    dry_run: bool
    counts: dict[str, KindCount] = field(default_factory=lambda: {kind: KindCount() for kind in KINDS})
    rates_created: int = 0
    tickets_generated: int = 0
    spots_normalised: int = 0

    @property
    def rows_to_write(self) -> int:
        return sum(count.imported for count in self.counts.values()) + self.rates_created


Progress = Callable[[int], None]


# --- reading and checking the snapshot -------------------------------------------------------


def read_snapshot(text: str | bytes) -> tuple[dict[str, Any], str]:
    """The parsed snapshot (floats as Decimal) and its sha256."""
    raw = text.encode() if isinstance(text, str) else text
    digest = hashlib.sha256(raw).hexdigest()
    try:
        data = json.loads(raw, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as error:
        raise SnapshotUnreadable([Problem("snapshot", "-", f"not valid JSON: {error}")]) from error
    if not isinstance(data, dict):
        raise SnapshotUnreadable([Problem("snapshot", "-", "must be a JSON object of record lists")])
    problems = [Problem("snapshot", "-", f"unknown section {name!r}") for name in data if name not in KINDS]
    problems += [Problem("snapshot", "-", f"missing section {name!r}") for name in REQUIRED_SECTIONS if name not in data]
    problems += [
        Problem("snapshot", "-", f"section {name!r} must be a list of records")
        for name in KINDS if name in data and not isinstance(data[name], list)
    ]
    if problems:
        raise SnapshotUnreadable(problems)
    return data, digest


def _legacy_id(kind: str, index: int, raw: Any) -> str:
    key = "sessionId" if kind == "tickets" else "id"
    if isinstance(raw, dict) and isinstance(raw.get(key), str) and raw[key]:
        return cast(str, raw[key])
    return f"#{index}"


def _describe(error: dict[str, Any]) -> str:
    where = ".".join(str(part) for part in error["loc"]) or "record"
    shown = "" if error["type"] in ("missing", "extra_forbidden") else f" (got {error['input']!r})"
    if error["type"] == "extra_forbidden":
        return f"{where}: unknown field"
    return f"{where}: {error['msg']}{shown}"


@dataclass
class Snapshot:
    """The valid records by kind and legacy id (tickets by session id), in snapshot order."""

    garages: dict[str, LegacyGarage] = field(default_factory=dict)
    spots: dict[str, LegacySpot] = field(default_factory=dict)
    vehicles: dict[str, LegacyVehicle] = field(default_factory=dict)
    sessions: dict[str, LegacySession] = field(default_factory=dict)
    tickets: dict[str, LegacyTicket] = field(default_factory=dict)
    payments: dict[str, LegacyPayment] = field(default_factory=dict)
    # every legacy id present, valid or not: a reference to an invalid record is not also "broken"
    present: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))


def parse_records(data: dict[str, Any], problems: list[Problem]) -> Snapshot:
    snapshot = Snapshot()
    for kind in KINDS:
        records = data.get(kind, [])
        ids = Counter(_legacy_id(kind, index, raw) for index, raw in enumerate(records))
        target: dict[str, Any] = getattr(snapshot, kind)
        for index, raw in enumerate(records):
            legacy_id = _legacy_id(kind, index, raw)
            snapshot.present[kind].add(legacy_id)
            if ids[legacy_id] > 1:
                what = "session" if kind == "tickets" else "id"
                problems.append(Problem(kind, legacy_id, f"{ids[legacy_id]} records have this {what}"))
                continue
            try:
                target[legacy_id] = MODELS[kind].validate_python(raw)
            except ValidationError as error:
                problems.extend(Problem(kind, legacy_id, _describe(cast(dict[str, Any], e))) for e in error.errors())
    return snapshot


def _check_timezones(snapshot: Snapshot, problems: list[Problem]) -> None:
    for garage in snapshot.garages.values():
        try:
            zoneinfo.ZoneInfo(garage.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            problems.append(Problem("garages", garage.id, f"timezone: not an IANA time zone (got {garage.timezone!r})"))


def check_references(snapshot: Snapshot, problems: list[Problem]) -> None:
    """References resolve inside the snapshot; natural keys and the one-ACTIVE rules hold."""
    s = snapshot

    def refers(kind: str, legacy_id: str, field_name: str, target_kind: str, target_id: str | None) -> bool:
        if target_id is None or target_id in s.present[target_kind]:
            return True
        problems.append(Problem(kind, legacy_id, f"{field_name} {target_id!r} names no {target_kind[:-1]} in the snapshot"))
        return False

    _check_timezones(s, problems)
    live_spots: dict[str, list[LegacySpot]] = defaultdict(list)
    for spot in s.spots.values():
        if refers("spots", spot.id, "garageId", "garages", spot.garageId) and spot.deletedAt is None:
            live_spots[spot.garageId].append(spot)
    for garage_id, spots in live_spots.items():
        garage = s.garages.get(garage_id)
        if garage is not None and len(spots) > garage.capacity:
            problems.append(Problem("garages", garage_id, f"{len(spots)} live spots exceed its capacity {garage.capacity}"))
    _duplicates(
        "spots", ((spot.id, (spot.garageId, spot.level, spot.number)) for spots in live_spots.values() for spot in spots),
        lambda key: f"garage {key[0]!r} level {key[1]} number {key[2]!r} is also spot", problems,
    )
    _duplicates(
        "vehicles", ((v.id, v.licensePlate) for v in s.vehicles.values() if v.deletedAt is None),
        lambda plate: f"plate {plate!r} (normalised) is also vehicle", problems,
    )

    paid_sessions = Counter(payment.sessionId for payment in s.payments.values())
    for session in s.sessions.values():
        _check_session(s, session, paid_sessions, refers, problems)
    active = [session for session in s.sessions.values() if session.status == "ACTIVE"]
    _duplicates("sessions", ((x.id, x.spotId) for x in active), lambda spot: f"ACTIVE on spot {spot!r} as is session", problems)
    _duplicates("sessions", ((x.id, x.vehicleId) for x in active), lambda v: f"ACTIVE for vehicle {v!r} as is session", problems)

    for ticket in s.tickets.values():
        ticketed = s.sessions.get(ticket.sessionId)
        if refers("tickets", ticket.sessionId, "sessionId", "sessions", ticket.sessionId) and ticketed is not None:
            expected = ("OPEN",) if ticketed.status == "ACTIVE" else ("PAID", "LOST")
            if ticket.status not in expected:
                problems.append(Problem("tickets", ticket.sessionId, f"status {ticket.status} for a {ticketed.status} session"))
            if ticketed.ticketCode is not None and ticketed.ticketCode != ticket.code:
                problems.append(Problem("tickets", ticket.sessionId, f"code {ticket.code!r} differs from the session's ticketCode"))
    codes = [(t.sessionId, t.code) for t in s.tickets.values()]
    codes += [(x.id, x.ticketCode) for x in s.sessions.values() if x.ticketCode is not None and x.id not in s.tickets]
    _duplicates("tickets", codes, lambda code: f"ticket code {code!r} is also used by session", problems)

    for payment in s.payments.values():
        paid = s.sessions.get(payment.sessionId)
        if not refers("payments", payment.id, "sessionId", "sessions", payment.sessionId) or paid is None:
            continue
        if paid_sessions[payment.sessionId] > 1:
            problems.append(Problem("payments", payment.id, f"session {payment.sessionId!r} has {paid_sessions[payment.sessionId]} payments"))
        if paid.status != "COMPLETED":
            problems.append(Problem("payments", payment.id, f"pays for session {paid.id!r}, which is {paid.status}"))
        if payment.garageId is not None and payment.garageId != paid.garageId:
            problems.append(Problem("payments", payment.id, f"garageId {payment.garageId!r} is not its session's garage"))


def _check_session(
    s: Snapshot, session: LegacySession, paid_sessions: Counter[str],
    refers: Callable[[str, str, str, str, str | None], bool], problems: list[Problem],
) -> None:
    def problem(text: str) -> None:
        problems.append(Problem("sessions", session.id, text))

    refers("sessions", session.id, "garageId", "garages", session.garageId)
    refers("sessions", session.id, "spotId", "spots", session.spotId)
    refers("sessions", session.id, "vehicleId", "vehicles", session.vehicleId)
    spot, vehicle, garage = s.spots.get(session.spotId), s.vehicles.get(session.vehicleId), s.garages.get(session.garageId)
    if spot is not None and spot.garageId != session.garageId:
        problem(f"spot {spot.id!r} belongs to garage {spot.garageId!r}, not {session.garageId!r}")
    if session.endTime is not None and session.endTime < session.startTime:
        problem("endTime is before startTime")
    if session.status == "ACTIVE":
        if session.endTime is not None or session.feeCents is not None:
            problem("an ACTIVE session has no endTime and no feeCents")
        for what, record in (("spot", spot), ("vehicle", vehicle), ("garage", garage)):
            if record is not None and record.deletedAt is not None:
                problem(f"ACTIVE on deleted {what} {record.id!r}")
    else:
        if session.endTime is None or session.feeCents is None:
            problem("a COMPLETED session needs endTime and feeCents")
        if paid_sessions[session.id] == 0:
            problem("a COMPLETED session needs its payment, and the snapshot has none")


def _duplicates(
    kind: str, keyed: Iterable[tuple[str, Any]], describe: Callable[[Any], str], problems: list[Problem]
) -> None:
    holders: dict[Any, list[str]] = defaultdict(list)
    for legacy_id, key in keyed:
        holders[key].append(legacy_id)
    for key, ids in holders.items():
        if len(ids) > 1:
            for legacy_id in ids:
                others = ", ".join(repr(other) for other in ids if other != legacy_id)
                problems.append(Problem(kind, legacy_id, f"duplicate: {describe(key)} {others}"))


# --- rows --------------------------------------------------------------------------------------


class Times(TypedDict):
    createdAt: datetime
    updatedAt: datetime


def _times(record: Any, now: datetime) -> Times:
    """The legacy timestamps when given; else the import's time."""
    created = record.createdAt or now
    return {"createdAt": created, "updatedAt": record.updatedAt or created}


def garage_row(garage: LegacyGarage, now: datetime) -> GarageCreateWithoutRelationsInput:
    return {
        "id": garage.id, "name": garage.name, "address": garage.address, "timezone": garage.timezone,
        "currency": garage.currency, "capacity": garage.capacity, "deletedAt": garage.deletedAt, **_times(garage, now),
    }


def spot_row(spot: LegacySpot, status: str, now: datetime) -> SpotCreateWithoutRelationsInput:
    return {
        "id": spot.id, "garageId": spot.garageId, "level": spot.level, "number": spot.number,
        "sortKey": spot_sort_key(spot.number), "type": spot.type, "status": status, "deletedAt": spot.deletedAt,
        **_times(spot, now),
    }


def vehicle_fields(vehicle: LegacyVehicle) -> dict[str, Any]:
    """The vehicle as stored, owner fields in clear (encrypted just before writing)."""
    return {
        "id": vehicle.id, "licensePlate": vehicle.licensePlate, "type": vehicle.type, "ownerName": vehicle.ownerName,
        "ownerEmail": vehicle.ownerEmail, "ownerPhone": vehicle.ownerPhone, "deletedAt": vehicle.deletedAt,
    }


def session_row(session: LegacySession, plate: str, now: datetime) -> ParkingSessionCreateWithoutRelationsInput:
    return {
        "id": session.id, "garageId": session.garageId, "spotId": session.spotId, "vehicleId": session.vehicleId,
        "licensePlate": plate, "status": session.status, "startTime": session.startTime, "endTime": session.endTime,
        "feeCents": session.feeCents, **_times(session, now),
    }


def payment_fields(payment: LegacyPayment, session: LegacySession, garage: LegacyGarage, now: datetime) -> dict[str, Any]:
    """The payment as stored, reference in clear (encrypted just before writing)."""
    created = payment.createdAt or session.endTime or now
    return {
        "id": payment.id, "sessionId": payment.sessionId, "garageId": session.garageId,
        "amountCents": cents_of(payment.amount), "currency": payment.currency or garage.currency,
        "method": payment.method, "status": payment.status, "reference": payment.reference, "createdAt": created,
        "updatedAt": payment.updatedAt or created, "refundedAt": payment.refundedAt,
    }


def _differences(wanted: dict[str, Any], stored: Any, *, compare_created: bool) -> list[str]:
    skipped = NOT_COMPARED if compare_created else NOT_COMPARED | {"createdAt"}
    return sorted(name for name, value in wanted.items() if name not in skipped and getattr(stored, name) != value)


def _without_nulls(row: T) -> T:
    """Absent instead of null: the default is the same, and the client builds less query text."""
    return cast(T, {name: value for name, value in cast(dict[str, Any], row).items() if value is not None})


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


async def _lookup(ids: Sequence[str], find: Callable[[Sequence[str]], Awaitable[list[T]]]) -> list[T]:
    found: list[T] = []
    for chunk in _chunks(list(ids), LOOKUP_CHUNK):
        found.extend(await find(chunk))
    return found


# --- the plan: what to write, after the database checks ---------------------------------------


@dataclass
class Plan:
    garages: list[GarageCreateWithoutRelationsInput] = field(default_factory=list)
    rates: list[RateCreateWithoutRelationsInput] = field(default_factory=list)
    spots: list[SpotCreateWithoutRelationsInput] = field(default_factory=list)
    vehicles: list[dict[str, Any]] = field(default_factory=list)
    sessions: list[ParkingSessionCreateWithoutRelationsInput] = field(default_factory=list)
    tickets: list[TicketCreateWithoutRelationsInput] = field(default_factory=list)
    payments: list[dict[str, Any]] = field(default_factory=list)


class LegacyImportService:
    def __init__(self, db: Prisma, cipher: FieldCipher) -> None:
        self._db = db
        self._cipher = cipher

    async def run(
        self, text: str | bytes, *, actor: str, dry_run: bool = False,
        on_planned: Callable[[ImportReport], None] | None = None, on_progress: Progress | None = None,
    ) -> ImportReport:
        """Checks the snapshot and, unless `dry_run`, writes it in ONE transaction. Raises
        ImportRefused listing every offending record; then nothing was written."""
        data, digest = read_snapshot(text)
        problems: list[Problem] = []
        snapshot = parse_records(data, problems)
        check_references(snapshot, problems)
        if problems:
            raise ImportRefused(problems)
        report = ImportReport(snapshot_sha256=digest, dry_run=dry_run)
        if dry_run:
            await self._plan(self._db, snapshot, report)
            return report
        try:
            # Deliberately not garage.db.transaction(): one long transaction with progress callbacks, never retried whole.
            async with self._db.tx(timeout=TX_TIMEOUT, max_wait=TX_MAX_WAIT) as tx:
                plan = await self._plan(tx, snapshot, report)
                if on_planned is not None:
                    on_planned(report)
                await self._write(tx, plan, report, actor, on_progress or (lambda rows: None))
        except PrismaError as error:
            # The checks above mirror every constraint; this is a change made meanwhile by someone else.
            raise ImportRefused([Problem("snapshot", "-", f"the database refused a write, nothing was kept: {error}")]) from error
        return report

    async def _plan(self, db: Prisma, s: Snapshot, report: ImportReport) -> Plan:
        now = now_ms()
        problems: list[Problem] = []
        plan = Plan()

        existing_garages = {g.id: g for g in await _lookup(list(s.garages), GarageRepository(db).with_ids)}
        for garage in s.garages.values():
            row = garage_row(garage, now)
            if self._existing("garages", row, existing_garages.get(garage.id), garage.createdAt, report, problems):
                plan.garages.append(row)
                plan.rates.append({"garageId": garage.id, **DEFAULT_RATE.as_row(), "createdAt": now, "updatedAt": now})  # type: ignore[typeddict-item]
        report.rates_created = len(plan.rates)

        occupied = {x.spotId for x in s.sessions.values() if x.status == "ACTIVE"}
        spots = SpotRepository(db)
        existing_spots = {x.id: x for x in await _lookup(list(s.spots), spots.with_ids)}
        live_in_db = await _lookup(list(s.garages), spots.live_in_garages)
        for spot in s.spots.values():
            status = "OCCUPIED" if spot.id in occupied else ("AVAILABLE" if spot.status == "OCCUPIED" else spot.status)
            spot_fields = spot_row(spot, status, now)
            if self._existing("spots", spot_fields, existing_spots.get(spot.id), spot.createdAt, report, problems):
                plan.spots.append(spot_fields)
                report.spots_normalised += spot.status == "OCCUPIED" and status == "AVAILABLE"
        self._check_spot_clashes(s, plan, live_in_db, problems)

        vehicles = VehicleRepository(db)
        existing_vehicles = {v.id: v for v in await _lookup(list(s.vehicles), vehicles.with_ids)}
        for vehicle in s.vehicles.values():
            fields = {**vehicle_fields(vehicle), **_times(vehicle, now)}
            stored = existing_vehicles.get(vehicle.id)
            clear = None if stored is None else self._with_owner_in_clear(stored)
            if self._existing("vehicles", fields, clear, vehicle.createdAt, report, problems):
                plan.vehicles.append(fields)
        new_plates = {row["licensePlate"]: row["id"] for row in plan.vehicles if row["deletedAt"] is None}
        for taken in await _lookup(list(new_plates), vehicles.live_with_plates):
            if taken.id != new_plates[taken.licensePlate]:
                problems.append(Problem("vehicles", new_plates[taken.licensePlate],
                                        f"plate {taken.licensePlate!r} belongs to vehicle {taken.id!r} in the database"))

        await self._plan_sessions(db, s, plan, report, problems, now)
        await self._plan_payments(db, s, plan, report, problems, now)
        if problems:
            raise ImportRefused(problems)
        return plan

    async def _plan_sessions(
        self, db: Prisma, s: Snapshot, plan: Plan, report: ImportReport, problems: list[Problem], now: datetime
    ) -> None:
        sessions = SessionRepository(db)
        existing = {x.id: x for x in await _lookup(list(s.sessions), sessions.with_ids)}
        new_ids: set[str] = set()
        for session in s.sessions.values():
            plate = session.licensePlate or s.vehicles[session.vehicleId].licensePlate
            row = session_row(session, plate, now)
            if self._existing("sessions", cast(dict[str, Any], row), existing.get(session.id), session.createdAt, report, problems):
                plan.sessions.append(row)
                new_ids.add(session.id)
        new_active = [x for x in plan.sessions if x["status"] == "ACTIVE"]
        by_spot = {x["spotId"]: x["id"] for x in new_active}
        by_vehicle = {x["vehicleId"]: x["id"] for x in new_active}
        for chunk in _chunks(new_active, LOOKUP_CHUNK // 2):
            found = await sessions.active_on(spot_ids=[x["spotId"] for x in chunk], vehicle_ids=[x["vehicleId"] for x in chunk])
            for other in found:
                for key, mine in ((other.spotId, by_spot), (other.vehicleId, by_vehicle)):
                    if key in mine and mine[key] != other.id:
                        problems.append(Problem("sessions", mine[key], f"session {other.id!r} is ACTIVE there in the database"))

        tickets = TicketRepository(db)
        stored_tickets = {t.sessionId: t for t in await _lookup(list(s.sessions), tickets.for_sessions)}
        for session in s.sessions.values():
            wanted = self._ticket_of(s, session)
            stored = stored_tickets.get(session.id)
            if stored is None:
                code = wanted.code if wanted is not None else ""
                status = wanted.status if wanted is not None else _generated_status(session)
                issued = (wanted.issuedAt if wanted is not None else None) or session.startTime
                plan.tickets.append({"code": code, "sessionId": session.id, "issuedAt": issued, "status": status,
                                     "createdAt": issued, "updatedAt": issued})
            elif session.id in new_ids or (wanted is not None and (wanted.code, wanted.status) != (stored.code, stored.status)):
                problems.append(Problem("tickets", session.id, f"the database already holds ticket {stored.code!r} for this session"))
            else:
                report.counts["tickets"].skipped += 1
        report.counts["tickets"].imported = len(plan.tickets)
        await self._assign_codes(tickets, plan, report, problems)

    def _ticket_of(self, s: Snapshot, session: LegacySession) -> LegacyTicket | None:
        if session.id in s.tickets:
            return s.tickets[session.id]
        if session.ticketCode is not None:
            return LegacyTicket(code=session.ticketCode, sessionId=session.id, status=_generated_status(session))
        return None

    async def _assign_codes(self, tickets: TicketRepository, plan: Plan, report: ImportReport, problems: list[Problem]) -> None:
        """Legacy codes must be free in the database; generated ones are drawn until they are."""
        legacy = {row["code"]: row["sessionId"] for row in plan.tickets if row["code"]}
        for taken in await _lookup(list(legacy), tickets.with_codes):
            problems.append(Problem("tickets", legacy[taken.code], f"code {taken.code!r} belongs to session {taken.sessionId!r} in the database"))
        missing = [row for row in plan.tickets if not row["code"]]
        report.tickets_generated = len(missing)
        used = set(legacy)
        while missing:
            for row in missing:
                row["code"] = new_ticket_code()
                while row["code"] in used:
                    row["code"] = new_ticket_code()
                used.add(row["code"])
            clashes = {t.code for t in await _lookup([row["code"] for row in missing], tickets.with_codes)}
            missing = [row for row in missing if row["code"] in clashes]

    async def _plan_payments(
        self, db: Prisma, s: Snapshot, plan: Plan, report: ImportReport, problems: list[Problem], now: datetime
    ) -> None:
        payments = PaymentRepository(db)
        found = []
        for chunk in _chunks(list(s.payments.values()), LOOKUP_CHUNK // 2):
            found += await payments.with_ids_or_sessions(ids=[p.id for p in chunk], session_ids=[p.sessionId for p in chunk])
        by_id = {p.id: p for p in found}
        by_session = {p.sessionId: p for p in found}
        for payment in s.payments.values():
            session = s.sessions[payment.sessionId]
            fields = payment_fields(payment, session, s.garages[session.garageId], now)
            stored = by_id.get(payment.id)
            clear = None if stored is None else stored.model_copy(
                update={"reference": self._cipher.decrypt_optional(stored.reference, REFERENCE_FIELD)}
            )
            if self._existing("payments", fields, clear, True, report, problems):
                other = by_session.get(payment.sessionId)
                if other is not None:
                    problems.append(Problem("payments", payment.id, f"payment {other.id!r} already pays for its session in the database"))
                plan.payments.append(fields)

    @staticmethod
    def _existing(
        kind: str, wanted: Any, stored: Any, created_given: Any, report: ImportReport, problems: list[Problem]
    ) -> bool:
        """True when the record is new; counts a skip when the database holds it unchanged."""
        if stored is None:
            report.counts[kind].imported += 1
            return True
        differences = _differences(dict(wanted), stored, compare_created=created_given is not None)
        if differences:
            problems.append(Problem(kind, wanted["id"], f"exists in the database with other {', '.join(differences)}"))
        else:
            report.counts[kind].skipped += 1
        return False

    def _with_owner_in_clear(self, stored: Any) -> Any:
        return stored.model_copy(
            update={attr: self._cipher.decrypt_optional(getattr(stored, attr), name) for attr, name in OWNER_FIELDS}
        )

    @staticmethod
    def _check_spot_clashes(s: Snapshot, plan: Plan, live_in_db: Sequence[Any], problems: list[Problem]) -> None:
        """A new live spot's (garage, level, number) must be free; a garage's live spots fit its capacity."""
        holder = {(x.garageId, x.level, x.number): x.id for x in live_in_db}
        live_count = Counter(x.garageId for x in live_in_db)
        for row in plan.spots:
            if row.get("deletedAt") is not None:
                continue
            live_count[row["garageId"]] += 1
            other = holder.get((row["garageId"], row["level"], row["number"]))
            if other is not None and other != row["id"]:
                problems.append(Problem("spots", row["id"], f"level {row['level']} number {row['number']!r} is spot {other!r} in the database"))
        for garage_id, count in live_count.items():
            garage = s.garages[garage_id]
            if count > garage.capacity:
                problems.append(Problem("garages", garage_id, f"{count} live spots with the database's exceed its capacity {garage.capacity}"))

    async def _write(self, tx: Prisma, plan: Plan, report: ImportReport, actor: str, progress: Progress) -> None:
        async def insert(rows: Sequence[T], into: Callable[[Sequence[T]], Awaitable[int]]) -> None:
            # A few chunks of one kind in flight at once: the client builds the next query (Python,
            # about half of the time) while the engine runs the previous one. Kinds stay in
            # foreign-key order; the transaction serialises the statements themselves.
            in_flight = asyncio.Semaphore(IN_FLIGHT)

            async def one(chunk: Sequence[T]) -> None:
                async with in_flight:
                    await into([_without_nulls(row) for row in chunk])
                progress(len(chunk))

            async with asyncio.TaskGroup() as group:
                for chunk in _chunks(rows, CHUNK):
                    group.create_task(one(chunk))

        await insert(plan.garages, GarageRepository(tx).insert_many)
        await insert(plan.rates, RateRepository(tx).insert_many)
        await insert(plan.spots, SpotRepository(tx).insert_many)
        await insert([self._sealed_vehicle(row) for row in plan.vehicles], VehicleRepository(tx).insert_many)
        await insert(plan.sessions, SessionRepository(tx).insert_many)
        await insert(plan.tickets, TicketRepository(tx).insert_many)
        await insert([self._sealed_payment(row) for row in plan.payments], PaymentRepository(tx).insert_many)
        audit = AuditRepository(tx)
        for kind, count in report.counts.items():
            if count.imported:
                await audit.record(
                    actor=actor, action="IMPORT", entity=_ENTITIES[kind], entity_id=f"memory-store:{report.snapshot_sha256}",
                    after={"imported": count.imported, "skipped": count.skipped, "snapshotSha256": report.snapshot_sha256,
                           **({"ratesCreated": report.rates_created} if kind == "garages" else {}),
                           **({"generated": report.tickets_generated} if kind == "tickets" else {}),
                           **({"occupiedNormalisedToAvailable": report.spots_normalised} if kind == "spots" else {})},
                )

    def _sealed_vehicle(self, row: dict[str, Any]) -> VehicleCreateWithoutRelationsInput:
        sealed = {**row, **{attr: self._cipher.encrypt_optional(row[attr], name) for attr, name in OWNER_FIELDS}}
        return cast(VehicleCreateWithoutRelationsInput, sealed)

    def _sealed_payment(self, row: dict[str, Any]) -> PaymentCreateWithoutRelationsInput:
        sealed = {**row, "reference": self._cipher.encrypt_optional(row["reference"], REFERENCE_FIELD)}
        return cast(PaymentCreateWithoutRelationsInput, sealed)


_SINGULAR = {"garages": "garage", "spots": "spot", "vehicles": "vehicle", "sessions": "session",
             "tickets": "ticket of session", "payments": "payment"}
_ENTITIES = {"garages": "Garage", "spots": "Spot", "vehicles": "Vehicle", "sessions": "ParkingSession",
             "tickets": "Ticket", "payments": "Payment"}


def _generated_status(session: LegacySession) -> Literal["OPEN", "PAID", "LOST"]:
    if session.status == "ACTIVE":
        return "OPEN"
    return "LOST" if session.lostTicket else "PAID"
