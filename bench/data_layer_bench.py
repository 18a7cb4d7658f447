"""Data-layer benchmark: the operations the API uses most, through three implementations, on the
same schema and the same data, timed in one run.

    make bench-data-layer        (or: .venv/bin/python bench/data_layer_bench.py [--iterations 300])
    .venv/bin/python bench/data_layer_bench.py --quick              (small sizes, ~15 s: the smoke test)
    .venv/bin/python bench/data_layer_bench.py --sessions 20000 --json /tmp/data-layer.json

Implementations:
  garage     - the product: the repositories of src/garage/repositories for reads and bulk create,
               and ParkingService.check_in / check_out (Services.build) for the two transactions,
               through the generated Prisma client -> HTTP -> engine/ -> SQLite. It measures whatever
               the product code does today.
  sqlalchemy - the same operations written directly on SQLAlchemy 2 async Core + aiosqlite
               (bench/_data_layer_baselines.py, tables in bench/_sqlalchemy_schema.py).
  sqlite3    - the same SQL on Python's synchronous sqlite3: the floor.
The baselines run the same checks and writes as the service, in one BEGIN IMMEDIATE transaction,
with the engine's connection settings (WAL, synchronous=FULL unless --synchronous, foreign_keys,
busy_timeout); see bench/_data_layer_baselines.py.

Operations (each call timed on its own, after warm-up calls):
  find_available    first AVAILABLE live spot of a vehicle's spot types (SpotRepository.first_available)
  vehicle_by_plate  VehicleRepository.live_by_plate
  session_page      SessionRepository.list(garage_id, limit=50): newest sessions with their ticket
  check_in          ParkingService.check_in: new plates and returning vehicles, alternately
  check_out         ParkingService.check_out of those sessions (CARD, reference None)
  create_spots_5000 SpotRepository.create_many: 5000 spots on a new level of a bulk garage (in a
                    `Database.batch` unit: the timed call is the createMany and the 5000 audit entries
                    it records; the unit writes those after the timed call, as the baselines write
                    no audit rows)
Check-ins run in rounds of --batch arrivals, each round checked out before the next one, so the
spot pool never runs out.

Data: a migrated file (tests/database.py) filled through the services (garages with their rates,
spots, a few vehicles parked now via check_in) and the repositories' bulk inserts (vehicles and
--sessions completed sessions with ticket and payment, back-dated: the bulk-import path), then
checkpointed and copied, so each implementation starts from the identical file. Before timing, the
read operations are run once on every copy and must return the same rows.

Output: per operation, median / p95 / p99 in ms and the ratios `x sqlalchemy` and `x sqlite3`
(median over the baseline's median, same run), then a verdict: the target is garage within 3x of
sqlalchemy+aiosqlite. --json PATH also writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from prisma import Prisma  # noqa: E402

from bench._data_layer_baselines import (  # noqa: E402
    ACTOR,
    PAGE_LIMIT,
    SqlAlchemyLayer,
    Sqlite3Layer,
    new_id,
    now_ms,
)
from garage.config import Settings, load_settings  # noqa: E402
from garage.config.development_secrets import copy_development_secrets  # noqa: E402
from garage.db import create_prisma  # noqa: E402
from garage.repositories.spots import NewSpot  # noqa: E402
from garage.repositories.unit_of_work import Database, UnitOfWork  # noqa: E402
from garage.services import pricing  # noqa: E402
from garage.services.container import Services  # noqa: E402
from garage.services.parking import Exit  # noqa: E402
from garage.services.spot_numbers import spot_sort_key  # noqa: E402
from garage.services.spots import MAX_BULK, SpotDraft  # noqa: E402
from garage.services.tickets import new_ticket_code  # noqa: E402
from garage.vocabulary import SPOT_PREFERENCE, AuditAction, AuditEntity, PaymentMethod, SpotType, VehicleType  # noqa: E402
from garage.vocabulary import RateTerms as RateValues  # noqa: E402
from tests.database import apply_migrations  # noqa: E402

IMPLEMENTATIONS = ("garage", "sqlalchemy", "sqlite3")
OPERATIONS = ("find_available", "vehicle_by_plate", "session_page", "check_in", "check_out", "create_spots_5000")
TARGET = 3.0  # the goal: garage within 3x of sqlalchemy+aiosqlite
BULK_SPOTS = 5000
LEVELS = 4
# One level's spot types, repeated along the numbers: 1 motorcycle, 5 compact, 9 standard, 2 large, 2 EV, 1 handicap.
SPOT_PATTERN = ("MOTORCYCLE",) + ("COMPACT",) * 5 + ("STANDARD",) * 9 + ("LARGE",) * 2 + ("EV",) * 2 + ("HANDICAP",)
VEHICLE_MIX = ("CAR",) * 12 + ("EV",) * 3 + ("MOTORCYCLE",) * 2 + ("VAN",) * 2 + ("TRUCK",)
NEW_VEHICLE_TYPES = ("CAR", "CAR", "EV", "MOTORCYCLE")
METHODS = ("CARD", "CASH", "MOBILE", "VALIDATION")
OWN_RATE = RateValues(
    hourly_rate_cents=400, increment_minutes=30, grace_minutes=15, daily_max_cents=1800, lost_ticket_fee_cents=6000
)
INSERT_CHUNK = 2000


# ---- sizes and options ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sizes:
    garages: int
    spots_per_garage: int
    vehicles: int
    sessions: int  # completed history
    parked: int  # vehicles checked in (ACTIVE) before the benchmark starts
    iterations: int
    warmup: int
    bulk_iterations: int
    batch: int  # check-ins per round before the round is checked out


def sizes_from(args: argparse.Namespace) -> Sizes:
    quick = args.quick
    return Sizes(
        garages=2,
        spots_per_garage=args.spots or (200 if quick else 1500),
        vehicles=args.vehicles or (150 if quick else 2000),
        sessions=args.sessions or (300 if quick else 5000),
        parked=5 if quick else 40,
        iterations=args.iterations or (20 if quick else 300),
        warmup=args.warmup if args.warmup is not None else (4 if quick else 30),
        bulk_iterations=args.bulk_iterations or (1 if quick else 10),
        batch=args.batch or (12 if quick else 50),
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes and few iterations (smoke test, ~15 s)")
    parser.add_argument("--iterations", type=int, help="timed calls per operation (default 300, quick 20)")
    parser.add_argument("--warmup", type=int, help="untimed calls first (default 30, quick 4)")
    parser.add_argument("--bulk-iterations", type=int, help="timed 5000-spot creates (default 10, quick 1; max 200)")
    parser.add_argument("--sessions", type=int, help="completed sessions in the data (default 5000, quick 300)")
    parser.add_argument("--vehicles", type=int, help="vehicles in the data (default 2000, quick 150)")
    parser.add_argument("--spots", type=int, help="spots per garage, 2 garages (default 1500, quick 200)")
    parser.add_argument("--batch", type=int, help="check-ins per round before checking them out (default 50, quick 12)")
    parser.add_argument(
        "--synchronous",
        default=os.environ.get("ENGINE_SQLITE_SYNCHRONOUS", "FULL"),
        choices=["OFF", "NORMAL", "FULL", "EXTRA"],
        help="PRAGMA synchronous for the engine and baselines",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--seed", type=int, default=20261124, help="random seed of the data and inputs")
    args = parser.parse_args(argv)
    if args.bulk_iterations is not None and not 1 <= args.bulk_iterations <= 200:
        parser.error("--bulk-iterations must be 1..200 (one new level -20..200 each, warm-up included)")
    return args


def garage_settings(path: Path) -> Settings:
    return load_settings(DATABASE_URL=f"file:{path}", GARAGE_ENV="test")


async def connect_garage(path: Path) -> tuple[Prisma, Services]:
    settings = garage_settings(path)
    db = create_prisma(settings)
    await db.connect()
    return db, Services.build(settings, Database(db))


# ---- the data ---------------------------------------------------------------------------------------------------
@dataclass
class Dataset:
    garage_ids: list[str] = field(default_factory=list)
    bulk_garage_id: str = ""
    spot_ids: dict[str, list[str]] = field(default_factory=dict)  # garage id -> its spot ids
    plates: list[str] = field(default_factory=list)
    vehicle_types: dict[str, str] = field(default_factory=dict)  # plate -> type
    parked: list[str] = field(default_factory=list)  # plates with an ACTIVE session


async def populate(path: Path, sizes: Sizes, rng: random.Random) -> Dataset:
    """Builds the benchmark data in a migrated file, through the services and repositories."""
    apply_migrations(path)
    db, services = await connect_garage(path)
    data = Dataset()
    try:
        await create_garages(services, sizes, data)
        await create_history(services.db, sizes, data, rng)
        for index in range(sizes.parked):
            plate = data.plates[index]
            await services.parking.check_in(
                data.garage_ids[index % len(data.garage_ids)],
                license_plate=plate,
                vehicle_type=VehicleType(data.vehicle_types[plate]),
                spot_id=None,
                at=None,
                actor=ACTOR,
            )
            data.parked.append(plate)
    finally:
        await db.disconnect()
    checkpoint(path)
    return data


async def create_garages(services: Services, sizes: Sizes, data: Dataset) -> None:
    for index in range(sizes.garages):
        created = await services.garages.create(
            name=f"Bench garage {index}",
            address=f"{index} Bench Street",
            timezone="UTC",
            currency="USD",
            capacity=sizes.spots_per_garage,
            actor=ACTOR,
        )
        if index % 2:
            await services.garages.put_rate(created.id, OWN_RATE, actor=ACTOR)
        drafts = spot_drafts(sizes.spots_per_garage)
        spots = []
        for start in range(0, len(drafts), MAX_BULK):
            spots += await services.spots.create(created.id, drafts[start : start + MAX_BULK], actor=ACTOR)
        data.garage_ids.append(created.id)
        data.spot_ids[created.id] = [spot.id for spot in spots]
    bulk = await services.garages.create(
        name="Bench bulk garage",
        address="0 Bench Street",
        timezone="UTC",
        currency="USD",
        capacity=100_000,
        actor=ACTOR,
    )
    data.bulk_garage_id = bulk.id


def spot_drafts(count: int) -> list[SpotDraft]:
    per_level = math.ceil(count / LEVELS)
    return [
        SpotDraft(
            level=1 + index // per_level,
            number=str(index % per_level + 1),
            type=SpotType(SPOT_PATTERN[index % per_level % len(SPOT_PATTERN)]),
        )
        for index in range(count)
    ]


async def create_history(database: Database, sizes: Sizes, data: Dataset, rng: random.Random) -> None:
    """Vehicles and completed sessions (ticket PAID or LOST, one payment each), back-dated, written
    with the repositories' bulk inserts in one transaction (what `garage import-memory-store` uses),
    with the load's one audit entry."""
    now = now_ms()
    vehicles = [vehicle_row(index, rng, now) for index in range(sizes.vehicles)]
    data.plates = [row["licensePlate"] for row in vehicles]
    data.vehicle_types = {row["licensePlate"]: row["type"] for row in vehicles}
    sessions, tickets, payments = history_rows(vehicles, sizes.sessions, data, rng, now)

    async def write(unit: UnitOfWork) -> None:
        await insert_chunks(vehicles, unit.vehicles.insert_many)
        await insert_chunks(sessions, unit.sessions.insert_many)
        await insert_chunks(tickets, unit.tickets.insert_many)
        await insert_chunks(payments, unit.payments.insert_many)
        counts = {
            "vehicles": len(vehicles),
            "sessions": len(sessions),
            "tickets": len(tickets),
            "payments": len(payments),
        }
        unit.record(AuditAction.IMPORT, AuditEntity.SESSION, "bench-fixture", after=counts)

    await database.transaction(write, actor=ACTOR, timeout=timedelta(minutes=10), max_wait=timedelta(seconds=10))


async def insert_chunks(rows: list[dict[str, Any]], into: Callable[[Sequence[Any]], Awaitable[int]]) -> None:
    for start in range(0, len(rows), INSERT_CHUNK):
        await into(rows[start : start + INSERT_CHUNK])


def vehicle_row(index: int, rng: random.Random, now: datetime) -> dict[str, Any]:
    created = now - timedelta(days=400)
    return {
        "id": new_id(),
        "licensePlate": f"PV{index:06d}",
        "type": rng.choice(VEHICLE_MIX),
        "createdAt": created,
        "updatedAt": created,
    }


def history_rows(
    vehicles: list[dict[str, Any]],
    count: int,
    data: Dataset,
    rng: random.Random,
    now: datetime,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """`count` completed sessions spread over the vehicles: each vehicle's visits go back in time
    from a few hours ago, never overlapping, on random spots of random garages."""
    terms = {garage_id: rate_terms_of(index) for index, garage_id in enumerate(data.garage_ids)}
    last_start = {row["id"]: now - timedelta(hours=rng.uniform(2, 72)) for row in vehicles}
    codes: set[str] = set()
    sessions, tickets, payments = [], [], []
    for index in range(count):
        owner = vehicles[index % len(vehicles)]
        garage_id = data.garage_ids[rng.randrange(len(data.garage_ids))]
        end = last_start[owner["id"]] - timedelta(minutes=rng.uniform(30, 3 * 24 * 60))
        start = end - timedelta(minutes=rng.uniform(3, 10 * 60))
        end, start = end.replace(microsecond=0), start.replace(microsecond=0)
        last_start[owner["id"]] = start
        lost = rng.random() < 0.02
        fee = pricing.fee_between(start, end, terms[garage_id], lost_ticket=lost)
        session_id = new_id()
        sessions.append(
            {
                "id": session_id,
                "garageId": garage_id,
                "spotId": rng.choice(data.spot_ids[garage_id]),
                "vehicleId": owner["id"],
                "licensePlate": owner["licensePlate"],
                "vehicleType": owner["type"],
                "status": "COMPLETED",
                "startTime": start,
                "endTime": end,
                "feeCents": fee.fee_cents,
                "createdAt": start,
                "updatedAt": end,
            }
        )
        tickets.append(
            {
                "id": new_id(),
                "code": unique_code(codes),
                "sessionId": session_id,
                "issuedAt": start,
                "status": "LOST" if lost else "PAID",
                "createdAt": start,
                "updatedAt": end,
            }
        )
        payments.append(
            {
                "id": new_id(),
                "sessionId": session_id,
                "garageId": garage_id,
                "amountCents": fee.fee_cents,
                "currency": "USD",
                "method": METHODS[index % len(METHODS)],
                "status": "COMPLETED",
                "createdAt": end,
                "updatedAt": end,
            }
        )
    return sessions, tickets, payments


def rate_terms_of(garage_index: int) -> RateValues:
    values = OWN_RATE if garage_index % 2 else RateValues()
    return RateValues(
        hourly_rate_cents=values.hourly_rate_cents,
        increment_minutes=values.increment_minutes,
        grace_minutes=values.grace_minutes,
        daily_max_cents=values.daily_max_cents,
        lost_ticket_fee_cents=values.lost_ticket_fee_cents,
    )


def unique_code(taken: set[str]) -> str:
    code = new_ticket_code()
    while code in taken:
        code = new_ticket_code()
    taken.add(code)
    return code


def checkpoint(path: Path) -> None:
    """Moves the WAL into the main file, so that copying the one file copies all of the data."""
    with sqlite3.connect(path) as connection:
        busy, _, _ = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    if busy:
        raise RuntimeError(f"could not checkpoint {path}: a connection is still open")


def copy_database(source: Path, target: Path) -> Path:
    shutil.copyfile(source, target)
    copy_development_secrets(source, target)
    return target


# ---- the inputs, identical for every implementation -----------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    finds: list[tuple[str, tuple[SpotType, ...]]]  # (garage id, spot types in preference order)
    lookups: list[str]  # plates
    pages: list[str]  # garage ids
    check_in_garage: str
    arrivals: list[tuple[str, str]]  # (plate, vehicle type): warm-up first
    bulk_garage: str
    bulk: list[list[NewSpot]]  # warm-up first


def make_plan(data: Dataset, sizes: Sizes, rng: random.Random) -> Plan:
    calls = sizes.warmup + sizes.iterations
    kinds = (VehicleType.CAR, VehicleType.EV, VehicleType.MOTORCYCLE, VehicleType.VAN)
    finds = [(data.garage_ids[i % len(data.garage_ids)], SPOT_PREFERENCE[kinds[i % len(kinds)]]) for i in range(calls)]
    lookups = [rng.choice(data.plates) for _ in range(calls)]
    pages = [data.garage_ids[i % len(data.garage_ids)] for i in range(calls)]
    bulk_levels = range(-20, -20 + 1 + sizes.bulk_iterations)  # one warm-up create, then the timed ones
    return Plan(
        finds=finds,
        lookups=lookups,
        pages=pages,
        check_in_garage=data.garage_ids[0],
        arrivals=arrivals(data, sizes),
        bulk_garage=data.bulk_garage_id,
        bulk=[bulk_spots(level) for level in bulk_levels],
    )


def arrivals(data: Dataset, sizes: Sizes) -> list[tuple[str, str]]:
    """New plates and returning vehicles (not parked), alternately. A returning vehicle comes back
    only in a later round, after its check-out."""
    parked = set(data.parked)
    returning = [plate for plate in data.plates if plate not in parked]
    if len(returning) < sizes.batch:
        raise SystemExit(
            f"{len(returning)} unparked vehicles are too few for batches of {sizes.batch}: raise --vehicles"
        )
    result = []
    for index in range(sizes.warmup + sizes.iterations):
        if index % 2 == 0:
            result.append((f"NB{index:06d}", NEW_VEHICLE_TYPES[index // 2 % len(NEW_VEHICLE_TYPES)]))
        else:
            plate = returning[index // 2 % len(returning)]
            result.append((plate, data.vehicle_types[plate]))
    return result


def bulk_spots(level: int) -> list[NewSpot]:
    return [
        NewSpot(level=level, number=str(n), sort_key=spot_sort_key(str(n)), type=SPOT_PATTERN[n % len(SPOT_PATTERN)])
        for n in range(1, BULK_SPOTS + 1)
    ]


# ---- the product ------------------------------------------------------------------------------------------------
class DataLayer(Protocol):
    name: str

    async def find_available(self, garage_id: str, spot_types: Sequence[str]) -> Any: ...
    async def vehicle_by_plate(self, plate: str) -> Any: ...
    async def session_page(self, garage_id: str) -> Any: ...
    async def check_in(self, garage_id: str, plate: str, vehicle_type: str) -> str: ...
    async def check_out(self, session_id: str) -> Any: ...
    async def create_spots(self, garage_id: str, spots: Sequence[NewSpot]) -> Any: ...
    async def close(self) -> None: ...


class GarageLayer:
    """The product's repositories and services on their own connected client."""

    name = "garage"

    def __init__(self, db: Prisma, services: Services) -> None:
        self._db = db
        self._services = services
        self._database = services.db
        self._spots = services.db.spots
        self._vehicles = services.db.vehicles
        self._sessions = services.db.sessions
        # the create_spots unit still to end (its audit entries to write): ended untimed, in settle()
        self._open_units = AsyncExitStack()

    @classmethod
    async def open(cls, path: Path) -> GarageLayer:
        return cls(*await connect_garage(path))

    async def find_available(self, garage_id: str, spot_types: Sequence[str]) -> Any:
        return await self._spots.first_available(garage_id, list(spot_types))

    async def vehicle_by_plate(self, plate: str) -> Any:
        return await self._vehicles.live_by_plate(plate)

    async def session_page(self, garage_id: str) -> Any:
        return await self._sessions.list(garage_id=garage_id, limit=PAGE_LIMIT, cursor=None)

    async def check_in(self, garage_id: str, plate: str, vehicle_type: str) -> str:
        checked_in = await self._services.parking.check_in(
            garage_id, license_plate=plate, vehicle_type=VehicleType(vehicle_type), spot_id=None, at=None, actor=ACTOR
        )
        return checked_in.session.id

    async def check_out(self, session_id: str) -> Any:
        return await self._services.parking.check_out(session_id, Exit(PaymentMethod.CARD), actor=ACTOR)

    async def create_spots(self, garage_id: str, spots: Sequence[NewSpot]) -> Any:
        unit = await self._open_units.enter_async_context(self._database.batch(actor=ACTOR))
        return await unit.spots.create_many(garage_id, spots)

    async def settle(self) -> None:
        """Ends the last create_spots' unit: writes the audit entries its create_many recorded."""
        await self._open_units.aclose()

    async def close(self) -> None:
        await self.settle()
        await self._db.disconnect()


# ---- same answers everywhere -------------------------------------------------------------------------------------
def field_of(value: Any, name: str) -> Any:
    """A column of a Prisma model, SQLAlchemy RowMapping / Row or sqlite3.Row (None stays None)."""
    if value is None:
        return None
    if isinstance(value, (Mapping, sqlite3.Row)):
        return value[name]
    return getattr(value, name)


def page_keys(page: Any) -> list[tuple[str, str]]:
    if hasattr(page, "items"):  # the garage's Page of sessions with their ticket
        return [(session.id, session.ticket.code) for session in page.items]
    rows, _ = page
    return [(field_of(row, "id"), field_of(row, "ticket_code")) for row in rows]


async def answers(layer: DataLayer, plan: Plan) -> list[Any]:
    found = [field_of(await layer.find_available(g, types), "id") for g, types in plan.finds[:8]]
    vehicles = [field_of(await layer.vehicle_by_plate(plate), "id") for plate in plan.lookups[:8]]
    pages = [page_keys(await layer.session_page(g)) for g in plan.pages[:2]]
    return [found, vehicles, pages]


async def check_same_answers(layers: Sequence[DataLayer], plan: Plan) -> None:
    expected = await answers(layers[0], plan)
    if not any(expected[0]) or not any(expected[1]) or not expected[2][0]:
        raise SystemExit(f"{layers[0].name}: the read operations found nothing: the data is not as planned")
    for layer in layers[1:]:
        if await answers(layer, plan) != expected:
            raise SystemExit(f"{layer.name} and {layers[0].name} read different rows from identical copies")


# ---- timing ----------------------------------------------------------------------------------------------------------
async def time_calls(
    call: Callable[[int], Awaitable[Any]],
    calls: int,
    warmup: int,
    settle: Callable[[], Awaitable[None]] | None = None,
) -> list[float]:
    """Milliseconds per call, the first `warmup` calls left out; `settle` runs untimed after each."""
    samples = []
    for index in range(calls):
        started = time.perf_counter()
        await call(index)
        elapsed = (time.perf_counter() - started) * 1000
        if settle is not None:
            await settle()
        if index >= warmup:
            samples.append(elapsed)
    return samples


async def time_parking(layer: DataLayer, plan: Plan, sizes: Sizes) -> tuple[list[float], list[float]]:
    """Check-ins in rounds of `batch` arrivals, each round checked out before the next one."""
    check_ins: list[float] = []
    check_outs: list[float] = []
    position = 0
    for start in range(0, len(plan.arrivals), sizes.batch):
        sessions = []
        for plate, vehicle_type in plan.arrivals[start : start + sizes.batch]:
            started = time.perf_counter()
            sessions.append(await layer.check_in(plan.check_in_garage, plate, vehicle_type))
            record(check_ins, started, position, sizes.warmup)
            position += 1
        for offset, session_id in enumerate(sessions):
            started = time.perf_counter()
            await layer.check_out(session_id)
            record(check_outs, started, start + offset, sizes.warmup)
    return check_ins, check_outs


def record(samples: list[float], started: float, position: int, warmup: int) -> None:
    elapsed = (time.perf_counter() - started) * 1000
    if position >= warmup:
        samples.append(elapsed)


Call = Callable[[DataLayer, Plan, int], Awaitable[Any]]
READS: dict[str, Call] = {
    "find_available": lambda layer, plan, i: layer.find_available(*plan.finds[i]),
    "vehicle_by_plate": lambda layer, plan, i: layer.vehicle_by_plate(plan.lookups[i]),
    "session_page": lambda layer, plan, i: layer.session_page(plan.pages[i]),
}


async def measure(layers: Sequence[DataLayer], plan: Plan, sizes: Sizes) -> dict[str, dict[str, list[float]]]:
    """implementation -> operation -> samples. Each operation runs on every implementation in
    turn before the next operation starts, so a change in machine load hits all of them alike."""
    results: dict[str, dict[str, list[float]]] = {layer.name: {} for layer in layers}
    for operation, call in READS.items():
        for layer in layers:
            results[layer.name][operation] = await time_calls(
                bound(call, layer, plan), sizes.warmup + sizes.iterations, sizes.warmup
            )
    for layer in layers:
        results[layer.name]["check_in"], results[layer.name]["check_out"] = await time_parking(layer, plan, sizes)
    for layer in layers:
        settle = layer.settle if isinstance(layer, GarageLayer) else None
        results[layer.name]["create_spots_5000"] = await time_calls(
            bound(create_spots, layer, plan), len(plan.bulk), 1, settle
        )
    return results


def bound(call: Call, layer: DataLayer, plan: Plan) -> Callable[[int], Awaitable[Any]]:
    return lambda index: call(layer, plan, index)


def create_spots(layer: DataLayer, plan: Plan, index: int) -> Awaitable[Any]:
    return layer.create_spots(plan.bulk_garage, plan.bulk[index])


# ---- results ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Summary:
    operation: str
    implementation: str
    samples: int
    median_ms: float
    p95_ms: float
    p99_ms: float
    x_sqlalchemy: float
    x_sqlite3: float


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of sorted samples."""
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


def summarise(results: dict[str, dict[str, list[float]]]) -> list[Summary]:
    summaries = []
    for operation in OPERATIONS:
        medians = {name: statistics.median(results[name][operation]) for name in IMPLEMENTATIONS}
        for name in IMPLEMENTATIONS:
            ordered = sorted(results[name][operation])
            summaries.append(
                Summary(
                    operation=operation,
                    implementation=name,
                    samples=len(ordered),
                    median_ms=medians[name],
                    p95_ms=percentile(ordered, 0.95),
                    p99_ms=percentile(ordered, 0.99),
                    x_sqlalchemy=medians[name] / medians["sqlalchemy"],
                    x_sqlite3=medians[name] / medians["sqlite3"],
                )
            )
    return summaries


def verdict(row: Summary) -> str:
    met = "within" if row.x_sqlalchemy <= TARGET else "OVER"
    return (
        f"verdict {row.operation}: garage {row.x_sqlalchemy:.2f}x sqlalchemy+aiosqlite -> {met} the {TARGET:g}x target"
    )


def print_report(summaries: list[Summary], sizes: Sizes, synchronous: str) -> None:
    load = os.getloadavg()[0]
    print(
        f"data-layer benchmark: {sizes.iterations} calls per operation after {sizes.warmup} warm-up "
        f"({sizes.bulk_iterations} for create_spots_5000), check-in rounds of {sizes.batch}; data: "
        f"{sizes.garages} garages x {sizes.spots_per_garage} spots, {sizes.vehicles} vehicles, "
        f"{sizes.sessions} completed sessions, {sizes.parked} parked; synchronous={synchronous}, "
        f"{os.cpu_count()} cores, load average {load:.2f}"
    )
    header = (
        f"{'operation':<19}{'implementation':<16}{'median ms':>11}{'p95 ms':>10}{'p99 ms':>10}"
        f"{'x sqlalchemy':>14}{'x sqlite3':>11}"
    )
    print(header)
    print("-" * len(header))
    for row in summaries:
        label = row.operation if row.implementation == IMPLEMENTATIONS[0] else ""
        print(
            f"{label:<19}{row.implementation:<16}{row.median_ms:>11.3f}{row.p95_ms:>10.3f}{row.p99_ms:>10.3f}"
            f"{row.x_sqlalchemy:>14.2f}{row.x_sqlite3:>11.2f}"
        )
        if row.implementation == IMPLEMENTATIONS[-1]:
            garage_row = next(s for s in summaries if s.operation == row.operation and s.implementation == "garage")
            print(verdict(garage_row))
            print()


def write_json(path: Path, summaries: list[Summary], sizes: Sizes, synchronous: str) -> None:
    garage_rows = [s for s in summaries if s.implementation == "garage"]
    document = {
        "sizes": asdict(sizes),
        "synchronous": synchronous,
        "cores": os.cpu_count(),
        "load_average": os.getloadavg()[0],
        "target_x_sqlalchemy": TARGET,
        "results": [asdict(s) for s in summaries],
        "verdicts": [
            {"operation": s.operation, "x_sqlalchemy": s.x_sqlalchemy, "within_target": s.x_sqlalchemy <= TARGET}
            for s in garage_rows
        ],
    }
    path.write_text(json.dumps(document, indent=2) + "\n")


# ---- main ------------------------------------------------------------------------------------------------------------
async def run(args: argparse.Namespace) -> list[Summary]:
    sizes = sizes_from(args)
    rng = random.Random(args.seed)
    os.environ["ENGINE_SQLITE_SYNCHRONOUS"] = args.synchronous
    os.environ.setdefault("ENGINE_SLOW_QUERY_MS", "-1")
    with tempfile.TemporaryDirectory(prefix="data-layer-bench-") as tmp:
        directory = Path(tmp)
        source = directory / "populated.db"
        started = time.perf_counter()
        data = await populate(source, sizes, rng)
        print(f"data built through the services and repositories in {time.perf_counter() - started:.1f} s", flush=True)
        plan = make_plan(data, sizes, rng)
        layers: list[DataLayer] = []
        try:
            layers.append(await GarageLayer.open(copy_database(source, directory / "garage.db")))
            layers.append(SqlAlchemyLayer(copy_database(source, directory / "sqlalchemy.db"), args.synchronous))
            layers.append(Sqlite3Layer(copy_database(source, directory / "sqlite3.db"), args.synchronous))
            await check_same_answers(layers, plan)
            started = time.perf_counter()
            results = await measure(layers, plan, sizes)
            print(f"measured in {time.perf_counter() - started:.1f} s", flush=True)
        finally:
            for layer in layers:
                await layer.close()
    summaries = summarise(results)
    print_report(summaries, sizes, args.synchronous)
    if args.json:
        write_json(args.json, summaries, sizes, args.synchronous)
    return summaries


def main(argv: Sequence[str] | None = None) -> None:
    asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    main()
