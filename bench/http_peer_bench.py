"""Garage against an HTTP-level peer: the same three endpoints (GET a session, check-in, check-out)
on Starlette + SQLAlchemy 2 async + aiosqlite (bench/http_peer_app.py), over a copy of the same
migrated file with the same data, driven by the same load generator in the same run.

    .venv/bin/python bench/http_peer_bench.py                      (make bench-http-peer; ~6 minutes)
    .venv/bin/python bench/http_peer_bench.py --quick              (1 worker, 1 and 8 clients, ~25 s)
    .venv/bin/python bench/http_peer_bench.py --workers 2 --clients 32 --duration 20 --json out.json

For each worker count: `garage serve --workers W` is started as bench/http_load.py starts it
(tests/api/conftest.py start_server: GARAGE_ENV=test, a fresh migrated file, replication and backups
off, log level warning) and its data built through its API by http_load.build_data (API keys, a
garage whose sessions are read, half of them checked out, a garage for check-in/check-out cycles).
Then the file is copied with SQLite's online backup (tests/database.py copy_database: the same rows,
ids, API key hashes and the development secret they are keyed with) and the peer is served on the
copy by uvicorn with the same worker count, event loop (uvloop) and HTTP parser (httptools). Before
any load both sides must answer GET of the same session with the same JSON, a check-in and a
check-out with the same JSON shape (the same keys, the same value types), and (unless
--peer-events off) write the same events for them.

Scenarios, each at every --clients count, on each side in turn (the order alternates from one
(scenario, clients) to the next). The side not measured stays up and idle; its CPU over the window
is printed (`idle side CPU`: Garage's idle work, its event watchers and scheduler, is a few % of a
core; pausing it with SIGSTOP was not done: uvicorn's supervisor may take a worker that was stopped
during its health-check ping for dead and restart it):
  session           GET /api/v1/sessions/{id} of the read garage's sessions, a viewer key
  checkin_checkout  each client loops: check in a fresh plate (CAR), check its session out (CARD),
                    an operator key
The load generator is bench/load_client.py, in its own process, exactly as http_load.py runs it
(aiohttp, keep-alive, one connection per client, warm-up not recorded); `session` is a scenario
this script adds to its Load class (`--load-client` mode below): GET session only, ids picked as
its `reads` scenario picks them.

Output: per (workers, side, scenario, clients, request): requests, 2xx/s, p50/p95/p99 ms; per run the
load client's and the server's CPU (every process of its session: uvicorn and its workers, and
Garage's Node engines), the server's CPU per request and, for Garage, the engines' share of it, and the
idle side's CPU.
Then the comparison, one row per (endpoint, clients, workers): Garage and peer throughput and p95,
`thr x` = peer throughput / Garage's, `p95 x` = Garage p95 / peer's, and the issue's target (Garage
within 1.5x of the peer in throughput and p95) met / MISSED. Any non-2xx answer is an error
(printed with its body; exit status 1), as in http_load.py.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import load_client  # noqa: E402  (the load generator's own imports: stdlib and aiohttp)

LOAD_CLIENT_ONLY = __name__ == "__main__" and "--load-client" in sys.argv[1:]
if not LOAD_CLIENT_ONLY:  # the generator's process needs none of these (the servers, the data)
    from bench.http_load import SERVER_ENV, Sizes, build_data, fmt, session_cpu_seconds
    from garage.config.development_secrets import development_secrets
    from tests.api.conftest import LiveServer, free_port, start_server, wait_until_ready
    from tests.database import copy_database

API = "/api/v1"
SIDES = ("garage", "peer")
SCENARIOS = ("session", "checkin_checkout")
ENDPOINTS = (
    ("GET session", "session", "session"),
    ("check-in", "checkin_checkout", "check-in"),
    ("check-out", "checkin_checkout", "check-out"),
)  # (label, scenario, load_client's request type)
WITHIN = 1.5  # the issue's target: Garage within 1.5x of the peer in throughput and p95


# --- the load generator: load_client.py with one scenario more ------------------------------------------------
class PeerLoad(load_client.Load):
    async def session(self, index: int) -> None:
        """GET /sessions/{id} only, the ids picked as load_client's `reads` scenario picks them."""
        pick = random.Random(index).choice
        ids = self.spec["reads"]["session_ids"]
        while self.running():
            await self.call("session", "GET", f"{API}/sessions/{pick(ids)}", self.viewer)


def load_client_main() -> None:
    """`--load-client`: bench/load_client.py's main (spec on stdin, `measuring`/`finished`, the
    result as JSON), with PeerLoad as its Load."""
    setattr(load_client, "Load", PeerLoad)  # noqa: B010  (load_client.run builds Load(spec, http))
    sys.argv = [sys.argv[0]]
    load_client.main()


def run_client(server: LiveServer, idle: LiveServer, spec: dict[str, Any], log_dir: Path) -> dict[str, Any]:
    """One load run against `server` (http_load.run_client with this script's --load-client as the
    generator); the CPU of `server` and of the `idle` other side are sampled over the measured window."""
    stderr_path = log_dir / "load_client.stderr"
    with stderr_path.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--load-client"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            cwd=REPO,
        )
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(json.dumps({"base_url": server.url, **spec}))
        process.stdin.close()
        marks: dict[str, tuple[float, float, float]] = {}
        result: dict[str, Any] | None = None
        for line in process.stdout:
            line = line.strip()
            if line in ("measuring", "finished"):
                total, engines = session_cpu_seconds(server.process.pid)
                marks[line] = (total, engines, session_cpu_seconds(idle.process.pid)[0])
            elif line.startswith("{"):
                result = json.loads(line)
        process.wait()
    if process.returncode != 0 or result is None or len(marks) != 2:
        raise RuntimeError(f"load client failed ({process.returncode}): {stderr_path.read_text()[-3000:]}")
    result["server_cpu_s"] = marks["finished"][0] - marks["measuring"][0]
    result["engine_cpu_s"] = marks["finished"][1] - marks["measuring"][1]
    result["idle_side_cpu_s"] = marks["finished"][2] - marks["measuring"][2]
    return result


# --- the peer -----------------------------------------------------------------------------------------
def start_peer(tmp: Path, database: Path, workers: int, *, events: bool) -> LiveServer:
    """uvicorn serving bench/http_peer_app.py on `database` (a copy of Garage's file), in a session of
    its own like start_server's."""
    port = free_port()
    log = tmp / "peer.log"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.http_peer_app:app",
            "--app-dir",
            str(REPO),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=REPO,
        env={
            **os.environ,
            "PEER_DATABASE": str(database),
            "PEER_SECRET_KEY": development_secrets(database).secret_key,
            "PEER_EVENTS": "on" if events else "off",
        },
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return wait_until_ready(LiveServer(url=f"http://127.0.0.1:{port}", database=database, process=process, log=log))


# --- same data, same JSON -------------------------------------------------------------------------------------
def shape(value: Any) -> Any:
    """The JSON's keys and value types (a null matches anything: e.g. a fee of 0 vs null is data)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    return type(value).__name__


def same_shape(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_shape(a[k], b[k]) for k in a)
    return a == b or "NoneType" in (a, b)


def check_same_answers(
    servers: dict[str, LiveServer], viewer: str, operator: str, reads: dict[str, Any], garage_id: str, *, events: bool
) -> list[str]:
    """Refuses to measure unless both sides answer alike (module docstring) and, with the peer's
    event log on, write the same events for a check-in and a check-out; returns Garage's event types."""
    session_id = reads["session_ids"][0]
    bodies = {}
    for side, server in servers.items():
        response = httpx.get(f"{server.url}{API}/sessions/{session_id}", headers={"Authorization": f"Bearer {viewer}"})
        if response.status_code != 200:
            raise RuntimeError(f"{side}: GET session -> {response.status_code} {response.text[:500]}")
        bodies[side] = response.json()
    if bodies["garage"] != bodies["peer"]:
        raise RuntimeError(f"GET session differs:\n garage {bodies['garage']}\n peer   {bodies['peer']}")
    shapes: dict[str, list[Any]] = {}
    logged: dict[str, list[str]] = {}
    for side, server in servers.items():
        last_event = max((seq for seq, _ in events_after(server.database, 0)), default=0)
        headers = {"Authorization": f"Bearer {operator}"}
        checked_in = httpx.post(
            f"{server.url}{API}/garages/{garage_id}/check-in",
            headers=headers,
            json={"licensePlate": "SHAPE001", "vehicleType": "CAR"},
        )
        if checked_in.status_code != 201:
            raise RuntimeError(f"{side}: check-in -> {checked_in.status_code} {checked_in.text[:500]}")
        session = checked_in.json()["session"]["id"]
        checked_out = httpx.post(
            f"{server.url}{API}/sessions/{session}/check-out", headers=headers, json={"paymentMethod": "CARD"}
        )
        if checked_out.status_code != 200:
            raise RuntimeError(f"{side}: check-out -> {checked_out.status_code} {checked_out.text[:500]}")
        shapes[side] = [shape(checked_in.json()), shape(checked_out.json())]
        logged[side] = [kind for _, kind in events_after(server.database, last_event)]
    for name, garage_shape, peer_shape in zip(("check-in", "check-out"), shapes["garage"], shapes["peer"], strict=True):
        if not same_shape(garage_shape, peer_shape):
            raise RuntimeError(f"{name} JSON differs:\n garage {garage_shape}\n peer   {peer_shape}")
    if events and logged["garage"] != logged["peer"]:
        raise RuntimeError(f"the event log differs: garage wrote {logged['garage']}, the peer {logged['peer']}")
    return logged["garage"]


def events_after(database: Path, seq: int) -> list[tuple[int, str]]:
    """(seq, type) of the file's events after `seq` (read-only; the servers keep running)."""
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        rows = conn.execute('SELECT "seq", "type" FROM "Event" WHERE "seq" > ? ORDER BY "seq"', (seq,)).fetchall()
    return [(int(row[0]), str(row[1])) for row in rows]


# --- tables -------------------------------------------------------------------------------------------------
def rows_of(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "workers": result["workers"],
            "side": result["side"],
            "scenario": result["scenario"],
            "clients": result["clients"],
            "type": kind,
            **stats,
            "per_s": stats["ok"] / result["window_s"],
        }
        for kind, stats in result["types"].items()
    ]


def print_rows(rows: list[dict[str, Any]]) -> None:
    print(
        f"{'workers':>7} {'side':<6} {'scenario':<16} {'clients':>7} {'request':<14} {'requests':>8} {'ok/s':>8} "
        f"{'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'errors':>6}"
    )
    for r in rows:
        print(
            f"{r['workers']:>7} {r['side']:<6} {r['scenario']:<16} {r['clients']:>7} {r['type']:<14} "
            f"{r['requests']:>8} {r['per_s']:>8.1f} {fmt(r['p50_ms'], '7.2f')} {fmt(r['p95_ms'], '7.2f')} "
            f"{fmt(r['p99_ms'], '7.2f')} {r['errors']:>6}"
        )


def print_runs(runs: list[dict[str, Any]]) -> None:
    print(
        f"{'workers':>7} {'side':<6} {'scenario':<16} {'clients':>7} {'window s':>8} {'req/s':>8} "
        f"{'client CPU':>10} {'server CPU':>10} {'CPU ms/req':>10} {'engine ms/req':>13} {'idle side CPU':>13}"
    )
    for run in runs:
        window = run["window_s"]
        requests = sum(t["ok"] for kind, t in run["types"].items() if kind != "cycle (in+out)")
        per_request = 1000 * run["server_cpu_s"] / requests if requests else math.nan
        engine = 1000 * run["engine_cpu_s"] / requests if requests and run["side"] == "garage" else math.nan
        print(
            f"{run['workers']:>7} {run['side']:<6} {run['scenario']:<16} {run['clients']:>7} {window:>8.2f} "
            f"{requests / window:>8.1f} {run['client_cpu_s'] / window:>10.0%} {run['server_cpu_s'] / window:>10.0%} "
            f"{fmt(per_request, '10.2f')} {fmt(engine, '13.2f')} {run['idle_side_cpu_s'] / window:>13.0%}"
        )


def comparison(rows: list[dict[str, Any]], workers_list: list[int], clients_list: list[int]) -> list[dict[str, Any]]:
    found = {(r["side"], r["workers"], r["scenario"], r["clients"], r["type"]): r for r in rows}
    table = []
    for label, scenario, kind in ENDPOINTS:
        for workers in workers_list:
            for clients in clients_list:
                garage = found.get(("garage", workers, scenario, clients, kind))
                peer = found.get(("peer", workers, scenario, clients, kind))
                if garage is None or peer is None:
                    continue
                thr_x = peer["per_s"] / garage["per_s"] if garage["per_s"] else math.inf
                p95_x = garage["p95_ms"] / peer["p95_ms"] if peer["p95_ms"] > 0 else math.nan
                met = thr_x <= WITHIN and p95_x <= WITHIN
                table.append(
                    {
                        "endpoint": label,
                        "clients": clients,
                        "workers": workers,
                        "garage_per_s": garage["per_s"],
                        "garage_p95_ms": garage["p95_ms"],
                        "peer_per_s": peer["per_s"],
                        "peer_p95_ms": peer["p95_ms"],
                        "throughput_x": thr_x,
                        "p95_x": p95_x,
                        "verdict": "met" if met else "MISSED",
                    }
                )
    return table


def print_comparison(table: list[dict[str, Any]]) -> None:
    print(
        f"{'endpoint':<12} {'clients':>7} {'workers':>7} {'garage ok/s':>11} {'garage p95':>10} "
        f"{'peer ok/s':>9} {'peer p95':>8} {'thr x':>6} {'p95 x':>6}  target (garage within {WITHIN:g}x)"
    )
    for c in table:
        print(
            f"{c['endpoint']:<12} {c['clients']:>7} {c['workers']:>7} {c['garage_per_s']:>11.1f} "
            f"{c['garage_p95_ms']:>10.2f} {c['peer_per_s']:>9.1f} {c['peer_p95_ms']:>8.2f} "
            f"{fmt(c['throughput_x'], '6.2f')} {fmt(c['p95_x'], '6.2f')}  {c['verdict']}"
        )


# --- main ---------------------------------------------------------------------------------------------------
def bench_workers(
    workers: int, args: argparse.Namespace, sizes: Sizes, runs: list[dict[str, Any]], logs: dict[str, list[str]]
) -> None:
    with tempfile.TemporaryDirectory(prefix="http-peer-") as tmp_name:
        tmp = Path(tmp_name)
        servers: dict[str, LiveServer] = {}
        try:
            started = time.perf_counter()
            servers["garage"] = start_server(tmp, workers=workers, env=SERVER_ENV)
            setup = build_data(servers["garage"], sizes)
            peer_dir = tmp / "peer"
            peer_dir.mkdir()
            peer_db = copy_database(servers["garage"].database, peer_dir / "peer.db")
            events = args.peer_events == "on"
            servers["peer"] = start_peer(peer_dir, peer_db, workers, events=events)
            logged = check_same_answers(
                servers, setup.viewer_key, setup.operator_key, setup.reads, setup.cycle_garage, events=events
            )
            print(
                f"[workers={workers}] a check-in and a check-out wrote events {logged} on Garage's side"
                f"{' and the same on the peer' if events else ''}",
                file=sys.stderr,
                flush=True,
            )
            print(
                f"[workers={workers}] both servers ready, data built and compared in "
                f"{time.perf_counter() - started:.1f} s",
                file=sys.stderr,
                flush=True,
            )
            for scenario in SCENARIOS:
                for clients in args.clients:
                    order = SIDES if len(runs) % 4 < 2 else SIDES[::-1]  # alternates per (scenario, clients)
                    for side in order:
                        spec: dict[str, Any] = {
                            "scenario": scenario,
                            "clients": clients,
                            "duration_s": args.duration,
                            "warmup_s": args.warmup,
                            "operator_key": setup.operator_key,
                            "viewer_key": setup.viewer_key,
                            "plate_prefix": f"P{len(runs):02d}"[-3:].rjust(3, "P"),
                            "reads": setup.reads,
                            "garage_id": setup.cycle_garage,
                        }
                        idle = servers[SIDES[1 - SIDES.index(side)]]
                        result = run_client(servers[side], idle, spec, tmp)
                        result.update(workers=workers, side=side)
                        runs.append(result)
                        print(
                            f"[workers={workers}] {side} {scenario} x{clients}: "
                            f"{sum(t['ok'] for t in result['types'].values())} ok, "
                            f"{sum(t['errors'] for t in result['types'].values())} errors",
                            file=sys.stderr,
                            flush=True,
                        )
        finally:
            for side, server in servers.items():
                server.stop()
                logs[f"{side} workers={workers}"] = [
                    line for line in server.log.read_text(errors="replace").splitlines() if line.strip()
                ]


def main() -> None:
    if LOAD_CLIENT_ONLY:
        load_client_main()
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, nargs="+", help="uvicorn worker counts (default 1 2; --quick: 1)")
    parser.add_argument("--clients", type=int, nargs="+", help="concurrent clients (default 1 8 32; --quick: 1 8)")
    parser.add_argument("--duration", type=float, help="measured seconds per run (default 10; --quick: 1)")
    parser.add_argument("--warmup", type=float, help="unrecorded seconds before each run (default 2; --quick: 0.25)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke size (~25 s): 1 worker, 1 and 8 clients, 1 s runs, small data; options given win",
    )
    parser.add_argument(
        "--peer-events",
        choices=("on", "off"),
        default="on",
        help="the peer writes the event log as Garage does (default on); off: a peer without it",
    )
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    parser.add_argument("--load-client", action="store_true", help="internal: be the load generator (stdin spec)")
    args = parser.parse_args()
    defaults = (
        {"workers": [1], "clients": [1, 8], "duration": 1.0, "warmup": 0.25}
        if args.quick
        else {"workers": [1, 2], "clients": [1, 8, 32], "duration": 10.0, "warmup": 2.0}
    )
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    # every run's check-ins are checked out again, so the cycle garage needs only one spot per client
    sizes = Sizes(read_sessions=20 if args.quick else 200, cycle_spots=max(100, 2 * max(args.clients)), pool=0)
    load_before = os.getloadavg()

    runs: list[dict[str, Any]] = []
    logs: dict[str, list[str]] = {}
    for workers in args.workers:
        bench_workers(workers, args, sizes, runs, logs)

    rows = [row for run in runs for row in rows_of(run)]
    table = comparison(rows, args.workers, args.clients)
    load_after = os.getloadavg()
    print(
        f"HTTP peer: garage serve vs Starlette + SQLAlchemy 2 async + aiosqlite (bench/http_peer_app.py), same "
        f"uvicorn workers, copies of one file; load generator bench/load_client.py in its own process; "
        f"{os.cpu_count()} cores; {args.duration:g} s measured after {args.warmup:g} s warm-up per run"
    )
    print(
        f"load average before {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, "
        f"after {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}"
    )
    print(
        f"peer event log: {args.peer_events}; latency: request sent until the body is read, 2xx only; "
        "ok/s: 2xx answers per second\n"
    )
    print_rows(rows)
    print(
        f"\nper run (CPU: % of one core over the measured window, {os.cpu_count()} cores; ms/req: server CPU per "
        "request; engine: Garage's Node engines' part of it)"
    )
    print_runs(runs)
    print(
        f"\ngarage vs peer (thr x = peer ok/s / garage ok/s; p95 x = garage p95 / peer p95; target: both <= {WITHIN:g})"
    )
    print_comparison(table)

    errors = [r for r in rows if r["errors"]]
    if errors:
        print("\nERRORS (non-2xx answers or connection errors), with samples:")
        for r in errors:
            print(
                f"  workers={r['workers']} {r['side']} {r['scenario']} x{r['clients']} {r['type']}: "
                f"{r['errors']} errors"
            )
            for sample in r["error_samples"]:
                print(f"      {sample}")
    for name, lines in logs.items():
        print(f"\nserver log ({name}, level warning): " + (f"{len(lines)} lines; first 20:" if lines else "empty"))
        for line in lines[:20]:
            print(f"  {line}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "settings": {
                        "workers": args.workers,
                        "clients": args.clients,
                        "scenarios": list(SCENARIOS),
                        "peer_events": args.peer_events,
                        "duration_s": args.duration,
                        "warmup_s": args.warmup,
                        "sizes": sizes.__dict__,
                        "cpus": os.cpu_count(),
                        "load_before": load_before,
                        "load_after": load_after,
                    },
                    "rows": rows,
                    "runs": runs,
                    "comparison": table,
                    "server_logs": logs,
                },
                indent=1,
                default=str,
            )
        )
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
