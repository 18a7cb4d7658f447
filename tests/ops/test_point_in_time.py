"""Point-in-time recovery: a live service replicating with Litestream; write, note the time, write
more, `garage restore --to` the noted time, and exactly the first writes are there."""

from __future__ import annotations

import itertools
import os
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest

from garage.config import Settings, load_settings
from garage.runtime.replication import ReplicationError, litestream_binary, restore_to
from tests.api.conftest import LiveServer, start_server
from tests.database import REPO
from tests.ops.serving import garage_ids

REPLICATION_WAIT_SECONDS = 60
restores = itertools.count()


@pytest.fixture
def replicated(tmp_path: Path) -> Iterator[LiveServer]:
    server = start_server(tmp_path, env={"GARAGE_REPLICA_DIR": str(tmp_path / "replica"),
                                         "GARAGE_REPLICA_SYNC_INTERVAL": "100ms"})
    yield server
    server.stop()


def settings_of(server: LiveServer) -> Settings:
    return load_settings(GARAGE_ENV="test", DATABASE_URL=f"file:{server.database}",
                         GARAGE_REPLICA_DIR=str(server.database.parent / "replica"))



def create_garages(admin: httpx.Client, count: int) -> set[str]:
    ids = set()
    for _ in range(count):
        response = admin.post("/api/v1/garages", json={"name": f"pitr {uuid.uuid4().hex[:8]}", "address": "1 Replica Road",
                                                       "capacity": 10})
        assert response.status_code == 201, response.text
        ids.add(str(response.json()["id"]))
    return ids


def wait_until_replicated(settings: Settings, expected: set[str]) -> None:
    """Restores the newest state until it holds `expected` (Litestream ships every sync interval)."""
    deadline = time.monotonic() + REPLICATION_WAIT_SECONDS
    while True:
        output = settings.database_path.parent / f"probe-{next(restores)}.db"
        try:
            if expected <= garage_ids(restore_to(settings, datetime.now(timezone.utc), output)):
                return
        except ReplicationError:
            pass  # nothing replicated yet
        if time.monotonic() > deadline:
            pytest.fail(f"the replica did not receive the writes within {REPLICATION_WAIT_SECONDS} s")
        time.sleep(0.1)


def test_litestream_binary_runs_offline() -> None:
    result = subprocess.run([str(litestream_binary()), "version"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and result.stdout.strip().startswith("0.5.")


def test_restore_to_a_noted_time_brings_back_exactly_the_writes_before_it(replicated: LiveServer) -> None:
    admin = replicated.client(replicated.admin_key)
    settings = settings_of(replicated)
    replica = settings.replica_dir
    assert stat.S_IMODE(replica.stat().st_mode) == 0o700

    first = create_garages(admin, 3)
    wait_until_replicated(settings, first)
    noted = datetime.now(timezone.utc)
    second = create_garages(admin, 3)
    wait_until_replicated(settings, first | second)

    output = replicated.database.parent / "restored.db"
    result = subprocess.run(
        [sys.executable, "-m", "garage", "restore", "--to", noted.isoformat(), "--output", str(output)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
        env={**os.environ, "GARAGE_ENV": "test", "DATABASE_URL": f"file:{replicated.database}",
             "GARAGE_REPLICA_DIR": str(replica)},
    )
    assert result.returncode == 0, result.stderr
    assert str(output) in result.stdout
    assert garage_ids(output) == first
    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    # the live database kept everything
    assert admin.get(f"/api/v1/garages/{next(iter(second))}").status_code == 200


def test_restore_never_writes_over_the_live_database(replicated: LiveServer) -> None:
    settings = settings_of(replicated)
    with pytest.raises(ReplicationError, match="live database"):
        restore_to(settings, datetime.now(timezone.utc), replicated.database)


def test_restore_needs_a_time_with_an_offset(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "garage", "restore", "--to", "2026-01-01T00:00:00"], cwd=REPO, capture_output=True,
        text=True, timeout=60, env={**os.environ, "GARAGE_ENV": "test", "DATABASE_URL": f"file:{tmp_path / 'x.db'}"},
    )
    assert result.returncode != 0 and "offset" in result.stderr
