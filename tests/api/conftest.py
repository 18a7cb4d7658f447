"""API tests run the real service: uvicorn serving garage.app on a free port, over a temporary
SQLite file with every migration applied, talking HTTP.

Fixtures:
  api            - one live server for the session (1 worker) with an admin key; an httpx.Client
                   with base_url and helpers (see ApiClient)
  make_server    - starts another live server (e.g. workers=2 for concurrency tests)
  admin, operator, viewer - header dicts for each role (keys created through the API)
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.database import apply_migrations

REPO = Path(__file__).resolve().parents[2]
ADMIN_KEY = "test-admin-key-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    database: Path
    process: subprocess.Popen[bytes]
    log: Path
    admin_key: str = ADMIN_KEY
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        client = httpx.Client(base_url=self.url, headers=headers, timeout=30)
        self.clients.append(client)
        return client

    def stop(self) -> None:
        for client in self.clients:
            client.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()


def start_server(
    tmp: Path, *, workers: int = 1, env: dict[str, str] | None = None, database: Path | None = None
) -> LiveServer:
    """`database`: serve this already-migrated file (e.g. again after a crash) instead of a new one.
    The server runs in its own process group (uvicorn, its workers and their engines), so a test
    can kill all of it at once with os.killpg."""
    if database is None:
        database = tmp / "garage.db"
        apply_migrations(database)
    port = free_port()
    log = tmp / "server.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "garage", "serve", "--port", str(port), "--workers", str(workers)],
        cwd=REPO,
        env={
            **os.environ,
            "GARAGE_ENV": "test",
            "DATABASE_URL": f"file:{database}",
            "GARAGE_ADMIN_API_KEY": ADMIN_KEY,
            "GARAGE_LOG_LEVEL": "warning",
            # the suite's many deliberate 401s come from one address: tests of the throttle set their own limit
            "GARAGE_AUTH_FAILURES_PER_MINUTE": "1000",
            **(env or {}),
        },
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return wait_until_ready(LiveServer(url=f"http://127.0.0.1:{port}", database=database, process=process, log=log))


def wait_until_ready(server: LiveServer, limit_s: float = 60) -> LiveServer:
    """Returns once /ready answers 200; stops the server and raises if it exits or never gets there."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"the server exited: {server.log.read_text()}")
        try:
            if httpx.get(f"{server.url}/ready", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"the server did not become ready: {server.log.read_text()}")


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(tmp_path_factory.mktemp("api"))
    yield server
    server.stop()


@pytest.fixture
def make_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., LiveServer]]:
    started: list[LiveServer] = []

    def make(**kwargs: object) -> LiveServer:
        server = start_server(tmp_path_factory.mktemp("api-extra"), **kwargs)  # type: ignore[arg-type]
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


def _key_for(live: LiveServer, role: str) -> str:
    with httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {live.admin_key}"}) as client:
        response = client.post("/api/v1/admin/api-keys", json={"name": f"test {role}", "role": role})
        response.raise_for_status()
        return str(response.json()["key"])


@pytest.fixture(scope="session")
def admin(live: LiveServer) -> httpx.Client:
    return live.client(live.admin_key)


@pytest.fixture(scope="session")
def operator(live: LiveServer) -> httpx.Client:
    return live.client(_key_for(live, "operator"))


@pytest.fixture(scope="session")
def viewer(live: LiveServer) -> httpx.Client:
    return live.client(_key_for(live, "viewer"))


@pytest.fixture(scope="session")
def anonymous(live: LiveServer) -> httpx.Client:
    return live.client()
