"""Benchmark data: a migrated SQLite file holding N parking sessions, written through the
repositories' bulk inserts (GarageRepository / RateRepository / SpotRepository /
VehicleRepository / SessionRepository / TicketRepository / PaymentRepository `.insert_many`, i.e.
Prisma createMany through the real engine), in chunks of CHUNK sessions. Used by
bench/scaling_bench.py (hot queries as the database grows) and bench/bulk_bench.py (archival).
The load is a job of one unit of work (`Database.batch`, actor "bench"): each chunk commits on its
own as before, and the unit writes the load's ONE audit entry (IMPORT Session "bench-fixture",
after = the row counts) when the load is done.

Shape (deterministic: every chunk of sessions draws from its own random.Random(f"{seed}-{chunk}"),
ids and ticket codes are unique by construction):
- `garages` garages (default 10) of `spots_per_garage` spots (default 200, on 4 levels, every
  type, ~1% MAINTENANCE), each with the default rate;
- vehicles: one per 5 sessions (repeat customers), every 3rd with encrypted owner fields;
- history at a constant pace, `sessions_per_day` across the fleet (default 4000: two turnovers a
  day of 2000 spots), ending just before "now": a bigger database is a LONGER history of the same
  garages (10k sessions ~ 2.5 days, 100k ~ 25 days, 1M ~ 8 months), as a real one grows;
- ACTIVE sessions on `occupied_share` of the spots (default 40%: 800 of 2000; at most a tenth of
  all sessions), on distinct spots and vehicles, those spots OCCUPIED;
- every session has a ticket (PAID, 1% LOST; OPEN when ACTIVE); every COMPLETED session one
  payment (fee from services/pricing.py, every 4th with an encrypted reference, 0.5% REFUNDED).
`completed_before`: when given, every session is COMPLETED and ends before that time (archival).

Cost: the engine's createMany (Prisma's JSON protocol since `garage.db.insert_rows`) is the
bottleneck, ~85% of it outside SQLite; the client keeps up to 3 chunks in flight. Measured on the
2-core VM (load ~2): 100k sessions (~320k rows) in ~41 s, so 1M in roughly 7 minutes. Two
writer processes were tried and gave nothing (one SQLite writer), so there is one.

    .venv/bin/python bench/_sessions_fixture.py 100000 /tmp/sessions-100k.db     (prints build time)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import sqlite3
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from prisma import Prisma  # noqa: E402

from garage.config import load_settings  # noqa: E402
from garage.config.development_secrets import copy_development_secrets  # noqa: E402
from garage.db import create_prisma  # noqa: E402
from garage.repositories.unit_of_work import Database, UnitOfWork  # noqa: E402
from garage.security.crypto import FieldCipher  # noqa: E402
from garage.services import pricing  # noqa: E402
from garage.services.spot_numbers import spot_sort_key  # noqa: E402
from garage.services.tickets import ALPHABET, CODE_LENGTH  # noqa: E402
from garage.vocabulary import DEFAULT_RATE, AuditAction, AuditEntity, RateTerms  # noqa: E402
from tests.database import apply_migrations  # noqa: E402

# Bump when the shape changes: cached files of another version are rebuilt.
FIXTURE_VERSION = 2
ACTOR = "bench"
CHUNK = 5000
LEVELS = 4
SPOT_TYPES = ["COMPACT"] * 3 + ["STANDARD"] * 5 + ["LARGE", "EV", "MOTORCYCLE", "HANDICAP"]
VEHICLE_TYPES = ["CAR"] * 6 + ["EV", "MOTORCYCLE", "VAN", "TRUCK"]
METHODS = ["CASH", "CARD", "CARD", "MOBILE", "VALIDATION"]
SAMPLES_PER_CHUNK = 5
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_MASK50, _MASK64 = (1 << 50) - 1, (1 << 64) - 1
RATE_TERMS = RateTerms(
    hourly_rate_cents=DEFAULT_RATE.hourly_rate_cents,
    increment_minutes=DEFAULT_RATE.increment_minutes,
    grace_minutes=DEFAULT_RATE.grace_minutes,
    daily_max_cents=DEFAULT_RATE.daily_max_cents,
    lost_ticket_fee_cents=DEFAULT_RATE.lost_ticket_fee_cents,
)


@dataclass(frozen=True)
class Shape:
    sessions: int
    garages: int = 10
    spots_per_garage: int = 200
    sessions_per_day: int = 4000
    occupied_share: float = 0.4
    completed_before: datetime | None = None
    seed: int = 11

    @property
    def key(self) -> str:
        """Names a cached file: equal keys, interchangeable files."""
        cutoff = "" if self.completed_before is None else f"-before{self.completed_before:%Y%m%d}"
        return (
            f"v{FIXTURE_VERSION}-s{self.sessions}-g{self.garages}x{self.spots_per_garage}"
            f"-d{self.sessions_per_day}-o{self.occupied_share:g}{cutoff}-r{self.seed}"
        )


@dataclass
class Fixture:
    """What a benchmark needs to know about a built file (kept beside it as <file>.json)."""

    path: Path
    shape: dict[str, Any]
    built_at: str
    history_start: str
    build_seconds: float
    rows: dict[str, int]
    garage_ids: list[str]
    # sample values for lookups, taken from the data as written
    plates: list[str] = field(default_factory=list)
    session_ids: list[str] = field(default_factory=list)
    ticket_codes: list[str] = field(default_factory=list)
    active_vehicle_ids: list[str] = field(default_factory=list)
    # cars without an ACTIVE session (check-in candidates; most have history)
    idle_plates: list[str] = field(default_factory=list)

    @property
    def sessions(self) -> int:
        return int(self.shape["sessions"])

    def save(self) -> None:
        data = asdict(self)
        data["path"] = str(self.path)
        self.path.with_suffix(".json").write_text(json.dumps(data, indent=1))

    @classmethod
    def load(cls, path: Path) -> Fixture | None:
        meta = path.with_suffix(".json")
        if not path.is_file() or not meta.is_file():
            return None
        try:
            data = json.loads(meta.read_text())
            data["path"] = path
            return cls(**data)
        except (ValueError, TypeError):  # unreadable or of an older layout: built again
            return None


def _base36(value: int) -> str:
    text = ""
    while value:
        value, digit = divmod(value, 36)
        text = _BASE36[digit] + text
    return text or "0"


def _mix(value: int, mask: int) -> int:
    """An invertible scramble of `value` within `mask`'s bits: distinct in, distinct out."""
    value = (value * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) & mask
    value ^= value >> 29
    value = (value * 0xBF58476D1CE4E5B9) & mask
    return value ^ (value >> 32)


def cuid(at: datetime, entropy: int) -> str:
    """A cuid-shaped id ("c", 8 base-36 time characters, 16 hex ones) whose order follows `at`,
    like Prisma's cuid(). Unique when `entropy` is (or random 64 bits)."""
    return f"c{_base36(int(at.timestamp() * 1000)).rjust(8, '0')}{entropy & _MASK64:016x}"


def plate_of(vehicle: int) -> str:
    """Normalised, unique per vehicle index: "BN" + 6 base-36 characters (upper case)."""
    return "BN" + _base36(vehicle).rjust(6, "0").upper()


def ticket_code_of(session: int) -> str:
    """A random-looking ticket code, unique per session index (10 symbols of 32 = 50 bits)."""
    value = _mix(session, _MASK50)
    return "".join(ALPHABET[(value >> (5 * i)) & 31] for i in range(CODE_LENGTH))


def _ms(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@dataclass(frozen=True)
class Plan:
    """Everything every process derives identically from the shape and the build's `now`."""

    shape: Shape
    now: datetime

    @cached_property
    def end_of_history(self) -> datetime:
        limit = self.now if self.shape.completed_before is None else min(self.now, self.shape.completed_before)
        return _ms(limit - timedelta(minutes=1))

    @cached_property
    def active(self) -> int:
        if self.shape.completed_before is not None:
            return 0
        return min(
            int(self.shape.garages * self.shape.spots_per_garage * self.shape.occupied_share), self.shape.sessions // 10
        )

    @property
    def completed(self) -> int:
        return self.shape.sessions - self.active

    @cached_property
    def span(self) -> timedelta:
        return timedelta(days=self.completed / self.shape.sessions_per_day)

    @cached_property
    def history_start(self) -> datetime:
        return self.end_of_history - self.span - timedelta(hours=10)

    @property
    def vehicle_count(self) -> int:
        return max(self.active + 100, self.shape.sessions // 5)

    @cached_property
    def garages(self) -> list[dict[str, Any]]:
        rows = []
        for g in range(self.shape.garages):
            created = _ms(self.history_start - timedelta(days=30, minutes=g))
            rows.append(
                {
                    "id": cuid(created, _mix(g, _MASK64)),
                    "name": f"Bench garage {g}",
                    "address": f"{g} Bench Street",
                    "timezone": "Europe/Berlin",
                    "currency": "EUR",
                    "capacity": self.shape.spots_per_garage + 100,
                    "createdAt": created,
                    "updatedAt": created,
                }
            )
        return rows

    @cached_property
    def spots(self) -> list[dict[str, Any]]:
        rng = random.Random(f"{self.shape.seed}-spots")
        rows: list[dict[str, Any]] = []
        per_level = -(-self.shape.spots_per_garage // LEVELS)
        created = _ms(self.history_start - timedelta(days=29))
        for g, garage in enumerate(self.garages):
            for s in range(self.shape.spots_per_garage):
                level, position = divmod(s, per_level)
                number = f"{position + 1}{'A' if position % 10 == 9 else ''}"
                rows.append(
                    {
                        "id": cuid(created, rng.getrandbits(64)),
                        "garageId": garage["id"],
                        "level": level,
                        "number": number,
                        "sortKey": spot_sort_key(number),
                        "type": SPOT_TYPES[(s + g) % len(SPOT_TYPES)],
                        "status": "MAINTENANCE" if s % 97 == 96 else "AVAILABLE",
                        "createdAt": created,
                        "updatedAt": created,
                    }
                )
        free = [spot for spot in rows if spot["status"] == "AVAILABLE"]
        rng.shuffle(free)
        for spot in free[: self.active]:
            spot["status"] = "OCCUPIED"
        return rows

    @cached_property
    def occupied(self) -> list[dict[str, Any]]:
        return [spot for spot in self.spots if spot["status"] == "OCCUPIED"]

    @cached_property
    def vehicle_created(self) -> datetime:
        return _ms(self.history_start - timedelta(days=20))

    def vehicle_id(self, vehicle: int) -> str:
        return cuid(self.vehicle_created, _mix(vehicle, _MASK64))

    def vehicles(self, first: int, last: int, cipher: FieldCipher) -> list[Any]:
        rows = []
        for v in range(first, last):
            owner = (
                {
                    "ownerName": cipher.encrypt(f"Owner {v}", "Vehicle.ownerName"),
                    "ownerEmail": cipher.encrypt(f"owner{v}@example.com", "Vehicle.ownerEmail"),
                    "ownerPhone": cipher.encrypt(f"+49 30 {v:07d}", "Vehicle.ownerPhone"),
                }
                if v % 3 == 0
                else {}
            )
            rows.append(
                {
                    "id": self.vehicle_id(v),
                    "licensePlate": plate_of(v),
                    "type": VEHICLE_TYPES[v % len(VEHICLE_TYPES)],
                    "createdAt": self.vehicle_created,
                    "updatedAt": self.vehicle_created,
                    **owner,
                }
            )
        return rows

    def session_chunk(
        self, chunk: int, cipher: FieldCipher
    ) -> tuple[list[Any], list[Any], list[Any], list[tuple[str, str]]]:
        """Sessions CHUNK*chunk.. with their tickets and payments, and a few (id, ticket code) samples."""
        rng = random.Random(f"{self.shape.seed}-{chunk}")
        garage_spots = [
            self.spots[g * self.shape.spots_per_garage : (g + 1) * self.shape.spots_per_garage]
            for g in range(self.shape.garages)
        ]
        step = self.span / max(1, self.completed)
        sessions: list[Any] = []
        tickets: list[Any] = []
        payments: list[Any] = []
        first, last = chunk * CHUNK, min((chunk + 1) * CHUNK, self.shape.sessions)
        for index in range(first, last):
            if index >= self.completed:  # the ACTIVE ones come last: vehicle i parks on occupied spot i
                slot = index - self.completed
                spot, vehicle = self.occupied[slot], slot
                start = _ms(self.end_of_history - timedelta(minutes=rng.randrange(1, 60 * 10)))
            else:
                spot = rng.choice(garage_spots[rng.randrange(self.shape.garages)])
                vehicle = rng.randrange(self.vehicle_count)
                start = _ms(self.history_start + step * index + timedelta(seconds=rng.randrange(0, 600)))
            session_id = cuid(start, rng.getrandbits(64))
            session: dict[str, Any] = {
                "id": session_id,
                "garageId": spot["garageId"],
                "spotId": spot["id"],
                "vehicleId": self.vehicle_id(vehicle),
                "licensePlate": plate_of(vehicle),
                "vehicleType": VEHICLE_TYPES[vehicle % len(VEHICLE_TYPES)],
                "startTime": start,
                "createdAt": start,
            }
            if index >= self.completed:
                session.update(status="ACTIVE", updatedAt=start)
                ticket_status = "OPEN"
            else:
                # mostly short stays, some all day, a few overnight
                minutes = rng.choice((rng.randrange(5, 180), rng.randrange(60, 600), rng.randrange(300, 1800)))
                end = min(start + timedelta(minutes=minutes), self.end_of_history)
                lost = index % 100 == 0
                fee = pricing.fee_between(start, end, RATE_TERMS, lost_ticket=lost).fee_cents
                session.update(status="COMPLETED", endTime=end, feeCents=fee, updatedAt=end)
                ticket_status = "LOST" if lost else "PAID"
                refunded = index % 200 == 7
                payment: dict[str, Any] = {
                    "id": cuid(end, rng.getrandbits(64)),
                    "sessionId": session_id,
                    "garageId": spot["garageId"],
                    "amountCents": fee,
                    "currency": "EUR",
                    "method": METHODS[index % len(METHODS)],
                    "status": "REFUNDED" if refunded else "COMPLETED",
                    "createdAt": end,
                    "updatedAt": end + timedelta(hours=1) if refunded else end,
                }
                if refunded:
                    payment["refundedAt"] = end + timedelta(hours=1)
                if index % 4 == 0:
                    payment["reference"] = cipher.encrypt(f"ref-{index}", "Payment.reference")
                payments.append(payment)
            tickets.append(
                {
                    "id": cuid(start, rng.getrandbits(64)),
                    "code": ticket_code_of(index),
                    "sessionId": session_id,
                    "issuedAt": start,
                    "status": ticket_status,
                    "createdAt": start,
                    "updatedAt": session["updatedAt"],
                }
            )
            sessions.append(session)
        picks = rng.sample(range(len(sessions)), min(SAMPLES_PER_CHUNK, len(sessions)))
        return sessions, tickets, payments, [(sessions[i]["id"], tickets[i]["code"]) for i in picks]

    @property
    def session_chunks(self) -> int:
        return -(-self.shape.sessions // CHUNK)

    @property
    def vehicle_chunks(self) -> int:
        return -(-self.vehicle_count // CHUNK)


@dataclass
class Written:
    rows: dict[str, int] = field(default_factory=dict)
    samples: list[tuple[str, str]] = field(default_factory=list)

    def add(self, other: Written) -> None:
        for kind, count in other.rows.items():
            self.rows[kind] = self.rows.get(kind, 0) + count
        self.samples.extend(other.samples)


async def _pipelined(jobs: Sequence[Callable[[], Coroutine[Any, Any, None]]], in_flight: int = 3) -> None:
    """Runs the jobs with up to `in_flight` at once: while the engine writes one chunk, the client
    builds the next request."""
    pending: set[asyncio.Task[None]] = set()
    for job in jobs:
        if len(pending) >= in_flight:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        pending.add(asyncio.create_task(job()))
    for task in pending:
        await task


async def _write_chunks(
    unit: UnitOfWork, plan: Plan, cipher: FieldCipher, phase: str, chunks: Sequence[int]
) -> Written:
    written = Written(rows={"vehicles": 0} if phase == "vehicles" else {"sessions": 0, "tickets": 0, "payments": 0})

    def count(kind: str, rows: int) -> None:  # never `x += await ...`: tasks interleave at the await
        written.rows[kind] += rows

    async def vehicles(chunk: int) -> None:
        rows = plan.vehicles(chunk * CHUNK, min((chunk + 1) * CHUNK, plan.vehicle_count), cipher)
        count("vehicles", await unit.vehicles.insert_many(rows))

    async def sessions(chunk: int) -> None:
        session_rows, ticket_rows, payment_rows, samples = plan.session_chunk(chunk, cipher)
        # foreign keys: tickets and payments after their sessions
        count("sessions", await unit.sessions.insert_many(session_rows))
        count("tickets", await unit.tickets.insert_many(ticket_rows))
        if payment_rows:
            count("payments", await unit.payments.insert_many(payment_rows))
        written.samples.extend(samples)

    job = vehicles if phase == "vehicles" else sessions
    await _pipelined([lambda chunk=chunk: job(chunk) for chunk in chunks])  # type: ignore[misc]
    return written


async def _connected(path: Path) -> tuple[Prisma, FieldCipher]:
    settings = load_settings(DATABASE_URL=f"file:{path}", GARAGE_ENV="test")
    db = create_prisma(settings)
    await db.connect()
    return db, FieldCipher(settings.encryption_keys)


async def build(path: Path, shape: Shape, *, log: Callable[[str], None] | None = None) -> Fixture:
    """A fresh migrated file at `path` (replaced if present) holding `shape`, and its metadata."""
    for stale in (path, path.with_suffix(".json"), Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        stale.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    apply_migrations(path)
    started = time.perf_counter()
    plan = Plan(shape, datetime.now(UTC))
    total = Written()
    db, cipher = await _connected(path)
    try:
        # A batch unit, not one transaction: the chunks' inserts are not queued writes, so they go
        # at once, up to 3 in flight, each committing on its own (a 1M-session load in one
        # transaction would hold the write lock for minutes); the batch is the load's audit entry.
        async with Database(db).batch(actor=ACTOR) as unit:
            total.rows["garages"] = await unit.garages.insert_many(plan.garages)  # type: ignore[arg-type]
            total.rows["rates"] = await unit.rates.insert_many(
                [{"garageId": garage["id"], **DEFAULT_RATE.as_row()} for garage in plan.garages]  # type: ignore[typeddict-item]
            )
            total.rows["spots"] = 0
            for first in range(0, len(plan.spots), CHUNK):
                total.rows["spots"] += await unit.spots.insert_many(plan.spots[first : first + CHUNK])  # type: ignore[arg-type]
            for phase, count in (("vehicles", plan.vehicle_chunks), ("sessions", plan.session_chunks)):
                phase_started = time.perf_counter()
                total.add(await _write_chunks(unit, plan, cipher, phase, range(count)))
                if log is not None:
                    log(f"  {phase}: {total.rows.get(phase, 0):,} in {time.perf_counter() - phase_started:.1f} s")
            unit.record(AuditAction.IMPORT, AuditEntity.SESSION, "bench-fixture", after=dict(total.rows))
    finally:
        await db.disconnect()
    checkpoint(path)
    samples = sorted(total.samples)
    rng = random.Random(f"{shape.seed}-samples")
    random_plates = [plate_of(rng.randrange(plan.vehicle_count)) for _ in range(200)]
    # cars (any free spot type fits them), so that check-ins never meet a full garage
    cars = [v for v in range(plan.active, plan.vehicle_count) if VEHICLE_TYPES[v % len(VEHICLE_TYPES)] == "CAR"]
    idle = rng.sample(cars, min(len(cars), 2000))
    fixture = Fixture(
        path=path,
        shape={
            **asdict(shape),
            "completed_before": None if shape.completed_before is None else shape.completed_before.isoformat(),
        },
        built_at=plan.now.isoformat(),
        history_start=plan.history_start.isoformat(),
        build_seconds=time.perf_counter() - started,
        rows=total.rows,
        garage_ids=[garage["id"] for garage in plan.garages],
        plates=random_plates,
        session_ids=[session_id for session_id, _ in samples],
        ticket_codes=[code for _, code in samples],
        active_vehicle_ids=[plan.vehicle_id(v) for v in range(min(plan.active, 200))],
        idle_plates=[plate_of(v) for v in idle],
    )
    fixture.save()
    return fixture


def checkpoint(path: Path) -> None:
    """Folds the WAL into the file (an engine stopped by its client may leave it behind), so that
    the file alone is the whole database and can be copied as such."""
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()


def copy(fixture: Fixture, target: Path) -> Path:
    """A private copy of the fixture's file to run a benchmark on (the cached file stays as built)."""
    for stale in (target, Path(f"{target}-wal"), Path(f"{target}-shm"), Path(f"{target}-journal")):
        stale.unlink(missing_ok=True)
    checkpoint(fixture.path)
    shutil.copyfile(fixture.path, target)
    copy_development_secrets(fixture.path, target)
    return target


async def cached(directory: Path, shape: Shape, *, log: Callable[[str], None] = print) -> Fixture:
    """The file for `shape` under `directory`, built on first use (later runs reuse it)."""
    path = directory / f"sessions-{shape.key}.db"
    fixture = Fixture.load(path)
    if fixture is not None:
        return fixture
    log(f"building {shape.sessions:,} sessions into {path} (cached for later runs) ...")
    fixture = await build(path, shape, log=log)
    log(
        f"  built in {fixture.build_seconds:.1f} s: "
        + ", ".join(f"{count:,} {kind}" for kind, count in fixture.rows.items())
    )
    return fixture


def with_sessions(shape: Shape, sessions: int) -> Shape:
    return replace(shape, sessions=sessions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sessions", type=int)
    parser.add_argument("path", type=Path)
    args = parser.parse_args()
    fixture = asyncio.run(build(args.path.resolve(), Shape(sessions=args.sessions), log=print))
    print(
        f"{fixture.path}: built in {fixture.build_seconds:.1f} s: "
        + ", ".join(f"{count:,} {kind}" for kind, count in fixture.rows.items())
    )


if __name__ == "__main__":
    main()
