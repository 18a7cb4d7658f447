"""Database initialisation time: what a fresh install or a new test database costs.

    .venv/bin/python bench/db_init_bench.py [--runs N]        (make bench-db-init)

Each run, on a new empty file:
  1. `prisma migrate deploy` through the project's front door (Prisma CLI 6.19.3 on the wasm
     schema engine): Node start, config load, all migrations applied;
  2. engine start: Prisma Client Python's `connect()` spawning our engine (engine/, Node + the
     5.17 wasm query engine) until it answers, then a first query (`count` of garages).
Prints every run and the medians; the goal is a total under 3 s. Needs the product client
(`make generate`) and node_modules.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOAL_S = 3.0


def deploy(db: Path) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PRISMA_", "GARAGE_"))}
    env["DATABASE_URL"] = f"file:{db}"
    started = time.perf_counter()
    result = subprocess.run(
        [str(REPO / "tools" / "prisma"), "migrate", "deploy"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0 or "successfully applied" not in result.stdout:
        sys.exit(f"prisma migrate deploy failed:\n{result.stdout}\n{result.stderr}")
    return elapsed


async def engine_start(db: Path) -> tuple[float, float]:
    from prisma import Prisma

    client = Prisma(datasource={"url": f"file:{db}"})
    started = time.perf_counter()
    await client.connect()
    connected = time.perf_counter() - started
    count = await client.garage.count()
    first_query = time.perf_counter() - started - connected
    await client.disconnect()
    assert count == 0
    return connected, first_query


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("PRISMA_QUERY_ENGINE_BINARY", str(REPO / "engine" / "bin" / "query-engine.js"))

    rows = []
    with tempfile.TemporaryDirectory(prefix="db-init-bench-") as tmp:
        for run in range(args.runs):
            db = Path(tmp) / f"run{run}.db"
            t_deploy = deploy(db)
            t_connect, t_query = asyncio.run(engine_start(db))
            rows.append((t_deploy, t_connect, t_query, t_deploy + t_connect + t_query))

    print(f"Database initialisation on an empty file, {args.runs} runs (seconds)")
    print(f"{'run':>4} {'migrate deploy':>15} {'engine connect':>15} {'first query':>12} {'total':>8}")
    for i, (d, c, q, t) in enumerate(rows, 1):
        print(f"{i:>4} {d:>15.3f} {c:>15.3f} {q:>12.4f} {t:>8.3f}")
    med = [statistics.median(col) for col in zip(*rows, strict=True)]
    print(f"{'med':>4} {med[0]:>15.3f} {med[1]:>15.3f} {med[2]:>12.4f} {med[3]:>8.3f}")
    verdict = "within" if med[3] < GOAL_S else "OVER"
    print(
        f"median total {med[3]:.2f} s: {verdict} the {GOAL_S:.0f} s goal "
        f"(migrate deploy {med[0] / med[3]:.0%}, engine start {med[1] / med[3]:.0%})"
    )


if __name__ == "__main__":
    main()
