"""Times `garage import-memory-store` on generated snapshots (bench/legacy_snapshot.py) of 10k and
100k records, each into a fresh migrated database, then the idempotent second run of the same file.

    .venv/bin/python bench/import_bench.py [N ...]      (default: 10000 100000)

Runs the real command as a process, so the figures include start-up, reading and checking the
snapshot, the existence checks, encryption and the one transaction. bench/bulk_bench.py reuses
`write_snapshot` and `timed_import` (with more runs, percentiles and a sqlite3 baseline).
"""

from __future__ import annotations

import json
import os
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


@dataclass(frozen=True)
class ImportTiming:
    records: int
    first_s: float
    second_s: float


def write_snapshot(size: int, directory: Path) -> tuple[Path, int]:
    """A snapshot of about `size` records as a JSON file; returns it and its exact record count."""
    snapshot = build(size)
    path = directory / f"snapshot-{size}.json"
    path.write_text(json.dumps(snapshot))
    return path, sum(map(len, snapshot.values()))


def timed_import(snapshot: Path, database: Path) -> float:
    """Seconds `garage import-memory-store snapshot` takes against `database` (a process of its own)."""
    env = {**os.environ, "DATABASE_URL": f"file:{database}", "GARAGE_ENV": "test"}
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "garage", "import-memory-store", str(snapshot)], cwd=REPO, env=env,
                            capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"import failed:\n{result.stderr}")
    return elapsed


def import_twice(snapshot: Path, records: int, database: Path) -> ImportTiming:
    """A fresh migrated `database`, the import, then the same import again (everything skipped)."""
    apply_migrations(database)
    return ImportTiming(records=records, first_s=timed_import(snapshot, database), second_s=timed_import(snapshot, database))


def main() -> None:
    sizes = [int(arg) for arg in sys.argv[1:]] or [10_000, 100_000]
    with tempfile.TemporaryDirectory() as work:
        for size in sizes:
            snapshot, records = write_snapshot(size, Path(work))
            timing = import_twice(snapshot, records, Path(work) / f"garage-{size}.db")
            print(f"{size:>7} records: import {timing.first_s:6.1f} s ({size / timing.first_s:,.0f} records/s); "
                  f"second run (all skipped) {timing.second_s:5.1f} s")


if __name__ == "__main__":
    main()
