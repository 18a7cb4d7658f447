"""Legacy import: a MemoryStore snapshot into the database (`garage import-memory-store`).

The snapshot is `{"garages", "spots", "vehicles", "sessions", "payments"[, "tickets"]}`, records
shaped like the API resources with their legacy ids, which become the new rows' ids.

How it works, and why:
- Streaming: the file is parsed record by record (ijson, C backend) and each record is checked and
  kept as a compact slotted object as soon as its closing brace is read; the JSON text and the parsed
  dicts are never held whole, and the sha256 is computed on the bytes as they are read (the file is
  read once). Rows for the database are built per write chunk, not for the whole snapshot, and the
  existence checks against the database go chunk by chunk too. What stays in memory is the checked
  records (about 0.8 kB each, the ids and indexes of the cross-record checks included). The
  100k-record bench snapshot (17.6 MB) peaks at 163 MiB of RSS for the whole `garage` process (~80
  MiB of it before the file is opened), 165 MiB on the second run; reading it whole took 390 MiB,
  and 490 MiB on the second run (bench/import_bench.py prints the figure; docs/operations.md).
- Strict types: values are taken as the JSON text types them, never coerced. Times are ISO 8601
  strings with an offset (`2024-03-01T08:00:00Z`); not a number (epoch) nor a time without offset.
  Integers (`capacity`, `level`, `feeCents`) are JSON integers: not `"10"`, not `0.0`, not `true`.
  `lostTicket` is a JSON boolean. `amount` is a JSON number, not a string.
- Everything is checked before anything is written: each record against its type, then the
  references and uniqueness rules across the snapshot, then against what the database already
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
  up to whole cents. Check-out stores the fee as the payment's amount, so a COMPLETED session whose
  `feeCents` differs from its payment's amount in cents is refused (one of the two is wrong, and
  the reports would disagree with the sessions).
- Refunds: a REFUNDED payment gets `refundedAt` from the record when it carries one; otherwise its
  `updatedAt` (as for a refund through the API, which sets both to the refund's time), otherwise its
  creation time (its `createdAt`, else its session's end). A COMPLETED payment with a `refundedAt`,
  or a refund before the payment, is refused.
- Writing: ONE interactive transaction, createMany in chunks, in foreign-key order. The audit log
  gets one IMPORT row per kind (entity named as the API's own audit rows name it: `Session` for
  sessions), with counts, skipped counts and the snapshot's sha256, not one per record:
  per-record rows would add ~100k rows to the ~135k a 100k-record snapshot writes (and about as
  much time again: the cost is per row) while adding nothing the archived snapshot file, named by
  its hash, does not already hold.
"""

from __future__ import annotations

import asyncio
import hashlib
import zoneinfo
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any, BinaryIO, TypedDict, TypeVar, cast

import ijson  # type: ignore[import-untyped]
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
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
)
from pydantic.dataclasses import dataclass as record_type

from garage.errors import OperationalFailure
from garage.repositories.audit import AuditRepository
from garage.repositories.garages import GarageRepository
from garage.repositories.payments import PaymentRepository
from garage.repositories.rows import at_db_precision, now_ms
from garage.repositories.rates import RateRepository
from garage.repositories.sessions import SessionRepository
from garage.repositories.spots import SpotRepository
from garage.repositories.tickets import TicketRepository
from garage.repositories.vehicles import VehicleRepository
from garage.security.crypto import FieldCipher
from garage.services.plates import InvalidPlate, normalise_plate
from garage.services.spot_numbers import spot_sort_key
from garage.services.tickets import ALPHABET, new_ticket_code
from garage.vocabulary import (
    DEFAULT_RATE, PAYMENT_REFERENCE, VEHICLE_OWNER_FIELDS, PaymentMethod, PaymentStatus, SessionStatus, SpotStatus,
    SpotType, TicketStatus, VehicleType,
)

KINDS = ("garages", "spots", "vehicles", "sessions", "tickets", "payments")
REQUIRED_SECTIONS = ("garages", "spots", "vehicles", "sessions", "payments")
# Rows per createMany: large enough that per-call overhead vanishes, small enough for the engine's
# request limit (a 5000-row chunk is about 2 MB of query text).
CHUNK = 2000
# createMany calls of one kind in flight at once (see LegacyImportService._write).
IN_FLIGHT = 3
# Ids per `in` lookup of existing rows; also how many existing rows are held at once.
LOOKUP_CHUNK = 2000
# Bytes per read of the snapshot file.
READ_SIZE = 64 * 1024
# One transaction holds the whole import: 100k records take seconds, a slow disk may take minutes.
TX_TIMEOUT = timedelta(minutes=15)
TX_MAX_WAIT = timedelta(seconds=30)
# Fields not compared when deciding whether an existing row is "the same": set by the database.
NOT_COMPARED = frozenset({"updatedAt"})

T = TypeVar("T")
R = TypeVar("R")


# --- the snapshot's records ------------------------------------------------------------------


def _json_type(value: object) -> str:
    """How the JSON text typed `value` (as ijson hands it over), for messages."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, Decimal, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "null" if value is None else "a list" if isinstance(value, list) else "an object"


def _iso_instant(value: object) -> datetime:
    """An ISO 8601 date-time string with an offset, and nothing else: pydantic on its own would
    also take an epoch number (or a string of digits) as a time."""
    if not isinstance(value, str):
        raise ValueError(f"must be an ISO 8601 date-time string with an offset, not {_json_type(value)}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("must be an ISO 8601 date-time with an offset, e.g. 2024-03-01T08:00:00Z") from None
    if moment.tzinfo is None:
        raise ValueError("must have an offset (Z or +01:00)")
    return moment


def _json_number(value: object) -> object:
    """A JSON number (ijson: int, or Decimal for a fraction or an exponent), not a string of one."""
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise ValueError(f"must be a JSON number, not {_json_type(value)}")
    return value


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


Id = Annotated[StrictStr, Field(min_length=1, max_length=100), AfterValidator(_no_nul)]
Text = Annotated[StrictStr, Field(min_length=1, max_length=100), AfterValidator(_no_nul)]
LongText = Annotated[StrictStr, Field(min_length=1, max_length=200), AfterValidator(_no_nul)]
Instant = Annotated[AwareDatetime, BeforeValidator(_iso_instant), AfterValidator(at_db_precision)]
Plate = Annotated[StrictStr, Field(max_length=100), AfterValidator(_plate)]
TicketCode = Annotated[StrictStr, Field(max_length=100), AfterValidator(_ticket_code)]
Currency = Annotated[StrictStr, Field(pattern=r"^[A-Z]{3}$")]
Amount = Annotated[Decimal, BeforeValidator(_json_number), Field(ge=0, le=10_000_000, allow_inf_nan=False)]

# Slotted dataclasses, not BaseModels: 100k of them are held at once, and a model's __dict__ and
# fields-set come to about 1.4 kB a record, a slotted one to about 300 B. A field the import does
# not know would be dropped silently: it is refused instead.
_RECORD = ConfigDict(extra="forbid")


@record_type(frozen=True, slots=True, kw_only=True, config=_RECORD)
class LegacyGarage:
    id: Id
    name: LongText
    address: LongText
    timezone: Text = "UTC"
    currency: Currency = "USD"
    capacity: StrictInt = Field(ge=1, le=100_000)
    createdAt: Instant | None = None
    updatedAt: Instant | None = None
    deletedAt: Instant | None = None


@record_type(frozen=True, slots=True, kw_only=True, config=_RECORD)
class LegacySpot:
    id: Id
    garageId: Id
    level: StrictInt = Field(ge=-20, le=200)
    number: Text
    type: SpotType
    status: SpotStatus = SpotStatus.AVAILABLE
    createdAt: Instant | None = None
    updatedAt: Instant | None = None
    deletedAt: Instant | None = None


@record_type(frozen=True, slots=True, kw_only=True, config=_RECORD)
class LegacyVehicle:
    id: Id
    licensePlate: Plate
    type: VehicleType
    ownerName: Text | None = None
    ownerEmail: Text | None = None
    ownerPhone: Text | None = None
    createdAt: Instant | None = None
    updatedAt: Instant | None = None
    deletedAt: Instant | None = None


@record_type(frozen=True, slots=True, kw_only=True, config=_RECORD)
class LegacySession:
    id: Id
    garageId: Id
    spotId: Id
    vehicleId: Id
    licensePlate: Plate | None = None
    ticketCode: TicketCode | None = None
    lostTicket: StrictBool = False
    status: SessionStatus
    startTime: Instant
    endTime: Instant | None = None
    feeCents: StrictInt | None = Field(None, ge=0, le=1_000_000_000)
    createdAt: Instant | None = None
    updatedAt: Instant | None = None


@record_type(frozen=True, slots=True, kw_only=True, config=_RECORD)
class LegacyTicket:
    code: TicketCode
    sessionId: Id
    issuedAt: Instant | None = None
    status: TicketStatus


@record_type(frozen=True, slots=True, kw_only=True, config=_RECORD)
class LegacyPayment:
    id: Id
    sessionId: Id
    garageId: Id | None = None
    amount: Amount
    currency: Currency | None = None
    method: PaymentMethod
    status: PaymentStatus = PaymentStatus.COMPLETED
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


class ImportRefused(OperationalFailure):
    """The snapshot cannot be imported; nothing was written. `problems` lists every offending record."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = sorted(set(problems), key=lambda p: (KINDS.index(p.kind) if p.kind in KINDS else -1, p))
        records = len({(p.kind, p.legacy_id) for p in self.problems})
        super().__init__(f"{len(self.problems)} problem(s) in {records} record(s); nothing was written")


class SnapshotUnreadable(ImportRefused):
    """The file is not JSON, or not shaped as a snapshot."""


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


# --- reading the snapshot: one pass, record by record ---------------------------------------


class _HashingReader:
    """The snapshot file as the parser reads it, hashed on the way."""

    def __init__(self, source: BinaryIO) -> None:
        self._source = source
        self._sha256 = hashlib.sha256()
        self.bytes_read = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._source.read(size)
        self._sha256.update(chunk)
        self.bytes_read += len(chunk)
        return chunk

    def hexdigest(self) -> str:
        """The sha256 of the whole file: what the parser left unread (nothing, or whitespace) included."""
        while chunk := self.read(READ_SIZE):
            pass
        return self._sha256.hexdigest()


_OPENING = frozenset({"start_map", "start_array"})
_CLOSING = frozenset({"end_map", "end_array"})
Events = Iterator[tuple[str, Any]]


def _value(events: Events, event: str, value: Any) -> Any:
    """The JSON value that starts with (event, value), built from the events it spans."""
    if event not in _OPENING:
        return value
    builder = ijson.ObjectBuilder()
    builder.event(event, value)
    depth = 1
    while depth:
        event, value = next(events)
        builder.event(event, value)
        depth += (event in _OPENING) - (event in _CLOSING)
    return builder.value


def _skip(events: Events, event: str) -> None:
    depth = int(event in _OPENING)
    while depth:
        event, _ = next(events)
        depth += (event in _OPENING) - (event in _CLOSING)


def _records(events: Events, structure: list[Problem]) -> Iterator[tuple[str, int, Any]]:
    """(section, index, record) for each record of each known section, in file order; what is
    wrong with the snapshot's outline goes to `structure`."""
    first, _ = next(events)
    if first != "start_map":
        raise SnapshotUnreadable([Problem("snapshot", "-", "must be a JSON object of record lists")])
    seen: set[str] = set()
    for event, name in events:
        if event == "end_map":
            break
        event, value = next(events)
        if name not in KINDS or name in seen:
            structure.append(Problem("snapshot", "-", f"section {name!r} appears twice" if name in seen else f"unknown section {name!r}"))
            _skip(events, event)
            continue
        seen.add(name)
        if event != "start_array":
            structure.append(Problem("snapshot", "-", f"section {name!r} must be a list of records"))
            _skip(events, event)
            continue
        for index, (event, value) in enumerate(events):
            if event == "end_array":
                break
            yield name, index, _value(events, event, value)
    structure += [Problem("snapshot", "-", f"missing section {name!r}") for name in REQUIRED_SECTIONS if name not in seen]


def _parse_error(error: Exception, position: int) -> SnapshotUnreadable:
    text = error.args[0] if error.args else str(error)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    first_line = str(text).strip().splitlines()[0] if str(text).strip() else type(error).__name__
    return SnapshotUnreadable([Problem("snapshot", "-", f"not valid JSON (UTF-8), within the first {position} bytes: {first_line}")])


def _legacy_id(kind: str, index: int, raw: Any) -> str:
    key = "sessionId" if kind == "tickets" else "id"
    if isinstance(raw, dict) and isinstance(raw.get(key), str) and raw[key]:
        return cast(str, raw[key])
    return f"#{index}"


def _describe(error: dict[str, Any]) -> str:
    where = ".".join(str(part) for part in error["loc"]) or "record"
    if error["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
        return f"{where}: unknown field"
    given = error.get("input")
    shown = "" if error["type"] in ("missing", "missing_keyword_argument") else f" (got {_shown(given)})"
    return f"{where}: {str(error['msg']).removeprefix('Value error, ')}{shown}"


def _shown(value: Any) -> str:
    """A value as the JSON text had it (a number unquoted, a string quoted)."""
    return str(value) if isinstance(value, Decimal) else repr(value)


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


class _Collector:
    """Checks each record as it arrives and keeps the valid ones; records sharing an id are all
    refused (their own faults are then beside the point)."""

    def __init__(self) -> None:
        self.snapshot = Snapshot()
        self._repeated: dict[tuple[str, str], int] = {}
        self._invalid: dict[tuple[str, str], list[Problem]] = {}

    def add(self, kind: str, index: int, raw: Any) -> None:
        legacy_id = _legacy_id(kind, index, raw)
        present = self.snapshot.present[kind]
        if legacy_id in present:
            self._repeated[kind, legacy_id] = self._repeated.get((kind, legacy_id), 1) + 1
            return
        present.add(legacy_id)
        try:
            getattr(self.snapshot, kind)[legacy_id] = MODELS[kind].validate_python(raw)
        except ValidationError as error:
            self._invalid[kind, legacy_id] = [Problem(kind, legacy_id, _describe(cast(dict[str, Any], e))) for e in error.errors()]

    def problems(self) -> list[Problem]:
        found: list[Problem] = []
        for (kind, legacy_id), count in self._repeated.items():
            getattr(self.snapshot, kind).pop(legacy_id, None)
            self._invalid.pop((kind, legacy_id), None)
            what = "session" if kind == "tickets" else "id"
            found.append(Problem(kind, legacy_id, f"{count} records have this {what}"))
        return found + [problem for problems in self._invalid.values() for problem in problems]


def read_snapshot(source: BinaryIO) -> tuple[Snapshot, str, list[Problem]]:
    """The snapshot's valid records, its sha256, and the problems of its records, read in ONE
    streaming pass. Raises SnapshotUnreadable when it is not JSON or not shaped as a snapshot."""
    reader = _HashingReader(source)
    collector = _Collector()
    structure: list[Problem] = []
    try:
        events = iter(ijson.basic_parse(reader, buf_size=READ_SIZE, use_float=False))
        for kind, index, raw in _records(events, structure):
            collector.add(kind, index, raw)
        for _ in events:  # the end: ijson checks that nothing but whitespace follows
            pass
    except (ijson.JSONError, UnicodeDecodeError) as error:
        raise _parse_error(error, reader.bytes_read) from error
    if structure:
        raise SnapshotUnreadable(structure)
    return collector.snapshot, reader.hexdigest(), collector.problems()


# --- checking the snapshot's records against each other -------------------------------------


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
    active = [session for session in s.sessions.values() if session.status is SessionStatus.ACTIVE]
    _duplicates("sessions", ((x.id, x.spotId) for x in active), lambda spot: f"ACTIVE on spot {spot!r} as is session", problems)
    _duplicates("sessions", ((x.id, x.vehicleId) for x in active), lambda v: f"ACTIVE for vehicle {v!r} as is session", problems)

    for ticket in s.tickets.values():
        ticketed = s.sessions.get(ticket.sessionId)
        if refers("tickets", ticket.sessionId, "sessionId", "sessions", ticket.sessionId) and ticketed is not None:
            expected = (TicketStatus.OPEN,) if ticketed.status is SessionStatus.ACTIVE else (TicketStatus.PAID, TicketStatus.LOST)
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
        _check_payment(payment, paid, paid_sessions, problems)


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
    if session.status is SessionStatus.ACTIVE:
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


def _check_payment(payment: LegacyPayment, paid: LegacySession, paid_sessions: Counter[str], problems: list[Problem]) -> None:
    def problem(text: str) -> None:
        problems.append(Problem("payments", payment.id, text))

    if paid_sessions[payment.sessionId] > 1:
        problem(f"session {payment.sessionId!r} has {paid_sessions[payment.sessionId]} payments")
    if paid.status is not SessionStatus.COMPLETED:
        problem(f"pays for session {paid.id!r}, which is {paid.status}")
    elif paid.feeCents is not None and paid_sessions[payment.sessionId] == 1 and cents_of(payment.amount) != paid.feeCents:
        # listed under the session: its fee is what check-out would have charged and stored as the amount
        problems.append(Problem("sessions", paid.id, f"feeCents {paid.feeCents} differs from its payment {payment.id!r}: "
                                                     f"amount {payment.amount} is {cents_of(payment.amount)} cents"))
    if payment.garageId is not None and payment.garageId != paid.garageId:
        problem(f"garageId {payment.garageId!r} is not its session's garage")
    if payment.status is PaymentStatus.COMPLETED and payment.refundedAt is not None:
        problem("a COMPLETED payment has no refundedAt")
    created = _payment_created(payment, paid)
    if payment.refundedAt is not None and created is not None and payment.refundedAt < created:
        problem("refundedAt is before the payment was made")


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


def rate_row(garage: LegacyGarage, now: datetime) -> RateCreateWithoutRelationsInput:
    return cast(RateCreateWithoutRelationsInput, {"garageId": garage.id, **DEFAULT_RATE.as_row(), "createdAt": now, "updatedAt": now})


def spot_row(spot: LegacySpot, status: str, now: datetime) -> SpotCreateWithoutRelationsInput:
    return {
        "id": spot.id, "garageId": spot.garageId, "level": spot.level, "number": spot.number,
        "sortKey": spot_sort_key(spot.number), "type": spot.type, "status": status, "deletedAt": spot.deletedAt,
        **_times(spot, now),
    }


def vehicle_fields(vehicle: LegacyVehicle, now: datetime) -> dict[str, Any]:
    """The vehicle as stored, owner fields in clear (encrypted just before writing)."""
    return {
        "id": vehicle.id, "licensePlate": vehicle.licensePlate, "type": vehicle.type, "ownerName": vehicle.ownerName,
        "ownerEmail": vehicle.ownerEmail, "ownerPhone": vehicle.ownerPhone, "deletedAt": vehicle.deletedAt,
        **_times(vehicle, now),
    }


def session_row(session: LegacySession, vehicles: dict[str, LegacyVehicle], now: datetime) -> ParkingSessionCreateWithoutRelationsInput:
    return {
        "id": session.id, "garageId": session.garageId, "spotId": session.spotId, "vehicleId": session.vehicleId,
        "licensePlate": session.licensePlate or vehicles[session.vehicleId].licensePlate, "status": session.status,
        "startTime": session.startTime, "endTime": session.endTime, "feeCents": session.feeCents, **_times(session, now),
    }


def _payment_created(payment: LegacyPayment, session: LegacySession) -> datetime | None:
    return payment.createdAt or session.endTime


def payment_fields(payment: LegacyPayment, session: LegacySession, garage: LegacyGarage, now: datetime) -> dict[str, Any]:
    """The payment as stored, reference in clear (encrypted just before writing). A REFUNDED one's
    refundedAt: the record's, else its updatedAt, else its creation time (module docstring)."""
    created = _payment_created(payment, session) or now
    refunded = None if payment.status is not PaymentStatus.REFUNDED else payment.refundedAt or payment.updatedAt or created
    return {
        "id": payment.id, "sessionId": payment.sessionId, "garageId": session.garageId,
        "amountCents": cents_of(payment.amount), "currency": payment.currency or garage.currency,
        "method": payment.method, "status": payment.status, "reference": payment.reference, "createdAt": created,
        "updatedAt": payment.updatedAt or refunded or created, "refundedAt": refunded,
    }


@dataclass(slots=True)
class PlannedTicket:
    session_id: str
    code: str  # "" until one is drawn
    status: str
    issued_at: datetime

    def row(self) -> TicketCreateWithoutRelationsInput:
        return {"code": self.code, "sessionId": self.session_id, "issuedAt": self.issued_at, "status": self.status,
                "createdAt": self.issued_at, "updatedAt": self.issued_at}


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


async def _with_stored(
    records: Sequence[R], find: Callable[[Sequence[str]], Awaitable[list[T]]], key: Callable[[R], str],
    stored_key: Callable[[T], str] = lambda row: cast(str, getattr(row, "id")),
) -> AsyncIterator[tuple[R, T | None]]:
    """Each record with the database's row of the same key (or None), looked up a chunk at a time:
    a second run of a large snapshot finds every row, and holding them all at once would cost more
    than the snapshot itself."""
    for chunk in _chunks(records, LOOKUP_CHUNK):
        found = {stored_key(row): row for row in await find([key(record) for record in chunk])}
        for record in chunk:
            yield record, found.get(key(record))


# --- the plan: what to write, after the database checks ---------------------------------------


@dataclass
class Plan:
    """The records to write (the snapshot's own objects: rows are built per write chunk)."""

    now: datetime
    garages: list[LegacyGarage] = field(default_factory=list)
    spots: list[tuple[LegacySpot, str]] = field(default_factory=list)  # with the status to store
    vehicles: list[LegacyVehicle] = field(default_factory=list)
    sessions: list[LegacySession] = field(default_factory=list)
    tickets: list[PlannedTicket] = field(default_factory=list)
    payments: list[LegacyPayment] = field(default_factory=list)


class LegacyImportService:
    def __init__(self, db: Prisma, cipher: FieldCipher) -> None:
        self._db = db
        self._cipher = cipher

    async def run(
        self, source: BinaryIO, *, actor: str, dry_run: bool = False,
        on_planned: Callable[[ImportReport], None] | None = None, on_progress: Progress | None = None,
    ) -> ImportReport:
        """Checks the snapshot read from `source` (a binary file, streamed: never read whole) and,
        unless `dry_run`, writes it in ONE transaction. Raises ImportRefused listing every
        offending record; then nothing was written."""
        snapshot, digest, problems = read_snapshot(source)
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
                await self._write(tx, snapshot, plan, report, actor, on_progress or (lambda rows: None))
        except PrismaError as error:
            # The checks above mirror every constraint; this is a change made meanwhile by someone else.
            raise ImportRefused([Problem("snapshot", "-", f"the database refused a write, nothing was kept: {error}")]) from error
        return report

    async def _plan(self, db: Prisma, s: Snapshot, report: ImportReport) -> Plan:
        plan = Plan(now=now_ms())
        now = plan.now
        problems: list[Problem] = []

        async for garage, stored_garage in _with_stored(list(s.garages.values()), GarageRepository(db).with_ids, _id):
            if self._existing("garages", garage_row(garage, now), stored_garage, garage.createdAt, report, problems):
                plan.garages.append(garage)
        report.rates_created = len(plan.garages)

        occupied = {x.spotId for x in s.sessions.values() if x.status is SessionStatus.ACTIVE}
        spots = SpotRepository(db)
        async for spot, stored_spot in _with_stored(list(s.spots.values()), spots.with_ids, _id):
            status = (SpotStatus.OCCUPIED if spot.id in occupied
                      else SpotStatus.AVAILABLE if spot.status is SpotStatus.OCCUPIED else spot.status)
            if self._existing("spots", spot_row(spot, status, now), stored_spot, spot.createdAt, report, problems):
                plan.spots.append((spot, status))
                report.spots_normalised += spot.status is SpotStatus.OCCUPIED and status is SpotStatus.AVAILABLE
        self._check_spot_clashes(s, plan, await _lookup(list(s.garages), spots.live_in_garages), problems)

        vehicles = VehicleRepository(db)
        async for vehicle, stored_vehicle in _with_stored(list(s.vehicles.values()), vehicles.with_ids, _id):
            clear = None if stored_vehicle is None else self._with_owner_in_clear(stored_vehicle)
            if self._existing("vehicles", vehicle_fields(vehicle, now), clear, vehicle.createdAt, report, problems):
                plan.vehicles.append(vehicle)
        new_plates = {v.licensePlate: v.id for v in plan.vehicles if v.deletedAt is None}
        for taken in await _lookup(list(new_plates), vehicles.live_with_plates):
            if taken.id != new_plates[taken.licensePlate]:
                problems.append(Problem("vehicles", new_plates[taken.licensePlate],
                                        f"plate {taken.licensePlate!r} belongs to vehicle {taken.id!r} in the database"))

        await self._plan_sessions(db, s, plan, report, problems)
        await self._plan_payments(db, s, plan, report, problems)
        if problems:
            raise ImportRefused(problems)
        return plan

    async def _plan_sessions(self, db: Prisma, s: Snapshot, plan: Plan, report: ImportReport, problems: list[Problem]) -> None:
        sessions = SessionRepository(db)
        new_ids: set[str] = set()
        async for session, stored in _with_stored(list(s.sessions.values()), sessions.with_ids, _id):
            row = session_row(session, s.vehicles, plan.now)
            if self._existing("sessions", row, stored, session.createdAt, report, problems):
                plan.sessions.append(session)
                new_ids.add(session.id)
        new_active = [x for x in plan.sessions if x.status is SessionStatus.ACTIVE]
        by_spot = {x.spotId: x.id for x in new_active}
        by_vehicle = {x.vehicleId: x.id for x in new_active}
        for chunk in _chunks(new_active, LOOKUP_CHUNK // 2):
            found = await sessions.active_on(spot_ids=[x.spotId for x in chunk], vehicle_ids=[x.vehicleId for x in chunk])
            for other in found:
                for key, mine in ((other.spotId, by_spot), (other.vehicleId, by_vehicle)):
                    if key in mine and mine[key] != other.id:
                        problems.append(Problem("sessions", mine[key], f"session {other.id!r} is ACTIVE there in the database"))

        tickets = TicketRepository(db)
        async for session, stored_ticket in _with_stored(list(s.sessions.values()), tickets.for_sessions, _id, _session_id):
            wanted = self._ticket_of(s, session)
            if stored_ticket is None:
                code = wanted.code if wanted is not None else ""
                status = wanted.status if wanted is not None else _generated_status(session)
                issued = (wanted.issuedAt if wanted is not None else None) or session.startTime
                plan.tickets.append(PlannedTicket(session_id=session.id, code=code, status=status, issued_at=issued))
            elif session.id in new_ids or (wanted is not None and (wanted.code, wanted.status) != (stored_ticket.code, stored_ticket.status)):
                problems.append(Problem("tickets", session.id, f"the database already holds ticket {stored_ticket.code!r} for this session"))
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
        legacy = {ticket.code: ticket.session_id for ticket in plan.tickets if ticket.code}
        for taken in await _lookup(list(legacy), tickets.with_codes):
            problems.append(Problem("tickets", legacy[taken.code], f"code {taken.code!r} belongs to session {taken.sessionId!r} in the database"))
        missing = [ticket for ticket in plan.tickets if not ticket.code]
        report.tickets_generated = len(missing)
        used = set(legacy)
        while missing:
            for ticket in missing:
                ticket.code = new_ticket_code()
                while ticket.code in used:
                    ticket.code = new_ticket_code()
                used.add(ticket.code)
            clashes = {t.code for t in await _lookup([ticket.code for ticket in missing], tickets.with_codes)}
            missing = [ticket for ticket in missing if ticket.code in clashes]

    async def _plan_payments(self, db: Prisma, s: Snapshot, plan: Plan, report: ImportReport, problems: list[Problem]) -> None:
        payments = PaymentRepository(db)
        for chunk in _chunks(list(s.payments.values()), LOOKUP_CHUNK // 2):
            found = await payments.with_ids_or_sessions(ids=[p.id for p in chunk], session_ids=[p.sessionId for p in chunk])
            by_id = {p.id: p for p in found}
            by_session = {p.sessionId: p for p in found}
            for payment in chunk:
                session = s.sessions[payment.sessionId]
                fields = payment_fields(payment, session, s.garages[session.garageId], plan.now)
                stored = by_id.get(payment.id)
                clear = None if stored is None else stored.model_copy(
                    update={"reference": self._cipher.decrypt_optional(stored.reference, PAYMENT_REFERENCE)}
                )
                if self._existing("payments", fields, clear, True, report, problems):
                    other = by_session.get(payment.sessionId)
                    if other is not None:
                        problems.append(Problem("payments", payment.id, f"payment {other.id!r} already pays for its session in the database"))
                    plan.payments.append(payment)

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
            update={attr: self._cipher.decrypt_optional(getattr(stored, attr), name) for attr, name in VEHICLE_OWNER_FIELDS.items()}
        )

    @staticmethod
    def _check_spot_clashes(s: Snapshot, plan: Plan, live_in_db: Sequence[Any], problems: list[Problem]) -> None:
        """A new live spot's (garage, level, number) must be free; a garage's live spots fit its capacity."""
        holder = {(x.garageId, x.level, x.number): x.id for x in live_in_db}
        live_count = Counter(x.garageId for x in live_in_db)
        for spot, _ in plan.spots:
            if spot.deletedAt is not None:
                continue
            live_count[spot.garageId] += 1
            other = holder.get((spot.garageId, spot.level, spot.number))
            if other is not None and other != spot.id:
                problems.append(Problem("spots", spot.id, f"level {spot.level} number {spot.number!r} is spot {other!r} in the database"))
        for garage_id, count in live_count.items():
            garage = s.garages[garage_id]
            if count > garage.capacity:
                problems.append(Problem("garages", garage_id, f"{count} live spots with the database's exceed its capacity {garage.capacity}"))

    async def _write(self, tx: Prisma, s: Snapshot, plan: Plan, report: ImportReport, actor: str, progress: Progress) -> None:
        now = plan.now

        async def insert(records: Sequence[R], row_of: Callable[[R], T], into: Callable[[Sequence[T]], Awaitable[int]]) -> None:
            # A few chunks of one kind in flight at once: the client builds the next query (Python,
            # about half of the time) while the engine runs the previous one. Kinds stay in
            # foreign-key order; the transaction serialises the statements themselves. Rows are
            # built inside the slot, so at most IN_FLIGHT chunks of rows exist at a time.
            in_flight = asyncio.Semaphore(IN_FLIGHT)

            async def one(chunk: Sequence[R]) -> None:
                async with in_flight:
                    await into([_without_nulls(row_of(record)) for record in chunk])
                progress(len(chunk))

            async with asyncio.TaskGroup() as group:
                for chunk in _chunks(records, CHUNK):
                    group.create_task(one(chunk))

        await insert(plan.garages, lambda garage: garage_row(garage, now), GarageRepository(tx).insert_many)
        await insert(plan.garages, lambda garage: rate_row(garage, now), RateRepository(tx).insert_many)
        await insert(plan.spots, lambda planned: spot_row(planned[0], planned[1], now), SpotRepository(tx).insert_many)
        await insert(plan.vehicles, lambda vehicle: self._sealed_vehicle(vehicle_fields(vehicle, now)), VehicleRepository(tx).insert_many)
        await insert(plan.sessions, lambda session: session_row(session, s.vehicles, now), SessionRepository(tx).insert_many)
        await insert(plan.tickets, PlannedTicket.row, TicketRepository(tx).insert_many)
        await insert(plan.payments, lambda payment: self._sealed_payment(self._payment_row(s, payment, now)), PaymentRepository(tx).insert_many)
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

    @staticmethod
    def _payment_row(s: Snapshot, payment: LegacyPayment, now: datetime) -> dict[str, Any]:
        session = s.sessions[payment.sessionId]
        return payment_fields(payment, session, s.garages[session.garageId], now)

    def _sealed_vehicle(self, row: dict[str, Any]) -> VehicleCreateWithoutRelationsInput:
        sealed = {**row, **{attr: self._cipher.encrypt_optional(row[attr], name) for attr, name in VEHICLE_OWNER_FIELDS.items()}}
        return cast(VehicleCreateWithoutRelationsInput, sealed)

    def _sealed_payment(self, row: dict[str, Any]) -> PaymentCreateWithoutRelationsInput:
        sealed = {**row, "reference": self._cipher.encrypt_optional(row["reference"], PAYMENT_REFERENCE)}
        return cast(PaymentCreateWithoutRelationsInput, sealed)


_SINGULAR = {"garages": "garage", "spots": "spot", "vehicles": "vehicle", "sessions": "session",
             "tickets": "ticket of session", "payments": "payment"}
# As the API's own audit rows name them (services/parking.py: "Session", not the Prisma model's name).
_ENTITIES = {"garages": "Garage", "spots": "Spot", "vehicles": "Vehicle", "sessions": "Session",
             "tickets": "Ticket", "payments": "Payment"}


def _id(record: Any) -> str:
    return cast(str, record.id)


def _session_id(row: Any) -> str:
    return cast(str, row.sessionId)


def _generated_status(session: LegacySession) -> TicketStatus:
    if session.status is SessionStatus.ACTIVE:
        return TicketStatus.OPEN
    return TicketStatus.LOST if session.lostTicket else TicketStatus.PAID
