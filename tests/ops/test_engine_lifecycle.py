"""An engine never outlives its worker, and a stuck engine is replaced.

- SIGKILL of one uvicorn worker (of 2) while its engine holds SQLite's write lock in an open
  transaction: the engine exits at once (it is not re-parented to PID 1 and left running), the
  lock is free again at once (SQLite rolls the transaction back) and the service keeps writing.
- SIGSTOP of a worker's engine: /ready says 503 within a couple of seconds, requests are
  answered within GARAGE_DB_WAIT_SECONDS (served by the replacement, or 503), the liveness
  check SIGKILLs the frozen engine and starts a new one, and requests succeed again.
- An engine that does not answer because it is busy computing (one long synchronous statement
  blocks its event loop) is left alone."""

from __future__ import annotations

import concurrent.futures
import json
import os
import signal
import sqlite3
import time
from pathlib import Path

import httpx

from garage.config import load_settings
from garage.db import LIVENESS_INTERVAL, LIVENESS_LIMIT, RestartingQueryEngine, create_prisma
from tests.api.conftest import start_server
from tests.database import apply_migrations
from tests.ops.crash_support import API, engine_pids, make_garage

WAIT_SECONDS = 10.0  # GARAGE_DB_WAIT_SECONDS, the default
SLACK_SECONDS = 3.0  # HTTP, an engine start, a loaded 2-core machine


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent to reap it has exited)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def engine_url(pid: int) -> str:
    """The engine's own HTTP address, from its command line (`... -p PORT ...`)."""
    args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    return f"http://127.0.0.1:{int(args[args.index(b'-p') + 1])}"


def write_lock_free(database: Path) -> bool:
    connection = sqlite3.connect(database, isolation_level=None, timeout=0)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:  # database is locked
        return False
    finally:
        connection.close()


def engine_answers(pid: int) -> bool:
    try:
        return httpx.get(f"{engine_url(pid)}/status", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def wait_for(condition: object, limit: float) -> float:
    """Seconds until `condition()` held (checked every 10 ms), or raises after `limit`."""
    started = time.monotonic()
    while not condition():  # type: ignore[operator]
        if time.monotonic() - started > limit:
            raise AssertionError(f"not within {limit} s")
        time.sleep(0.01)
    return time.monotonic() - started


def test_a_killed_worker_takes_its_engine_and_its_write_lock_with_it(tmp_path: Path) -> None:
    server = start_server(tmp_path, workers=2)
    engines = engine_pids(server.process.pid)
    try:
        garage_id, key = make_garage(server.url, server.admin_key, spots=5)
        assert len(engines) == 2, engines
        victim = engines[0]
        worker = parent_of(victim)
        # /ready answered from one worker: the other one's engine may still be starting its server
        wait_for(lambda: engine_answers(victim), limit=30)
        # The worker's engine in the middle of a transaction: it holds SQLite's write lock.
        started = httpx.post(f"{engine_url(victim)}/transaction/start", content=json.dumps({"timeout": 60_000}))
        assert started.status_code == 200, started.text
        assert not write_lock_free(server.database)

        os.kill(worker, signal.SIGKILL)
        exited_after = wait_for(lambda: not alive(victim), limit=5)
        freed_after = wait_for(lambda: write_lock_free(server.database), limit=5)
        print(f"engine exited {exited_after:.3f} s after its worker was killed; lock free after {freed_after:.3f} s")

        # The service writes at once (the other worker, or the replacement uvicorn starts).
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
            for n in range(4):  # fresh connections: both workers
                begun = time.monotonic()
                parked = client.post(f"{API}/garages/{garage_id}/check-in", json={"licensePlate": f"AFTER{n}", "vehicleType": "CAR"},
                                     headers={"Connection": "close"})
                assert parked.status_code == 201, parked.text
                assert time.monotonic() - begun < WAIT_SECONDS, "a write waited for a lock"
        assert victim not in engine_pids(server.process.pid)
    finally:
        server.stop()
        for pid in engines:  # an engine that outlived its worker (the failure this test catches)
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_frozen_engine_is_detected_and_replaced_and_requests_are_answered_in_time(tmp_path: Path) -> None:
    server = start_server(tmp_path, workers=1)
    (frozen,) = engine_pids(server.process.pid)
    try:
        garage_id, key = make_garage(server.url, server.admin_key, spots=5)
        headers = {"Authorization": f"Bearer {key}"}

        def timed(method: str, path: str, body: object = None) -> tuple[int, float, httpx.Headers]:
            begun = time.monotonic()
            response = httpx.request(method, f"{server.url}{path}", json=body, headers=headers, timeout=60)
            return response.status_code, time.monotonic() - begun, response.headers

        os.kill(frozen, signal.SIGSTOP)
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            ready = pool.submit(timed, "GET", "/ready")
            read = pool.submit(timed, "GET", f"{API}/garages/{garage_id}")
            write = pool.submit(timed, "POST", f"{API}/garages/{garage_id}/check-in", {"licensePlate": "FROZEN1", "vehicleType": "CAR"})
            ready_status, ready_elapsed, _ = ready.result()
            assert ready_status == 503 and ready_elapsed < 4, (ready_status, ready_elapsed)
            for status, elapsed, answer_headers in (read.result(), write.result()):
                assert elapsed <= WAIT_SECONDS + SLACK_SECONDS, elapsed
                assert status in (200, 201, 503), status
                if status == 503:
                    assert answer_headers["Retry-After"] == "2"
        print(f"/ready 503 after {ready_elapsed:.2f} s; read {read.result()[:2]}, check-in {write.result()[:2]}")

        # The liveness check SIGKILLed the frozen engine (a stopped process dies of SIGKILL too)
        # and the worker serves with a new one.
        wait_for(lambda: not alive(frozen), limit=WAIT_SECONDS)
        replaced = engine_pids(server.process.pid)
        assert len(replaced) == 1 and replaced != [frozen], replaced
        assert timed("GET", "/ready")[0] == 200
        assert timed("GET", f"{API}/garages/{garage_id}")[0] == 200
        assert timed("POST", f"{API}/garages/{garage_id}/check-in", {"licensePlate": "THAWED1", "vehicleType": "CAR"})[0] == 201
    finally:
        if alive(frozen):
            os.kill(frozen, signal.SIGCONT)
            os.kill(frozen, signal.SIGKILL)
        server.stop()


COUNT = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {rows}) SELECT count(*) AS n FROM c"


async def test_an_engine_busy_computing_is_not_taken_for_a_stuck_one(tmp_path: Path) -> None:
    database = tmp_path / "garage.db"
    apply_migrations(database)
    db = create_prisma(load_settings(GARAGE_ENV="test", DATABASE_URL=f"file:{database}", GARAGE_DB_WAIT_SECONDS="120"))
    await db.connect()
    try:
        engine = db._engine
        assert isinstance(engine, RestartingQueryEngine) and engine.process is not None
        pid = engine.process.pid
        started = time.monotonic()  # how fast this engine counts, to make the statement ~2.5x the limit
        await db.query_raw(COUNT.format(rows=1_000_000))
        rows = int(1_000_000 * 2.5 * LIVENESS_LIMIT / (time.monotonic() - started))
        started = time.monotonic()
        counted = await db.query_raw(COUNT.format(rows=rows))  # one synchronous statement in the engine
        elapsed = time.monotonic() - started
        assert int(counted[0]["n"]) == rows
        assert elapsed > LIVENESS_LIMIT + LIVENESS_INTERVAL, f"{elapsed:.1f} s: too short to prove anything"
        assert engine.restarts == 0 and engine.process.pid == pid
        print(f"a {elapsed:.1f} s statement kept its engine")
    finally:
        await db.disconnect()
