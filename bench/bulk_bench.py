"""Bulk operations benchmark: how long the big writes take, against their targets and against
plain sqlite3 doing the same writes in the same run.

    make bench-bulk           (or: .venv/bin/python bench/bulk_bench.py [--runs 3] [--json out.json])
    .venv/bin/python bench/bulk_bench.py --quick      (small sizes, ~20 s: the smoke test)

Operations (each run on fresh state; the table shows median, p95, p99 over the runs):
- spots create 5000 (target <= 1 s), by three paths on a new garage each run:
    repository  SpotRepository.create_many (one createMany; in a `Database.batch` unit, which
                writes the audit entries create_many records after the timed call)
    service     SpotService.create: what POST /garages/{id}/spots {"spots": [...]} runs (capacity
                and duplicate checks, createMany, 5000 audit rows, one transaction)
    http        that POST against a real `python -m garage serve` (1 worker), body pre-encoded
  baselines: sqlite3 executemany of the very rows the service wrote (read back from its file)
  into a copy of that file: the spots alone (for repository), spots + audit rows (service, http).
- legacy import of 10k and 100k records (target 100k <= 20 s): `garage import-memory-store` as a
  process on a bench/legacy_snapshot.py snapshot into a fresh migrated file (bench/import_bench.py),
  and its idempotent second run; baseline: sqlite3 executemany of every row the import wrote
  (read back from its file) into a fresh migrated file, one transaction.
- archive of 100k sessions: `garage archive --before 2025-01-01` as a process (it migrates the
  archive file, then moves batches of 500 with verification) on a copy of a file holding 100k
  COMPLETED sessions (with tickets and payments) that ended before the cutoff, built through the
  repositories by bench/_sessions_fixture.py and cached (--cache-dir); baseline: sqlite3 copying
  the same sessions, tickets, payments and their garages, spots and vehicles into a migrated
  archive file (ATTACH, INSERT ... SELECT) and deleting them from the live file, one transaction.

Columns: rows/s = rows of the operation (spots, snapshot records, sessions) per second at the
median; x base = median / the baseline's median; target/met apply to the full sizes only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import _sessions_fixture as fixtures  # noqa: E402
from bench.import_bench import MIB, measured_import, write_snapshot  # noqa: E402
from garage.config import load_settings  # noqa: E402
from garage.db import create_prisma  # noqa: E402
from garage.repositories.spots import NewSpot  # noqa: E402
from garage.repositories.unit_of_work import Database  # noqa: E402
from garage.services.container import Services  # noqa: E402
from garage.services.spot_numbers import spot_sort_key  # noqa: E402
from garage.services.spots import SpotDraft  # noqa: E402
from garage.vocabulary import SpotType  # noqa: E402
from tests.api.conftest import ADMIN_KEY, LiveServer, start_server  # noqa: E402
from tests.database import apply_migrations, copy_database  # noqa: E402


@dataclass(frozen=True)
class Sizes:
    spots: int
    imports: tuple[int, ...]
    archive: int


FULL = Sizes(spots=5000, imports=(10_000, 100_000), archive=100_000)
QUICK = Sizes(spots=500, imports=(2000,), archive=1000)  # the smoke test: one run each, ~20 s
ARCHIVE_CUTOFF = "2025-01-01"
TARGETS: dict[tuple[str, int], float] = {("spots create", 5000): 1.0, ("legacy import", 100_000): 20.0}
WARM_UP_SPOTS = 20  # an untimed small bulk per path first: the first engine calls pay one-off costs
ACTOR = "bench"
API = "/api/v1"
SPOT_TYPES = ("COMPACT", "STANDARD", "STANDARD", "LARGE", "EV", "MOTORCYCLE", "HANDICAP")
# Foreign-key order of the product tables (what a baseline copies, and in which order).
TABLES = ("Garage", "Rate", "Spot", "Vehicle", "Session", "Ticket", "Payment", "AuditLog")


@dataclass
class Result:
    operation: str
    path: str
    size: int
    samples: list[float]
    rows: int
    baseline: str | None = None  # the path this one is compared with

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def percentile(self, q: float) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def sqlite3_connection(path: Path) -> sqlite3.Connection:
    """The engine's settings (engine/src/sqlite-connection.js): WAL, synchronous, foreign keys."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute(f"PRAGMA synchronous = {os.environ.get('ENGINE_SQLITE_SYNCHRONOUS', 'FULL')}")
    connection.execute("PRAGMA foreign_keys = ON")
    return connection


def rows_of(
    path: Path, table: str, where: str = "", params: Sequence[Any] = ()
) -> tuple[list[str], list[tuple[Any, ...]]]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        cursor = connection.execute(f'SELECT * FROM "{table}" {where}', params)
        return [column[0] for column in cursor.description], cursor.fetchall()
    finally:
        connection.close()


def insert_sql(table: str, columns: Sequence[str]) -> str:
    return (
        f'INSERT INTO "{table}" ({", ".join(f"{chr(34)}{c}{chr(34)}" for c in columns)}) '
        f"VALUES ({', '.join('?' for _ in columns)})"
    )


def timed_executemany(path: Path, batches: Sequence[tuple[str, Sequence[str], list[tuple[Any, ...]]]]) -> float:
    """Seconds for one transaction of executemany per (table, columns, rows), commit included."""
    connection = sqlite3_connection(path)
    try:
        started = time.perf_counter()
        connection.execute("BEGIN IMMEDIATE")
        for table, columns, rows in batches:
            connection.executemany(insert_sql(table, columns), rows)
        connection.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        connection.close()


# ---- spots ---------------------------------------------------------------------------------


def spot_drafts(count: int) -> list[SpotDraft]:
    """`count` spots over 4 levels, numbers 1.. per level, every type."""
    per_level = -(-count // 4)
    return [
        SpotDraft(level=i // per_level, number=str(i % per_level + 1), type=SpotType(SPOT_TYPES[i % len(SPOT_TYPES)]))
        for i in range(count)
    ]


async def bench_spots(work: Path, size: int, runs: int) -> list[Result]:
    database = work / "spots.db"
    apply_migrations(database)
    settings = load_settings(DATABASE_URL=f"file:{database}", GARAGE_ENV="test")
    db = create_prisma(settings)
    await db.connect()
    data_layer = Database(db)
    services = Services.build(settings, data_layer)
    drafts = spot_drafts(size)
    new_spots = [NewSpot(level=d.level, number=d.number, sort_key=spot_sort_key(d.number), type=d.type) for d in drafts]
    repository_samples: list[float] = []
    service_samples: list[float] = []
    service_garages: list[str] = []

    async def garage(run: str) -> str:
        created = await services.garages.create(
            name=f"bench {run}",
            address="1 Bench Street",
            timezone="UTC",
            currency="EUR",
            capacity=size + 10,
            actor=ACTOR,
        )
        return created.id

    try:
        warm_up = spot_drafts(WARM_UP_SPOTS)
        warm_up_garage = await garage("warm-up repository")
        async with data_layer.batch(actor=ACTOR) as unit:
            await unit.spots.create_many(
                warm_up_garage,
                [
                    NewSpot(level=d.level, number=d.number, sort_key=spot_sort_key(d.number), type=d.type)
                    for d in warm_up
                ],
            )
        await services.spots.create(await garage("warm-up service"), warm_up, actor=ACTOR)
        for run in range(runs):
            garage_id = await garage(f"repository {run}")
            async with data_layer.batch(actor=ACTOR) as unit:
                started = time.perf_counter()
                created = await unit.spots.create_many(garage_id, new_spots)
                repository_samples.append(time.perf_counter() - started)
            assert len(created) == size
            garage_id = await garage(f"service {run}")
            started = time.perf_counter()
            created = await services.spots.create(garage_id, drafts, actor=ACTOR)
            service_samples.append(time.perf_counter() - started)
            assert len(created) == size
            service_garages.append(garage_id)
    finally:
        await db.disconnect()

    http_samples = bench_spots_http(work, drafts, runs)

    # baselines: the rows the first service run wrote, deleted from a copy, then inserted again
    garage_id = service_garages[0]
    spot_columns, spot_rows = rows_of(database, "Spot", 'WHERE "garageId" = ?', (garage_id,))
    audit_columns, audit_rows = rows_of(
        database,
        "AuditLog",
        'WHERE "entity" = \'Spot\' AND "entityId" IN (SELECT id FROM "Spot" WHERE "garageId" = ?)',
        (garage_id,),
    )
    assert len(spot_rows) == size and len(audit_rows) == size, (len(spot_rows), len(audit_rows))
    baseline_samples: dict[str, list[float]] = {"sqlite3 spots": [], "sqlite3 spots+audit": []}
    for _run in range(runs):
        for name, batches in (
            ("sqlite3 spots", [("Spot", spot_columns, spot_rows)]),
            ("sqlite3 spots+audit", [("Spot", spot_columns, spot_rows), ("AuditLog", audit_columns, audit_rows)]),
        ):
            copy = copy_database(database, work / "spots-baseline.db")
            connection = sqlite3_connection(copy)
            try:
                connection.execute("BEGIN")
                connection.execute(
                    'DELETE FROM "AuditLog" WHERE "entity" = \'Spot\' AND "entityId" IN '
                    '(SELECT id FROM "Spot" WHERE "garageId" = ?)',
                    (garage_id,),
                )
                connection.execute('DELETE FROM "Spot" WHERE "garageId" = ?', (garage_id,))
                connection.execute("COMMIT")
            finally:
                connection.close()
            baseline_samples[name].append(timed_executemany(copy, batches))
    operation = "spots create"
    return [
        Result(operation, "repository create_many", size, repository_samples, size, "sqlite3 spots"),
        Result(operation, "service (POST body)", size, service_samples, size, "sqlite3 spots+audit"),
        Result(operation, "http POST, 1 worker", size, http_samples, size, "sqlite3 spots+audit"),
        Result(operation, "sqlite3 spots", size, baseline_samples["sqlite3 spots"], size),
        Result(operation, "sqlite3 spots+audit", size, baseline_samples["sqlite3 spots+audit"], size),
    ]


def bench_spots_http(work: Path, drafts: Sequence[SpotDraft], runs: int) -> list[float]:
    server_dir = work / "server"
    server_dir.mkdir()
    server: LiveServer = start_server(
        server_dir,
        env={
            "GARAGE_REPLICATION": "false",
            "GARAGE_BACKUP_INTERVAL_HOURS": "0",
            "GARAGE_INTEGRITY_CHECK_INTERVAL_HOURS": "0",
        },
    )
    body = json.dumps({"spots": [{"level": d.level, "number": d.number, "type": d.type} for d in drafts]}).encode()
    warm_up = json.dumps(
        {"spots": [{"level": d.level, "number": d.number, "type": d.type} for d in spot_drafts(WARM_UP_SPOTS)]}
    ).encode()
    samples: list[float] = []
    try:
        client = server.client(ADMIN_KEY)

        def garage(name: str) -> str:
            response = client.post(
                f"{API}/garages",
                json={
                    "name": name,
                    "address": "1 Bench Street",
                    "timezone": "UTC",
                    "currency": "EUR",
                    "capacity": len(drafts) + 10,
                },
            )
            response.raise_for_status()
            return str(response.json()["id"])

        client.post(
            f"{API}/garages/{garage('bench http warm-up')}/spots",
            content=warm_up,
            headers={"content-type": "application/json"},
        ).raise_for_status()
        for run in range(runs):
            garage_id = garage(f"bench http {run}")
            started = time.perf_counter()
            response = client.post(
                f"{API}/garages/{garage_id}/spots", content=body, headers={"content-type": "application/json"}
            )
            samples.append(time.perf_counter() - started)
            if response.status_code != 201:
                raise RuntimeError(f"bulk spot create answered {response.status_code}: {response.text[:500]}")
    finally:
        server.stop()
    return samples


# ---- legacy import ---------------------------------------------------------------------------


def bench_import(work: Path, size: int, runs: int) -> list[Result]:
    snapshot, records = write_snapshot(size, work)
    first: list[float] = []
    second: list[float] = []
    peaks: list[int] = []
    imported = work / f"import-{size}.db"
    for _run in range(runs):
        for stale in work.glob(f"import-{size}.db*"):
            stale.unlink()
        apply_migrations(imported)
        for samples in (first, second):
            measured = measured_import(snapshot, imported)
            samples.append(measured.seconds)
            peaks.append(measured.peak_rss_bytes)
    log(
        f"legacy import {size}: peak RSS of the garage process {max(peaks) / MIB:.0f} MiB "
        f"({max(peaks) / snapshot.stat().st_size:.1f}x the {snapshot.stat().st_size / MIB:.1f} MiB snapshot)"
    )
    # baseline: every row the import wrote, inserted with executemany into a fresh migrated file
    batches = [(table, *rows_of(imported, table)) for table in TABLES]
    written = sum(len(rows) for _, _, rows in batches)
    baseline: list[float] = []
    for _run in range(runs):
        target = work / f"import-baseline-{size}.db"
        for stale in work.glob(f"import-baseline-{size}.db*"):
            stale.unlink()
        apply_migrations(target)
        baseline.append(timed_executemany(target, batches))
    snapshot.unlink()
    operation = "legacy import"
    return [
        Result(operation, "garage import-memory-store", size, first, records, f"sqlite3 {written:,} rows"),
        Result(operation, "same file again (skipped)", size, second, records),
        Result(operation, f"sqlite3 {written:,} rows", size, baseline, records),
    ]


# ---- archive ---------------------------------------------------------------------------------


def archive_baseline(live: Path, archive: Path, before: str) -> float:
    """sqlite3 moving what `garage archive --before` moves, in one transaction."""
    connection = sqlite3_connection(live)
    try:
        connection.execute("ATTACH DATABASE ? AS archive", (str(archive),))
        chosen = 'SELECT id FROM main."Session" WHERE status = \'COMPLETED\' AND "endTime" < ?'
        started = time.perf_counter()
        connection.execute("BEGIN IMMEDIATE")
        connection.execute(f"CREATE TEMP TABLE moving AS {chosen}", (before,))
        for table, key in (("Garage", "garageId"), ("Spot", "spotId"), ("Vehicle", "vehicleId")):
            connection.execute(
                f'INSERT INTO archive."{table}" SELECT * FROM main."{table}" WHERE id IN '
                f'(SELECT "{key}" FROM main."Session" WHERE id IN (SELECT id FROM moving))'
            )
        connection.execute(
            'INSERT INTO archive."Session" SELECT * FROM main."Session" WHERE id IN (SELECT id FROM moving)'
        )
        for table in ("Ticket", "Payment"):
            connection.execute(
                f'INSERT INTO archive."{table}" SELECT * FROM main."{table}" '
                f'WHERE "sessionId" IN (SELECT id FROM moving)'
            )
        for table in ("Payment", "Ticket"):
            connection.execute(f'DELETE FROM main."{table}" WHERE "sessionId" IN (SELECT id FROM moving)')
        connection.execute('DELETE FROM main."Session" WHERE id IN (SELECT id FROM moving)')
        connection.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        connection.close()


def bench_archive(work: Path, size: int, runs: int, cache_dir: Path) -> list[Result]:
    cutoff = datetime.fromisoformat(ARCHIVE_CUTOFF).replace(tzinfo=UTC)
    fixture = asyncio.run(fixtures.cached(cache_dir, fixtures.Shape(sessions=size, completed_before=cutoff), log=log))
    samples: list[float] = []
    baseline: list[float] = []
    for _run in range(runs):
        live, archive = work / "archive-live.db", work / "archive-archive.db"
        for stale in [*work.glob("archive-live.db*"), *work.glob("archive-archive.db*")]:
            stale.unlink()
        fixtures.copy(fixture, live)
        env = {
            **os.environ,
            "GARAGE_ENV": "test",
            "DATABASE_URL": f"file:{live}",
            "GARAGE_ARCHIVE_URL": f"file:{archive}",
        }
        started = time.perf_counter()
        result = subprocess_run([sys.executable, "-m", "garage", "archive", "--before", ARCHIVE_CUTOFF], env)
        samples.append(time.perf_counter() - started)
        if f"archived {size} sessions" not in result:
            raise RuntimeError(f"garage archive did not move {size} sessions: {result}")

        for stale in [*work.glob("archive-live.db*"), *work.glob("archive-archive.db*")]:
            stale.unlink()
        fixtures.copy(fixture, live)
        apply_migrations(archive)
        baseline.append(archive_baseline(live, archive, f"{ARCHIVE_CUTOFF}T00:00:00.000+00:00"))
        with sqlite3.connect(archive) as check:
            moved = check.execute('SELECT count(*) FROM "Session"').fetchone()[0]
        check.close()
        if moved != size:
            raise RuntimeError(f"the sqlite3 baseline moved {moved} sessions, not {size}")
    operation = "archive"
    return [
        Result(operation, "garage archive (batches of 500)", size, samples, size, "sqlite3 move"),
        Result(operation, "sqlite3 move", size, baseline, size),
    ]


def subprocess_run(command: list[str], env: dict[str, str]) -> str:
    import subprocess

    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr}")
    return result.stdout


# ---- output ----------------------------------------------------------------------------------


def target_of(result: Result, quick: bool) -> float | None:
    """The target in seconds, for the benchmarked paths at the full sizes only."""
    return None if quick or result.baseline is None else TARGETS.get((result.operation, result.size))


def verdict(result: Result, quick: bool) -> str:
    target = target_of(result, quick)
    return "-" if target is None else "met" if result.percentile(0.95) <= target else "MISSED"


def ratio(result: Result, results: list[Result]) -> float | None:
    base = next(
        (r for r in results if (r.operation, r.size, r.path) == (result.operation, result.size, result.baseline)), None
    )
    return None if base is None else result.median / base.median


def table(results: list[Result], quick: bool) -> str:
    header = (
        f"{'operation':<15}{'path':<32}{'size':>8}{'runs':>5}{'median s':>10}{'p95 s':>9}{'p99 s':>9}"
        f"{'rows/s':>10}{'x base':>8}{'target':>9}  {'met':<6}"
    )
    lines = [header, "-" * len(header)]
    for r in results:
        times, target = ratio(r, results), target_of(r, quick)
        lines.append(
            f"{r.operation:<15}{r.path:<32}{r.size:>8,}{len(r.samples):>5}{r.median:>10.3f}"
            f"{r.percentile(0.95):>9.3f}{r.percentile(0.99):>9.3f}{r.rows / r.median:>10,.0f}"
            f"{'-' if times is None else format(times, '.1f') + 'x':>8}"
            f"{'-' if target is None else '<= ' + format(target, 'g') + ' s':>9}  {verdict(r, quick):<6}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"small sizes ({QUICK.spots} spots, imports of {QUICK.imports}, archive of {QUICK.archive}), 1 run",
    )
    parser.add_argument("--runs", type=int, default=None, help="runs per operation and path (default 3; --quick 1)")
    parser.add_argument(
        "--only", nargs="+", choices=["spots", "import", "archive"], default=["spots", "import", "archive"]
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "garage-bench-cache",
        help="where the archive benchmark's session files are built once and kept",
    )
    args = parser.parse_args()
    runs = args.runs or (1 if args.quick else 3)
    sizes = QUICK if args.quick else FULL
    os.environ.setdefault("ENGINE_SLOW_QUERY_MS", "-1")  # bulk statements are slow on purpose: keep stderr quiet
    started = time.perf_counter()
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bulk-bench-") as tmp:
        work = Path(tmp)
        if "spots" in args.only:
            log(f"spots create {sizes.spots} x {runs} ...")
            results += asyncio.run(bench_spots(work, sizes.spots, runs))
        if "import" in args.only:
            for size in sizes.imports:
                log(f"legacy import {size} x {runs} ...")
                results += bench_import(work, size, runs)
        if "archive" in args.only:
            log(f"archive {sizes.archive} x {runs} ...")
            results += bench_archive(work, sizes.archive, runs, args.cache_dir)
    print(
        f"bulk benchmark{' (--quick: small sizes, targets not applied)' if args.quick else ''}: "
        f"{runs} run(s) each, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}, "
        f"{time.perf_counter() - started:.0f} s"
    )
    print(table(results, args.quick))
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                [
                    {
                        **asdict(r),
                        "median": r.median,
                        "p95": r.percentile(0.95),
                        "p99": r.percentile(0.99),
                        "rows_per_s": r.rows / r.median,
                        "x_baseline": ratio(r, results),
                        "target_s": target_of(r, args.quick),
                        "verdict": verdict(r, args.quick),
                    }
                    for r in results
                ],
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
