"""Running the real service (`garage serve` under uvicorn) on an EXISTING database file, and the
`garage` command on it. tests/api/conftest.py's start_server always migrates a new file; restore and
corruption tests need to start on a file they prepared."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path


from tests.api.conftest import ADMIN_KEY, REPO, LiveServer, free_port, wait_until_ready

# Only what these tests exercise: no Litestream sidecar (its own tests cover it).
ENV = {"GARAGE_ENV": "test", "GARAGE_REPLICATION": "false", "GARAGE_LOG_LEVEL": "warning"}
STARTUP_LIMIT_S = 60


def garage(*args: str, database: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "garage", *args], cwd=REPO, capture_output=True, text=True, timeout=120,
        env={**os.environ, **ENV, "DATABASE_URL": f"file:{database}", **(env or {})},
    )


def launch(database: Path, *, env: dict[str, str] | None = None) -> LiveServer:
    """Starts `garage serve` on `database` as it is; returns at once (see until_ready / until_exit)."""
    port = free_port()
    log = database.with_name(f"server-{port}.log")
    process = subprocess.Popen(
        [sys.executable, "-m", "garage", "serve", "--port", str(port)], cwd=REPO,
        env={**os.environ, **ENV, "DATABASE_URL": f"file:{database}", "GARAGE_ADMIN_API_KEY": ADMIN_KEY, **(env or {})},
        stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )
    return LiveServer(url=f"http://127.0.0.1:{port}", database=database, process=process, log=log)


def until_ready(server: LiveServer) -> LiveServer:
    return wait_until_ready(server, STARTUP_LIMIT_S)


def serve(database: Path, *, env: dict[str, str] | None = None) -> LiveServer:
    return until_ready(launch(database, env=env))


def until_exit(server: LiveServer) -> str:
    """The log of a server that must refuse to start (it exits on its own)."""
    try:
        server.process.wait(timeout=STARTUP_LIMIT_S)
    finally:
        server.stop()
    return server.log.read_text()


def garage_ids(database: Path) -> set[str]:
    """Verification: the garages in a (restored, copied) file, read with sqlite3 read-only."""
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        return {row[0] for row in connection.execute('SELECT id FROM "Garage"')}
    finally:
        connection.close()


def damage(database: Path) -> None:
    """Overwrites pages in the middle of the file with garbage (the header and page 1 survive, so
    SQLite still opens it and only a check finds the damage)."""
    page_size = int.from_bytes(database.read_bytes()[16:18], "big") or 65536
    pages = database.stat().st_size // page_size
    assert pages >= 6, "the database is too small to damage its middle"
    with database.open("r+b") as file:
        for page in range(pages // 2 - 1, pages // 2 + 2):
            file.seek(page * page_size)
            file.write(bytes([0xA5, 0x17]) * (page_size // 2))
