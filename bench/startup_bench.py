"""Start-up time: a new database, and the service from launch until it serves.

    .venv/bin/python bench/startup_bench.py [--runs N] [--workers 1 2] [--json PATH]   (make bench-startup)
    .venv/bin/python bench/startup_bench.py --quick                                       (1 run each, ~15 s)

Measures, N runs each, and prints median / p95 / p99 (nearest rank; with few runs p95 and p99 are
the slowest run):
  (a) database initialisation on an empty file, with bench/db_init_bench.py's own functions:
      `prisma migrate deploy` (Prisma CLI on the wasm schema engine), then the engine's start
      (Prisma Client Python connect() spawning engine/) and a first query;
  (b) service start: `python -m garage serve --workers W` launched on a migrated empty file
      (tests/database.py; GARAGE_ENV=test, an admin key to ensure, replication and scheduled
      backups off, log level info) until GET /health answers 200 (the process serves HTTP), until
      GET /ready answers 200 (database reachable, migrations applied: what a load balancer waits
      for; with 2 workers, the first worker that answers), both polled every 10 ms, and until every
      worker logged uvicorn's "Application startup complete." (all W workers serve); then the time
      from SIGTERM to the main process (as tests/api/conftest.py stops it) until it exited.
  also: a fresh interpreter importing the service's modules (`import garage.cli, garage.app`),
      the share of start-up spent before any of the service's own work;
  baseline: a bare Starlette app with the same uvicorn settings (uvloop, httptools, W workers)
      and a constant /ready, launched and polled the same way in the same run: Python + uvicorn's
      own start-up. `x bare` is each serve row's median over the bare app's at the same workers.
Targets: database initialisation <= 3 s, service ready <= 3 s (judged on p95); met / MISSED beside
the figures. Lines the service logged above INFO (warnings, errors) are printed after the table.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import math
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench import db_init_bench  # noqa: E402  (part (a): reused, not duplicated)
from tests.api.conftest import ADMIN_KEY, free_port  # noqa: E402
from tests.database import apply_migrations  # noqa: E402

TARGET_S = 3.0
POLL_S = 0.01
LIMIT_S = 60.0
STARTUP_COMPLETE = b"Application startup complete."  # uvicorn logs it once per worker (level info)
BARE_APP = '''"""A bare Starlette app: the start-up floor of Python + uvicorn (bench/startup_bench.py)."""
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


async def ok(_: Request) -> Response:
    return JSONResponse({"status": "ok"})


app = Starlette(routes=[Route("/health", ok), Route("/ready", ok)])
'''


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))] if ordered else math.nan


def launch_until_ready(command: list[str], env: dict[str, str], port: int, workers: int, log: Path) -> dict[str, float]:
    """Seconds from launch until /health and /ready answer 200 and until every worker logged
    uvicorn's "Application startup complete."; then from SIGTERM (to the main process, as
    tests/api/conftest.py stops it) until the main process exited."""
    url = f"http://127.0.0.1:{port}"
    times: dict[str, float] = {}
    with log.open("wb") as out, httpx.Client(timeout=2) as http:
        started = time.perf_counter()
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env={**env, "PYTHONUNBUFFERED": "1"},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            while "ready" not in times or "all workers" not in times:
                now = time.perf_counter() - started
                if process.poll() is not None or now > LIMIT_S:
                    raise RuntimeError(f"{' '.join(command)} exited or never got ready:\n{log.read_text()[-3000:]}")
                if "all workers" not in times and log.read_bytes().count(STARTUP_COMPLETE) >= workers:
                    times["all workers"] = now
                name = "health" if "health" not in times else "ready"
                if name not in times:
                    try:
                        if http.get(f"{url}/{name}").status_code == 200:
                            times[name] = time.perf_counter() - started
                            continue  # on to /ready at once
                    except httpx.HTTPError:
                        pass  # not listening yet
                time.sleep(POLL_S)
        finally:
            stopping = time.perf_counter()
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            times["stop"] = time.perf_counter() - stopping
            try:
                os.killpg(process.pid, signal.SIGKILL)  # anything the main process left behind
            except ProcessLookupError:
                pass
    return times


BENCH_SECRET_KEY = secrets.token_urlsafe(32)
BENCH_ENCRYPTION_KEYS = "bench:" + base64.b64encode(secrets.token_bytes(32)).decode()


def _info_line(line: str) -> bool:
    """An INFO line of the service's log: JSON (GARAGE_ENV=test) or uvicorn's plain format."""
    if line.startswith("{"):
        try:
            return bool(json.loads(line).get("level") == "INFO")
        except ValueError:
            return False
    return line.startswith("INFO:")


def serve_env(database: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GARAGE_")}
    # secrets given as production gives them (a database without them would first generate its own)
    return {
        **env,
        "GARAGE_ENV": "test",
        "DATABASE_URL": f"file:{database}",
        "GARAGE_ADMIN_API_KEY": ADMIN_KEY,
        "GARAGE_SECRET_KEY": BENCH_SECRET_KEY,
        "GARAGE_ENCRYPTION_KEYS": BENCH_ENCRYPTION_KEYS,
        "GARAGE_LOG_LEVEL": "info",
        "GARAGE_REPLICATION": "false",
        "GARAGE_BACKUP_INTERVAL_HOURS": "0",
        "GARAGE_INTEGRITY_CHECK_INTERVAL_HOURS": "0",
    }


def garage_serve(tmp: Path, run: int, workers: int) -> dict[str, float]:
    database = tmp / f"serve-w{workers}-{run}.db"
    apply_migrations(database)
    port = free_port()
    log = tmp / f"serve-w{workers}-{run}.log"
    return launch_until_ready(
        [sys.executable, "-m", "garage", "serve", "--port", str(port), "--workers", str(workers)],
        serve_env(database),
        port,
        workers,
        log,
    )


def bare_uvicorn(tmp: Path, run: int, workers: int) -> dict[str, float]:
    port = free_port()
    return launch_until_ready(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bare_app:app",
            "--app-dir",
            str(tmp),
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--log-level",
            "info",
        ],
        serve_env(tmp / "unused.db"),
        port,
        workers,
        tmp / f"bare-w{workers}-{run}.log",
    )


def import_time() -> float:
    """Seconds for a fresh interpreter to import the service's modules (part of every start)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import garage.cli, garage.app"], cwd=REPO, check=True)
    return time.perf_counter() - started


def db_init(tmp: Path, run: int) -> dict[str, float]:
    database = tmp / f"init-{run}.db"
    deploy = db_init_bench.deploy(database)
    connect, first_query = asyncio.run(db_init_bench.engine_start(database))
    return {
        "migrate deploy": deploy,
        "engine connect": connect,
        "first query": first_query,
        "total": deploy + connect + first_query,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, help="runs of each measurement (default 5; --quick: 1)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="uvicorn worker counts (default 1 2)")
    parser.add_argument("--quick", action="store_true", help="one run of each (smoke test)")
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    args = parser.parse_args()
    runs = args.runs or (1 if args.quick else 5)
    os.environ.setdefault("PRISMA_QUERY_ENGINE_BINARY", str(REPO / "engine" / "bin" / "query-engine.js"))

    samples: dict[str, list[float]] = {}
    groups: dict[str, tuple[str, str | None, float | None]] = {}  # row -> (section, baseline row, target)

    def add(row: str, value: float, section: str, baseline: str | None = None, target: float | None = None) -> None:
        samples.setdefault(row, []).append(value)
        groups[row] = (section, baseline, target)

    with tempfile.TemporaryDirectory(prefix="startup-bench-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "bare_app.py").write_text(BARE_APP)
        for run in range(runs):
            init = db_init(tmp, run)
            add("prisma migrate deploy", init["migrate deploy"], "(a) database initialisation, empty file")
            add("engine connect", init["engine connect"], "(a) database initialisation, empty file")
            add("first query", init["first query"], "(a) database initialisation, empty file")
            add(
                "total: migrate deploy + engine + query",
                init["total"],
                "(a) database initialisation, empty file",
                target=TARGET_S,
            )
            add("python -c 'import garage.cli, garage.app'", import_time(), "(b) service start: its parts")
            for workers in args.workers:  # interleaved, so that a busy moment hits every row alike
                section = f"(b) service start, {workers} worker{'s' if workers > 1 else ''}"
                base_ready, base_all = (
                    f"bare uvicorn /ready, w={workers} (baseline)",
                    f"bare uvicorn all workers started, w={workers} (baseline)",
                )
                bare = bare_uvicorn(tmp, run, workers)
                add(base_ready, bare["ready"], section)
                add(base_all, bare["all workers"], section)
                served = garage_serve(tmp, run, workers)
                add(f"garage serve /health 200, w={workers}", served["health"], section, baseline=base_ready)
                add(
                    f"garage serve /ready 200, w={workers}",
                    served["ready"],
                    section,
                    baseline=base_ready,
                    target=TARGET_S,
                )
                add(
                    f"garage serve all workers started, w={workers}",
                    served["all workers"],
                    section,
                    baseline=base_all,
                    target=TARGET_S,
                )
                add(f"garage serve stop (SIGTERM), w={workers}", served["stop"], section)
        # Anything above INFO (warnings, errors, tracebacks) from the service's runs.
        serve_log = [
            line
            for log in sorted(tmp.glob("serve-*.log"))
            for line in log.read_text(errors="replace").splitlines()
            if line.strip() and not _info_line(line)
        ]

    rows: list[dict[str, Any]] = []
    for name, values in samples.items():
        section, baseline, target = groups[name]
        rows.append(
            {
                "section": section,
                "row": name,
                "runs": len(values),
                "median_s": statistics.median(values),
                "p95_s": percentile(values, 0.95),
                "p99_s": percentile(values, 0.99),
                "baseline": baseline,
                "target_s": target,
                "samples_s": values,
            }
        )
    medians = {r["row"]: r["median_s"] for r in rows}
    for r in rows:
        r["x_baseline"] = r["median_s"] / medians[r["baseline"]] if r["baseline"] else None
        r["verdict"] = None if r["target_s"] is None else ("met" if r["p95_s"] <= r["target_s"] else "MISSED")

    print(
        f"Start-up times, {runs} run{'s' if runs > 1 else ''} each (seconds; p95/p99 nearest rank; "
        f"x bare: median / the bare uvicorn app's median at the same workers, same run; targets judged on p95)"
    )
    print(f"{'':<50} {'median':>7} {'p95':>7} {'p99':>7} {'x bare':>7}  target")
    section = ""
    for r in rows:
        if r["section"] != section:
            section = r["section"]
            print(section)
        ratio = f"{r['x_baseline']:7.2f}" if r["x_baseline"] is not None else f"{'':>7}"
        goal = f"<= {r['target_s']:g} s {r['verdict']}" if r["target_s"] is not None else ""
        print(f"  {r['row']:<48} {r['median_s']:>7.3f} {r['p95_s']:>7.3f} {r['p99_s']:>7.3f} {ratio}  {goal}")
    if serve_log:
        print(f"\nserver log: {len(serve_log)} lines above INFO; first 20:")
        print("\n".join(f"  {line}" for line in serve_log[:20]))
    else:
        print("\nserver log: nothing above INFO")
    if args.json:
        args.json.write_text(
            json.dumps({"runs": runs, "workers": args.workers, "rows": rows, "server_log": serve_log}, indent=1)
        )


if __name__ == "__main__":
    main()
