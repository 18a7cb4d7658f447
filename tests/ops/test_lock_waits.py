"""Waiting for SQLite's write lock is bounded: while another process holds it (a `sqlite3` shell,
a batch job, a dead worker's transaction), a write is answered 503 DATABASE_UNAVAILABLE with
Retry-After once GARAGE_DB_WAIT_SECONDS have passed - never a 500, never left unanswered - and
reads keep answering at once. A real batch job beside the service: `garage import-memory-store`
holds the lock for its one transaction; the service's writes meanwhile are 201 or 503, never 500.

The service runs with GARAGE_DB_WAIT_SECONDS=3 to keep the tests short (the default is 10)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest

from garage.config import load_settings
from garage.db import BUSY, create_prisma, insert_rows, transaction
from garage.errors import DatabaseUnavailable
from tests.database import apply_migrations

from tests.api.conftest import REPO, start_server
from tests.ops.crash_support import API, make_garage
from tests.ops.serving import ENV

WAIT_SECONDS = 3.0
SLACK_SECONDS = 2.0  # HTTP, a loaded 2-core machine
SERVER_ENV = {"GARAGE_DB_WAIT_SECONDS": str(WAIT_SECONDS)}


@contextmanager
def write_lock_held(database: Path) -> Iterator[None]:
    """Another process's connection (this test's) holding SQLite's write lock, as `sqlite3` would."""
    connection = sqlite3.connect(database, isolation_level=None, timeout=10)
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        connection.execute("ROLLBACK")
        connection.close()


def check_in(client: httpx.Client, garage_id: str, plate: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = client.post(f"{API}/garages/{garage_id}/check-in", json={"licensePlate": plate, "vehicleType": "CAR"})
    return response, time.monotonic() - started


def test_a_write_behind_another_process_lock_gets_503_with_retry_after_in_time_and_reads_do_not_wait(
    tmp_path: Path,
) -> None:
    server = start_server(tmp_path, env=SERVER_ENV)
    try:
        garage_id, key = make_garage(server.url, server.admin_key, spots=5)
        client = server.client(key)
        with write_lock_held(server.database), concurrent.futures.ThreadPoolExecutor(2) as pool:
            writes = [pool.submit(check_in, client, garage_id, plate) for plate in ("LOCK1", "LOCK2")]
            time.sleep(0.5)  # both writes are now waiting for the lock
            for _ in range(5):  # reads meanwhile: answered without waiting for the lock or the writes
                started = time.monotonic()
                read = client.get(f"{API}/garages/{garage_id}/spots")
                assert read.status_code == 200, read.text
                assert time.monotonic() - started < 1.0, "a read waited"
            assert not any(write.done() for write in writes)
            for write in writes:
                response, elapsed = write.result(timeout=WAIT_SECONDS + 30)
                assert response.status_code == 503, response.text
                assert response.json()["error"]["code"] == "DATABASE_UNAVAILABLE"
                assert "busy" in response.json()["error"]["message"]
                assert response.headers["Retry-After"] == "2"
                assert WAIT_SECONDS - SLACK_SECONDS < elapsed <= WAIT_SECONDS + SLACK_SECONDS, elapsed
        # the lock is free: the same write goes through, and nothing of the refused ones was kept
        response, _ = check_in(client, garage_id, "LOCK1")
        assert response.status_code == 201, response.text
        sessions = client.get(f"{API}/sessions", params={"plate": "LOCK2"})
        assert sessions.status_code == 200 and sessions.json()["items"] == [], sessions.text
    finally:
        server.stop()


def test_writes_beside_a_legacy_import_are_answered_in_time_never_500(tmp_path: Path) -> None:
    """The import writes its 20k records in ONE transaction (all or nothing), holding the write
    lock for seconds; check-ins meanwhile wait for it at most the bound."""
    server = start_server(tmp_path, env=SERVER_ENV)
    try:
        garage_id, key = make_garage(server.url, server.admin_key, spots=1000)
        client = server.client(key)
        snapshot = tmp_path / "snapshot.json"
        subprocess.run([sys.executable, str(REPO / "bench" / "legacy_snapshot.py"), "20000", str(snapshot)], check=True,
                       capture_output=True)
        importing = subprocess.Popen(
            [sys.executable, "-m", "garage", "import-memory-store", str(snapshot)], cwd=REPO,
            env={**os.environ, **ENV, "DATABASE_URL": f"file:{server.database}"},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        answers: list[tuple[int, float]] = []
        while importing.poll() is None:
            response, elapsed = check_in(client, garage_id, f"IMP{len(answers)}")
            answers.append((response.status_code, elapsed))
            if response.status_code == 503:
                assert response.headers["Retry-After"] == "2"
        output = importing.communicate()[0].decode()
        assert importing.returncode == 0, output
        assert answers, "the import ended before the first write"
        assert {status for status, _ in answers} <= {201, 503}, answers
        assert max(elapsed for _, elapsed in answers) <= WAIT_SECONDS + SLACK_SECONDS, answers
        statuses = Counter(status for status, _ in answers)
        print(f"check-ins beside the import: {dict(statuses)}, longest {max(e for _, e in answers):.2f} s")
    finally:
        server.stop()


async def test_every_kind_of_write_call_gives_up_on_the_lock_at_the_deadline(tmp_path: Path) -> None:
    """Below the HTTP layer (garage/db/__init__.py): a single write, a write batch, a JSON-protocol insert
    and a transaction each raise DatabaseUnavailable once the client's wait limit has passed
    (before: a single write was retried with 10 s waits five times, a transaction's start was 500)."""
    database = tmp_path / "garage.db"
    apply_migrations(database)
    db = create_prisma(load_settings(GARAGE_ENV="test", DATABASE_URL=f"file:{database}", GARAGE_DB_WAIT_SECONDS="2"))
    await db.connect()
    try:
        now = datetime.now(timezone.utc)

        async def single_write() -> object:
            return await db.execute_raw("UPDATE Garage SET name = name")

        async def batch() -> None:
            async with db.batch_() as writes:
                writes.auditlog.create(data={"actor": "t", "action": "CREATE", "entity": "Garage", "entityId": "g"})

        async def insert() -> int:
            return await insert_rows(db, "AuditLog", [{"actor": "t", "action": "CREATE", "entity": "Garage",
                                                       "entityId": "g", "createdAt": now}])

        async def in_transaction() -> object:
            return await transaction(db, lambda tx: tx.auditlog.count())

        async def attempt(call: Callable[[], Awaitable[object]]) -> tuple[str, float]:
            started = time.monotonic()
            with pytest.raises(DatabaseUnavailable) as refused:
                await call()
            return str(refused.value), time.monotonic() - started

        with write_lock_held(database):
            started = time.monotonic()
            assert await db.garage.count() == 0  # reads do not wait
            assert time.monotonic() - started < 1.0
            outcomes = await asyncio.gather(*(attempt(call) for call in (single_write, batch, insert, in_transaction)))
        for message, elapsed in outcomes:
            assert message == BUSY and elapsed <= 2 + SLACK_SECONDS, outcomes
        assert await db.auditlog.count() == 0
        await batch()  # the lock is free again
        assert await db.auditlog.count() == 1
    finally:
        await db.disconnect()
