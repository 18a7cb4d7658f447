"""Times `garage import-memory-store` on generated snapshots (bench/legacy_snapshot.py) of 10k and
100k records, each into a fresh migrated database, then the idempotent second run of the same file,
and reports each run's peak memory.

    .venv/bin/python bench/import_bench.py [N ...]      (default: 10000 100000)

Runs the real command as a process, so the figures include start-up, reading and checking the
snapshot, the existence checks, encryption and the one transaction. The peak is the `garage`
Python process's own peak RSS (ru_maxrss, reported by the process as it exits), where the snapshot
is parsed and checked; the query engine is a Node process of its own and not counted. About 80 MiB
of it is the interpreter and the client before the snapshot is opened. bench/bulk_bench.py reuses
`write_snapshot` and `measured_import` (with more runs, percentiles and a sqlite3 baseline).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.legacy_snapshot import build  # noqa: E402
from tests.database import apply_migrations  # noqa: E402

# Runs the garage command, then reports the process's peak RSS on stderr as it exits (SystemExit included).
PEAK_REPORTING = (
    "import atexit, resource, runpy, sys\n"
    "atexit.register(lambda: print("
    "f'peak-rss-kib {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}', file=sys.stderr))\n"
    "runpy.run_module('garage', run_name='__main__', alter_sys=True)\n"
)
MIB = 1024 * 1024


@dataclass(frozen=True)
class ImportRun:
    seconds: float
    peak_rss_bytes: int


@dataclass(frozen=True)
class ImportTiming:
    records: int
    snapshot_bytes: int
    first: ImportRun
    second: ImportRun

    def peak_line(self, run: ImportRun) -> str:
        return (
            f"peak RSS {run.peak_rss_bytes / MIB:5.0f} MiB "
            f"({run.peak_rss_bytes / self.snapshot_bytes:4.1f}x the snapshot)"
        )


def write_snapshot(size: int, directory: Path) -> tuple[Path, int]:
    """A snapshot of about `size` records as a JSON file; returns it and its exact record count."""
    snapshot = build(size)
    path = directory / f"snapshot-{size}.json"
    path.write_text(json.dumps(snapshot))
    return path, sum(map(len, snapshot.values()))


def measured_import(snapshot: Path, database: Path) -> ImportRun:
    """`garage import-memory-store snapshot` against `database` (a process of its own): its seconds
    and its peak RSS."""
    env = {**os.environ, "DATABASE_URL": f"file:{database}", "GARAGE_ENV": "test"}
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", PEAK_REPORTING, "import-memory-store", str(snapshot)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"import failed:\n{result.stderr}")
    peaks = re.findall(r"^peak-rss-kib (\d+)$", result.stderr, re.MULTILINE)
    return ImportRun(seconds=elapsed, peak_rss_bytes=int(peaks[-1]) * 1024)


def import_twice(snapshot: Path, records: int, database: Path) -> ImportTiming:
    """A fresh migrated `database`, the import, then the same import again (everything skipped)."""
    apply_migrations(database)
    first = measured_import(snapshot, database)
    return ImportTiming(
        records=records, snapshot_bytes=snapshot.stat().st_size, first=first, second=measured_import(snapshot, database)
    )


def main() -> None:
    sizes = [int(arg) for arg in sys.argv[1:]] or [10_000, 100_000]
    with tempfile.TemporaryDirectory() as work:
        for size in sizes:
            snapshot, records = write_snapshot(size, Path(work))
            timing = import_twice(snapshot, records, Path(work) / f"garage-{size}.db")
            print(
                f"{size:>7} records, {timing.snapshot_bytes / MIB:.1f} MiB: import {timing.first.seconds:6.1f} s "
                f"({size / timing.first.seconds:,.0f} records/s), {timing.peak_line(timing.first)}; "
                f"second run (all skipped) {timing.second.seconds:5.1f} s, {timing.peak_line(timing.second)}"
            )


if __name__ == "__main__":
    main()
