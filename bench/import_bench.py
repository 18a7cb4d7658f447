"""Times `garage import-memory-store` on generated snapshots (bench/legacy_snapshot.py) of 10k and
100k records, each into a fresh migrated database, then the idempotent second run of the same file.

    .venv/bin/python bench/import_bench.py [N ...]      (default: 10000 100000)

Runs the real command as a process, so the figures include start-up, reading and checking the
snapshot, the existence checks, encryption and the one transaction.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.legacy_snapshot import build  # noqa: E402
from tests.database import apply_migrations  # noqa: E402


def timed_import(snapshot: Path, database: Path) -> float:
    env = {**os.environ, "DATABASE_URL": f"file:{database}", "GARAGE_ENV": "test"}
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "garage", "import-memory-store", str(snapshot)], cwd=REPO, env=env,
                            capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"import failed:\n{result.stderr}")
    return elapsed


def main() -> None:
    import json

    sizes = [int(arg) for arg in sys.argv[1:]] or [10_000, 100_000]
    with tempfile.TemporaryDirectory() as work:
        for size in sizes:
            snapshot, database = Path(work) / f"snapshot-{size}.json", Path(work) / f"garage-{size}.db"
            snapshot.write_text(json.dumps(build(size)))
            apply_migrations(database)
            first = timed_import(snapshot, database)
            second = timed_import(snapshot, database)
            print(f"{size:>7} records: import {first:6.1f} s ({size / first:,.0f} records/s); "
                  f"second run (all skipped) {second:5.1f} s")


if __name__ == "__main__":
    main()
