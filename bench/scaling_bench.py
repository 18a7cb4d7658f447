"""Scaling benchmark: do the hot queries stay flat as the database grows?

    make bench-scaling        (or: .venv/bin/python bench/scaling_bench.py [--sizes 10000 100000 1000000])
    .venv/bin/python bench/scaling_bench.py --quick      (1k and 5k sessions: the smoke test)

For each size (sessions), a file built by bench/_sessions_fixture.py through the repositories'
bulk inserts (10 garages x 200 spots, a constant pace of 4000 sessions a day, so a bigger file
is a longer history; 800 ACTIVE sessions; tickets, payments), built once and cached under
--cache-dir (a 1M file takes minutes; later runs reuse it). Each run works on a copy.

Then, through the real repositories and services (generated client -> engine -> SQLite), every
hot operation is timed over --iterations calls after a warm-up, on sample values spread over the
data: median, p95, p99 in ms, and each size's median as a ratio of the smallest size's (~1.0x:
flat; growing with the size: the query reads more as the table grows). Reports read a day or a
month of one garage's sessions, so they grow with what the window holds while the history is
shorter than the window (the footnote gives the sessions read per window).

EXPLAIN QUERY PLAN: every operation is run once more on a client whose engine logs its SQL
(LOG_QUERIES, engine/src/instrumented-connection.js: one JSON line per statement on the engine's
stderr, with its parameters); each captured statement is explained by sqlite3 against the largest
file with those parameters. `SCAN` of a large table (a full table or full index walk) is flagged,
as is sorting every matching row (`USE TEMP B-TREE FOR ORDER BY`); `SEARCH ... USING INDEX` is fine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import os
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import _sessions_fixture as fixtures  # noqa: E402
from garage.config import Settings, load_settings  # noqa: E402
from garage.db import create_prisma  # noqa: E402
from garage.logging_setup import ENGINE_LOGGER, JsonFormatter  # noqa: E402
from garage.repositories.pagination import position  # noqa: E402
from garage.repositories.unit_of_work import Database  # noqa: E402
from garage.services.container import Services  # noqa: E402
from garage.services.parking import Exit  # noqa: E402
from garage.services.reports import Bucket, usage_buckets  # noqa: E402
from garage.vocabulary import SPOT_PREFERENCE, PaymentMethod, SessionStatus, VehicleType  # noqa: E402

FULL_SIZES = [10_000, 100_000, 1_000_000]
QUICK_SIZES = [1_000, 5_000]
PAGE = 50
ACTOR = "bench"
# A table is "large" (worth a flag when scanned) from this many rows, or from half the largest
# size's sessions when that is less (--quick's small files still show what would be flagged).
LARGE_TABLE_ROWS = 10_000
# What would fix a flagged operation, or why its flag is expected (printed only while it is flagged;
# fixes checked on a scratch copy with sqlite3: CREATE INDEX, then EXPLAIN QUERY PLAN of the statement).
HINTS = {
    "sessions: first page": "an index on Session(startTime, id) (schema: @@index([startTime, id])): the page "
    "becomes a walk of that index that stops at the LIMIT",
    "report: 24 h, hourly": "expected: the sort is of the window's arrivals and departures (the occupancy sweep's "
    "window function in ReportRepository.usage_totals), as many as the window holds, not of the table",
    "report: 30 days, daily": "expected: as for the 24 h report (the sweep sorts the window's arrivals and departures)",
    "sessions: deep page (id cursor)": "expected: a plain id cursor (handed out before positions) goes "
    "through Prisma's cursor, an OR SQLite cannot seek on; a position's `startTime <= ?` bound turns the "
    "walk into a SEARCH (repositories/pagination.py keyset)",
}


@dataclass
class Context:
    """Sample values for one file, and the sessions checked in (for the check-outs)."""

    fixture: fixtures.Fixture
    services: Services
    db: Database
    plates: Iterator[str]
    checked_in: list[str] = field(default_factory=list)

    @property
    def built_at(self) -> datetime:
        return datetime.fromisoformat(self.fixture.built_at)

    def garage(self, i: int) -> str:
        return self.fixture.garage_ids[i % len(self.fixture.garage_ids)]

    def pick(self, values: list[str], i: int) -> str:
        return values[i % len(values)]

    # the positions (pagination.position: sort key and id) of a session and of its payment from the
    # middle of the history, as a client holds them in `nextCursor`: the page after it is half the
    # table deep (set by `prepare`)
    deep_session: str = ""
    deep_payment: str = ""

    @property
    def deep_id(self) -> str:
        """That session's id: a cursor as handed out before positions (Prisma's cursor: the baseline)."""
        return self.fixture.session_ids[len(self.fixture.session_ids) // 2]

    async def prepare(self) -> None:
        session = await self.db.sessions.get(self.deep_id)
        assert session is not None
        self.deep_session = position(session.startTime, session.id)
        middle = len(self.fixture.session_ids) // 2
        for session_id in self.fixture.session_ids[middle:]:  # the first paid one from the middle on
            if (payment := await self.db.payments.for_session(session_id)) is not None:
                self.deep_payment = position(payment.createdAt, payment.id)
                return

    def window(self, name: str) -> tuple[datetime, datetime]:
        return report_windows(self.built_at)[name]


def report_windows(built_at: datetime) -> dict[str, tuple[datetime, datetime]]:
    """The report windows, ending with the history (so they hold data at every size): the last 24
    whole hours, and the 30 days up to the end of the build's day."""
    hour = built_at.replace(minute=0, second=0, microsecond=0)
    day_end = hour.replace(hour=0) + timedelta(days=1)
    return {"day": (hour - timedelta(days=1), hour), "month": (day_end - timedelta(days=30), day_end)}


Operation = Callable[[Context, int], Awaitable[object]]


async def check_in(c: Context, i: int) -> object:
    done = await c.services.parking.check_in(
        c.garage(i), license_plate=next(c.plates), vehicle_type=None, spot_id=None, at=None, actor=ACTOR
    )
    c.checked_in.append(done.session.id)
    return done


async def check_out(c: Context, i: int) -> object:
    return await c.services.parking.check_out(c.checked_in.pop(), Exit(PaymentMethod.CARD), actor=ACTOR)


async def report_from_rows(c: Context, i: int) -> object:
    """The 30-day report as it was computed before it was summed in SQL (and still is with the archive):
    every session and payment of the window read through the client, then bucketed in Python."""
    garage, (since, until) = c.garage(i), c.window("month")
    spans = await c.db.reports.session_spans(garage, since, until)
    revenue = await c.db.reports.completed_payments(garage, since, until)
    return usage_buckets(spans, revenue, since, until, Bucket.DAY)


# name -> (operation, is a write). Reads first; check-in before check-out (it feeds it).
OPERATIONS: dict[str, tuple[Operation, bool]] = {
    "find available spot (CAR)": (
        lambda c, i: c.db.spots.first_available(c.garage(i), list(SPOT_PREFERENCE[VehicleType.CAR])),
        False,
    ),
    "vehicle by plate": (lambda c, i: c.db.vehicles.live_by_plate(c.pick(c.fixture.plates, i)), False),
    "active session for vehicle": (
        lambda c, i: c.db.sessions.active_for_vehicle(c.pick(c.fixture.active_vehicle_ids, i)),
        False,
    ),
    "session by id": (lambda c, i: c.services.parking.session(c.pick(c.fixture.session_ids, i)), False),
    "ticket by code": (lambda c, i: c.services.parking.ticket(c.pick(c.fixture.ticket_codes, i)), False),
    "sessions: first page": (
        lambda c, i: c.services.parking.sessions(
            garage_id=None, status=None, license_plate=None, since=None, until=None, limit=PAGE, cursor=None
        ),
        False,
    ),
    "sessions: deep page (cursor)": (
        lambda c, i: c.services.parking.sessions(
            garage_id=None, status=None, license_plate=None, since=None, until=None, limit=PAGE, cursor=c.deep_session
        ),
        False,
    ),
    "sessions: deep page (id cursor)": (
        lambda c, i: c.services.parking.sessions(
            garage_id=None, status=None, license_plate=None, since=None, until=None, limit=PAGE, cursor=c.deep_id
        ),
        False,
    ),
    "sessions: garage + ACTIVE": (
        lambda c, i: c.services.parking.sessions(
            garage_id=c.garage(i),
            status=SessionStatus.ACTIVE,
            license_plate=None,
            since=None,
            until=None,
            limit=PAGE,
            cursor=None,
        ),
        False,
    ),
    "sessions: garage + COMPLETED": (
        lambda c, i: c.services.parking.sessions(
            garage_id=c.garage(i),
            status=SessionStatus.COMPLETED,
            license_plate=None,
            since=None,
            until=None,
            limit=PAGE,
            cursor=None,
        ),
        False,
    ),
    "sessions: by plate": (
        lambda c, i: c.services.parking.sessions(
            garage_id=None,
            status=None,
            license_plate=c.pick(c.fixture.plates, i),
            since=None,
            until=None,
            limit=PAGE,
            cursor=None,
        ),
        False,
    ),
    "payments: first page": (
        lambda c, i: c.services.payments.list(garage_id=None, since=None, until=None, limit=PAGE, cursor=None),
        False,
    ),
    "payments: garage first page": (
        lambda c, i: c.services.payments.list(garage_id=c.garage(i), since=None, until=None, limit=PAGE, cursor=None),
        False,
    ),
    "payments: deep page (cursor)": (
        lambda c, i: c.services.payments.list(
            garage_id=None, since=None, until=None, limit=PAGE, cursor=c.deep_payment
        ),
        False,
    ),
    "occupancy counts (garage)": (lambda c, i: c.db.spots.counts(c.garage(i)), False),
    "active sessions count (all)": (lambda c, i: c.services.reports.active_session_count(), False),
    "report: 24 h, hourly": (lambda c, i: c.services.reports.usage(c.garage(i), *c.window("day"), Bucket.HOUR), False),
    "report: 30 days, daily": (
        lambda c, i: c.services.reports.usage(c.garage(i), *c.window("month"), Bucket.DAY),
        False,
    ),
    "report: 30 days, from rows": (report_from_rows, False),
    "check-in (service)": (check_in, True),
    "check-out (service)": (check_out, True),
}


@dataclass
class Timing:
    samples_ms: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.samples_ms)

    def percentile(self, q: float) -> float:
        ordered = sorted(self.samples_ms)
        return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def settings_for(path: Path, **extra: str) -> Settings:
    return load_settings(DATABASE_URL=f"file:{path}", GARAGE_ENV="test", GARAGE_REPLICATION="false", **extra)


@contextlib.contextmanager
def engine_log_to(target: Path) -> Iterator[None]:
    """The engine's log lines (read from its output and logged under source=engine by
    garage/logging_setup.py) also written to `target`, one JSON object per line: its query log."""
    handler = logging.FileHandler(target)
    handler.setFormatter(JsonFormatter())
    engine_logger = logging.getLogger(ENGINE_LOGGER)
    level = engine_logger.level
    engine_logger.addHandler(handler)
    engine_logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        engine_logger.removeHandler(handler)
        engine_logger.setLevel(level)
        handler.close()


async def time_operations(ctx: Context, iterations: int, write_iterations: int) -> dict[str, Timing]:
    timings: dict[str, Timing] = {}
    for name, (operation, is_write) in OPERATIONS.items():
        count = write_iterations if is_write else iterations
        for i in range(max(2, count // 10)):  # warm-up: first calls of a query shape cost more
            await operation(ctx, -1 - i)
        samples = []
        for i in range(count):
            started = time.perf_counter()
            await operation(ctx, i)
            samples.append((time.perf_counter() - started) * 1000)
        timings[name] = Timing(samples)
    return timings


@dataclass
class Captured:
    sql: str
    params: list[Any]


async def capture_statements(ctx: Context, log_file: Path) -> dict[str, list[Captured]]:
    """Each operation once on `ctx` (whose engine logs to `log_file`), with the statements it ran."""
    captured: dict[str, list[Captured]] = {}
    for name, (operation, _) in OPERATIONS.items():
        offset = log_file.stat().st_size
        await operation(ctx, 0)
        await until_log_settles(log_file, offset)
        with log_file.open() as lines:
            lines.seek(offset)
            statements = []
            for line in lines:
                with contextlib.suppress(ValueError):
                    record = json.loads(line)  # the engine line's fields are the record's own keys
                    if record.get("target") == "quaint::connector::metrics" and record.get("is_query"):
                        statements.append(Captured(record["query"], json.loads(record.get("params") or "[]")))
        captured[name] = statements
    return captured


async def until_log_settles(log_file: Path, offset: int, *, quiet: float = 0.15, longest: float = 5.0) -> None:
    """The engine writes a statement's line before it answers, but a thread of this process reads
    the engine's output and writes it to `log_file`: wait until lines arrived past `offset` and none
    came for `quiet` seconds (at most `longest`)."""
    deadline = time.monotonic() + longest
    size, quiet_since = log_file.stat().st_size, time.monotonic()
    while time.monotonic() < deadline:
        await asyncio.sleep(0.02)
        now_size = log_file.stat().st_size
        if now_size != size:
            size, quiet_since = now_size, time.monotonic()
        elif size > offset and time.monotonic() - quiet_since >= quiet:
            return


@dataclass
class Plan:
    statement: str
    lines: list[str]
    flags: list[str]


def explain(
    database: Path, captured: dict[str, list[Captured]], large: int
) -> tuple[dict[str, list[Plan]], dict[str, int]]:
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        sizes = {
            row[0]: connection.execute(f'SELECT count(*) FROM "{row[0]}"').fetchone()[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        }
        plans: dict[str, list[Plan]] = {}
        for name, statements in captured.items():
            seen: set[str] = set()
            plans[name] = []
            for statement in statements:
                keyword = statement.sql.lstrip().split(" ", 1)[0].upper()
                if keyword not in {"SELECT", "INSERT", "UPDATE", "DELETE", "WITH"} or statement.sql in seen:
                    continue
                seen.add(statement.sql)
                try:
                    rows = connection.execute(f"EXPLAIN QUERY PLAN {statement.sql}", statement.params).fetchall()
                    lines = [row[3] for row in rows]
                except sqlite3.Error as error:
                    lines = [f"(could not explain: {error})"]
                plans[name].append(Plan(statement.sql, lines, flags_of(statement.sql, lines, sizes, large)))
        return plans, sizes
    finally:
        connection.close()


_SCAN = re.compile(r"^SCAN (?:main\.)?(\w+)(?: AS \w+)?(.*)$")
_SEARCH = re.compile(r"^SEARCH (?:main\.)?(\w+)")


def flags_of(sql: str, lines: list[str], sizes: dict[str, int], large_rows: int) -> list[str]:
    """Flags for a plan touching a table of `large_rows` rows or more:
    - `SCAN t`: reads every row of t;
    - `SCAN t USING [COVERING] INDEX i`: walks i in order; fine (not flagged) when the statement
      has a LIMIT and needs no full sort, since the walk stops after LIMIT matches;
    - `USE TEMP B-TREE FOR ORDER BY`: every matching row is read and sorted before the LIMIT
      (`... FOR RIGHT PART OF ORDER BY` only orders ties: fine)."""
    flags = []
    large = [table for table in (_table_of(line) for line in lines) if sizes.get(table or "", 0) >= large_rows]
    full_sort = any(line.strip().startswith("USE TEMP B-TREE FOR ORDER BY") for line in lines)
    for line in lines:
        scan = _SCAN.match(line.strip())
        if scan is None or sizes.get(scan.group(1), 0) < large_rows:
            continue
        table, rest = scan.group(1), scan.group(2).strip()
        if "INDEX" not in rest:
            flags.append(f"FULL TABLE SCAN of {table} ({sizes[table]:,} rows)")
        elif full_sort or " LIMIT " not in sql:
            flags.append(f"walks all of {table} {rest} ({sizes[table]:,} rows)")
    if full_sort and large:
        flags.append(f"sorts every matching row of {large[0]} (USE TEMP B-TREE FOR ORDER BY)")
    return flags


def _table_of(line: str) -> str | None:
    text = line.strip()
    match = _SCAN.match(text) or _SEARCH.match(text)
    return match.group(1) if match else None


def short_sql(sql: str, width: int = 230) -> str:
    text = re.sub(r"`main`\.", "", sql)
    text = re.sub(
        r"SELECT (.+?) FROM", lambda m: "SELECT " + ("..." if len(m.group(1)) > 40 else m.group(1)) + " FROM", text
    )
    text = re.sub(r"\?(?:,\s*\?){3,}", "?, ..., ?", text)
    return text if len(text) <= width else text[: width - 3] + "..."


async def bench_size(
    size: int, args: argparse.Namespace, work: Path, *, capture: bool
) -> tuple[dict[str, Timing], fixtures.Fixture, Path, dict[str, list[Captured]]]:
    fixture = await fixtures.cached(args.cache_dir, fixtures.Shape(sessions=size), log=log)
    database = fixtures.copy(fixture, work / f"scaling-{size}.db")
    settings = settings_for(database)
    db = create_prisma(settings)
    await db.connect()
    plates = iter(fixture.idle_plates)
    try:
        data_layer = Database(db)
        ctx = Context(fixture, Services.build(settings, data_layer), data_layer, plates)
        await ctx.prepare()
        log(f"timing {size:,} sessions ...")
        timings = await time_operations(ctx, args.iterations, args.write_iterations)
    finally:
        await db.disconnect()
    captured: dict[str, list[Captured]] = {}
    if capture:
        log_path = work / f"engine-queries-{size}.log"
        with engine_log_to(log_path):
            logging_settings = settings_for(database, GARAGE_LOG_QUERIES="true")
            logging_db = create_prisma(logging_settings)
            await logging_db.connect()
            try:
                logging_layer = Database(logging_db)
                ctx = Context(fixture, Services.build(logging_settings, logging_layer), logging_layer, plates)
                await ctx.prepare()
                captured = await capture_statements(ctx, log_path)
            finally:
                await logging_db.disconnect()
    return timings, fixture, database, captured


def window_counts(database: Path, fixture: fixtures.Fixture) -> dict[str, tuple[int, int]]:
    """Per report window, for garage 0: the sessions it holds, and the sessions the report's two
    index ranges cover (ReportRepository.session_spans: garageId = ? AND endTime >= since, and
    garageId = ? AND endTime IS NULL), i.e. what it reads (the footnote)."""
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    counts: dict[str, tuple[int, int]] = {}
    try:
        for name, (since, until) in report_windows(datetime.fromisoformat(fixture.built_at)).items():
            start, end = (moment.isoformat(timespec="milliseconds") for moment in (since, until))
            held = connection.execute(
                'SELECT count(*) FROM "Session" WHERE "garageId" = ? AND "startTime" < ? AND '
                '("endTime" IS NULL OR "endTime" >= ?)',
                (fixture.garage_ids[0], end, start),
            ).fetchone()[0]
            read = connection.execute(
                'SELECT count(*) FROM "Session" WHERE "garageId" = ? AND ("endTime" >= ? OR "endTime" IS NULL)',
                (fixture.garage_ids[0], start),
            ).fetchone()[0]
            counts[name] = (int(held), int(read))
        return counts
    finally:
        connection.close()


def table(sizes: list[int], results: dict[int, dict[str, Timing]]) -> str:
    first = sizes[0]
    head = f"{'operation':<30}"
    for size in sizes:
        head += f"|{_label(size) + ' med':>10}{'p95':>8}{'p99':>8}" + (
            "" if size == first else f"{'x' + _label(first):>8}"
        )
    lines = [head, "-" * len(head)]
    for name in OPERATIONS:
        line = f"{name:<30}"
        for size in sizes:
            t = results[size][name]
            line += f"|{t.median:>10.2f}{t.percentile(0.95):>8.2f}{t.percentile(0.99):>8.2f}"
            if size != first:
                line += f"{t.median / results[first][name].median:>7.1f}x"
        lines.append(line)
    return "\n".join(lines)


def _label(size: int) -> str:
    return f"{size // 1_000_000}M" if size % 1_000_000 == 0 else f"{size // 1000}k" if size % 1000 == 0 else str(size)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    sizes = sorted(args.sizes or (QUICK_SIZES if args.quick else FULL_SIZES))
    results: dict[int, dict[str, Timing]] = {}
    built: dict[int, fixtures.Fixture] = {}
    windows: dict[int, dict[str, tuple[int, int]]] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="scaling-bench-") as tmp:
        work = Path(tmp)
        plans: dict[str, list[Plan]] = {}
        table_rows: dict[str, int] = {}
        large_rows = min(LARGE_TABLE_ROWS, sizes[-1] // 2)
        for size in sizes:
            capture = size == sizes[-1] and not args.no_explain
            timings, fixture, database, captured = await bench_size(size, args, work, capture=capture)
            results[size], built[size] = timings, fixture
            windows[size] = window_counts(database, fixture)
            if capture:
                plans, table_rows = explain(database, captured, large_rows)
            for stale in work.glob(f"scaling-{size}.db*"):
                stale.unlink()

    print(
        f"scaling benchmark: {args.iterations} reads / {args.write_iterations} writes per operation and size "
        f"(ms, after warm-up); {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}, "
        f"{time.perf_counter() - started:.0f} s"
    )
    print(
        "files: "
        + "; ".join(
            f"{_label(s)} = {f.rows['sessions']:,} sessions, {f.rows['vehicles']:,} vehicles, "
            f"built in {f.build_seconds:.0f} s"
            for s, f in built.items()
        )
    )
    print(table(sizes, results))
    print(
        "report windows of one garage, sessions held / read by the query's index ranges "
        "(garageId, endTime >= since; garageId, endTime IS NULL): "
        + "; ".join(
            f"{_label(s)}: 24 h {w['day'][0]:,} / {w['day'][1]:,}, 30 days {w['month'][0]:,} / {w['month'][1]:,}"
            for s, w in windows.items()
        )
    )
    flagged = 0
    if plans:
        print(
            f"\nEXPLAIN QUERY PLAN on the {_label(sizes[-1])} file (the statements the engine ran, from its query log):"
        )
        for name, entries in plans.items():
            print(f"[{name}]")
            for plan in entries:
                print(f"  {short_sql(plan.statement)}")
                for line in plan.lines:
                    print(f"      {line}")
                for flag in plan.flags:
                    flagged += 1
                    print(f"    !! {flag}")
            if any(plan.flags for plan in entries) and name in HINTS:
                print(f"    note: {HINTS[name]}")
        print(
            f"\n{flagged} flag(s) (SCAN of a table with >= {large_rows:,} rows, or a sort of every match)"
            if flagged
            else "\nno SCAN of a large table: every hot statement SEARCHes an index"
        )
    return {
        "sizes": sizes,
        "results": {
            str(size): {
                name: {
                    "median_ms": t.median,
                    "p95_ms": t.percentile(0.95),
                    "p99_ms": t.percentile(0.99),
                    "ratio": t.median / results[sizes[0]][name].median,
                }
                for name, t in timings.items()
            }
            for size, timings in results.items()
        },
        "build_seconds": {str(size): f.build_seconds for size, f in built.items()},
        "plans": {
            name: [{"sql": p.statement, "plan": p.lines, "flags": p.flags} for p in entries]
            for name, entries in plans.items()
        },
        "table_rows": table_rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--quick", action="store_true", help=f"sizes {QUICK_SIZES}, 20 reads / 10 writes (the smoke test)"
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=None, help=f"sessions per file (default {FULL_SIZES})")
    parser.add_argument("--iterations", type=int, default=None, help="timed calls per read operation (default 200)")
    parser.add_argument(
        "--write-iterations", type=int, default=None, help="timed check-ins and check-outs (default 50)"
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "garage-bench-cache",
        help="where each size's file is built once and kept",
    )
    parser.add_argument("--no-explain", action="store_true", help="skip the query log capture and EXPLAIN QUERY PLAN")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    args.iterations = args.iterations or (20 if args.quick else 200)
    args.write_iterations = args.write_iterations or (10 if args.quick else 50)
    os.environ.setdefault("ENGINE_SLOW_QUERY_MS", "-1")  # the slow-query log would interleave with the table
    summary = asyncio.run(run(args))
    if args.json is not None:
        args.json.write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
