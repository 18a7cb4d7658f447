"""The snapshot's records and the one streaming pass that reads them (see the package docstring).

Each record is checked against its type as soon as its closing brace is read (strict types: values
as the JSON text types them, never coerced) and kept as a compact slotted object; the sha256 is
computed on the bytes as they are read."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any, BinaryIO, cast

import ijson  # type: ignore[import-untyped]
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

from garage.repositories.rows import at_db_precision
from garage.services.legacy_import.problems import KINDS, Problem, SnapshotUnreadable
from garage.services.plates import InvalidPlate, normalise_plate
from garage.services.tickets import ALPHABET
from garage.vocabulary import (
    PaymentMethod,
    PaymentStatus,
    SessionStatus,
    SpotStatus,
    SpotType,
    TicketStatus,
    VehicleType,
)

REQUIRED_SECTIONS = ("garages", "spots", "vehicles", "sessions", "payments")
# Bytes per read of the snapshot file.
READ_SIZE = 64 * 1024
# Records between two calls of read_snapshot's on_read: often enough for a bar, rare enough to cost nothing.
READ_REPORT_EVERY = 1000

# (records read so far, bytes read so far): the total of records is unknown while streaming.
ReadProgress = Callable[[int, int], None]

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


def _before_voids(value: SessionStatus | TicketStatus) -> SessionStatus | TicketStatus:
    """The in-memory store knew no voids (API-operations.md added them): VOIDED and VOID are not its words."""
    if value in (SessionStatus.VOIDED, TicketStatus.VOID):
        raise ValueError(f"{value} did not exist in the in-memory store")
    return value


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
    status: Annotated[SessionStatus, AfterValidator(_before_voids)]
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
    status: Annotated[TicketStatus, AfterValidator(_before_voids)]


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


def payment_created(payment: LegacyPayment, session: LegacySession) -> datetime | None:
    """When the payment was made: its createdAt, else its session's end."""
    return payment.createdAt or session.endTime


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
        while self.read(READ_SIZE):
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
            structure.append(
                Problem(
                    "snapshot", "-", f"section {name!r} appears twice" if name in seen else f"unknown section {name!r}"
                )
            )
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
    structure += [
        Problem("snapshot", "-", f"missing section {name!r}") for name in REQUIRED_SECTIONS if name not in seen
    ]


def _parse_error(error: Exception, position: int) -> SnapshotUnreadable:
    text = error.args[0] if error.args else str(error)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    first_line = str(text).strip().splitlines()[0] if str(text).strip() else type(error).__name__
    return SnapshotUnreadable(
        [Problem("snapshot", "-", f"not valid JSON (UTF-8), within the first {position} bytes: {first_line}")]
    )


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
            self._invalid[kind, legacy_id] = [
                Problem(kind, legacy_id, _describe(cast(dict[str, Any], e))) for e in error.errors()
            ]

    def problems(self) -> list[Problem]:
        found: list[Problem] = []
        for (kind, legacy_id), count in self._repeated.items():
            getattr(self.snapshot, kind).pop(legacy_id, None)
            self._invalid.pop((kind, legacy_id), None)
            what = "session" if kind == "tickets" else "id"
            found.append(Problem(kind, legacy_id, f"{count} records have this {what}"))
        return found + [problem for problems in self._invalid.values() for problem in problems]


def read_snapshot(source: BinaryIO, on_read: ReadProgress | None = None) -> tuple[Snapshot, str, list[Problem]]:
    """The snapshot's valid records, its sha256, and the problems of its records, read in ONE
    streaming pass. Raises SnapshotUnreadable when it is not JSON or not shaped as a snapshot.
    `on_read` hears (records, bytes) read so far every READ_REPORT_EVERY records, and at the end
    when that is news."""
    reader = _HashingReader(source)
    collector = _Collector()
    structure: list[Problem] = []
    read = 0
    reported = (0, 0)
    try:
        events = iter(ijson.basic_parse(reader, buf_size=READ_SIZE, use_float=False))
        for kind, index, raw in _records(events, structure):
            collector.add(kind, index, raw)
            read += 1
            if on_read is not None and read % READ_REPORT_EVERY == 0:
                reported = (read, reader.bytes_read)
                on_read(*reported)
        for _ in events:  # the end: ijson checks that nothing but whitespace follows
            pass
    except (ijson.JSONError, UnicodeDecodeError) as error:
        raise _parse_error(error, reader.bytes_read) from error
    if structure:
        raise SnapshotUnreadable(structure)
    digest = reader.hexdigest()
    if on_read is not None and (read, reader.bytes_read) != reported:
        on_read(read, reader.bytes_read)
    return collector.snapshot, digest, collector.problems()
