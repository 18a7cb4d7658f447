"""Corruption the quick start-up check cannot see, and a file whose header is gone, against the real
service, the real `garage` commands (the one `make run` runs first among them) and a real
Litestream replica.

The fixture builds one history: a served database replicating to a local Litestream replica,
sessions checked in, a snapshot backup, then more writes after the backup (so the backup lacks
them and only the replica has everything). Each test damages its own copy of that history."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest

from garage.config import Settings, load_settings
from garage.runtime.backups import BackupStore
from garage.runtime.integrity import damage_record_path
from garage.runtime.replication import ReplicationError, restore_to
from garage.cli.restore import check_snapshot
from tests.api.conftest import REPO, start_server
from tests.api.parking_data import API, check_in, new_garage
from tests.database import MIGRATIONS
from tests.ops.serving import ENV, garage, garage_ids, launch, serve, until_exit

PLATES = ("FLIPAAA1", "FLIPAAA2", "FLIPAAA3")
WAIT_LIMIT_S = 60


class History:
    """A copy of the fixture's history in its own folder."""

    def __init__(self, folder: Path, before_backup: set[str], after_backup: set[str]) -> None:
        self.folder = folder
        self.database = folder / "garage.db"
        self.backup = BackupStore(folder / "backups").list()[0].path
        self.before_backup = before_backup
        self.after_backup = after_backup

    @property
    def env(self) -> dict[str, str]:
        return {"GARAGE_BACKUP_DIR": str(self.folder / "backups"), "GARAGE_REPLICA_DIR": str(self.folder / "replica")}



def create_garage(admin: httpx.Client) -> str:
    created = admin.post(f"{API}/garages", json={"name": "after the backup", "address": "1 Late Road", "capacity": 3})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def wait_until_replicated(settings: Settings, expected: set[str]) -> None:
    deadline = time.monotonic() + WAIT_LIMIT_S
    for attempt in range(10_000):
        probe = settings.database_path.parent / f"probe-{attempt}.db"
        try:
            if expected <= garage_ids(restore_to(settings, datetime.now(timezone.utc), probe)):
                return
        except ReplicationError:
            pass  # nothing replicated yet
        finally:
            for leftover in (probe, Path(f"{probe}-wal"), Path(f"{probe}-shm")):
                leftover.unlink(missing_ok=True)
        assert time.monotonic() < deadline, "the replica did not receive the writes"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[str], set[str]]:
    folder = tmp_path_factory.mktemp("history")
    replica = folder / "replica"
    server = start_server(folder, env={"GARAGE_REPLICA_DIR": str(replica), "GARAGE_REPLICA_SYNC_INTERVAL": "100ms",
                                       "GARAGE_BACKUP_INTERVAL_HOURS": "0"})
    try:
        admin = server.client(server.admin_key)
        garage_id, _ = new_garage(admin, [(1, str(n), "STANDARD") for n in range(5)])
        for plate in PLATES:
            assert check_in(admin, garage_id, licensePlate=plate, vehicleType="CAR").status_code == 201
        backed_up = garage("backup", database=server.database, env={"GARAGE_BACKUP_DIR": str(folder / "backups")})
        assert backed_up.returncode == 0, backed_up.stderr
        before = garage_ids(server.database)
        after = {create_garage(admin) for _ in range(2)}
        settings = load_settings(GARAGE_ENV="test", DATABASE_URL=f"file:{server.database}", GARAGE_REPLICA_DIR=str(replica))
        wait_until_replicated(settings, before | after)
    finally:
        server.stop()
    checkpoint = sqlite3.connect(server.database)  # everything into the main file, where the damage goes
    try:
        checkpoint.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        checkpoint.close()
    for path in folder.glob("garage.db*"):
        path.chmod(0o600)
    return folder, before, after


def copy_of(history: tuple[Path, set[str], set[str]], target: Path) -> History:
    source, before, after = history
    shutil.copytree(source, target / "history", ignore=shutil.ignore_patterns("*.log", "*.lock"))
    return History(target / "history", before, after)


def flip_index_entry(database: Path, plate: str, replacement: str) -> None:
    """Rewrites `plate` inside the sessions' (licensePlate, startTime) index's page only: the table row keeps
    the real plate. The b-tree stays well-formed (quick_check passes); only integrity_check, which
    compares each index with its table, sees it."""
    connection = sqlite3.connect(database)
    try:
        (root,) = connection.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'Session_licensePlate_startTime_idx'").fetchone()
        (page_size,) = connection.execute("PRAGMA page_size").fetchone()
    finally:
        connection.close()
    with database.open("r+b") as file:
        file.seek((root - 1) * page_size)
        page = file.read(page_size)
        assert page.count(plate.encode()) == 1, "the index's root page should hold the plate once"
        file.seek((root - 1) * page_size + page.index(plate.encode()))
        file.write(replacement.encode())


def check_output(database: Path, command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, shell=True, cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **ENV, "DATABASE_URL": f"file:{database}", **env})


def make_run_commands() -> list[str]:
    """What `make run` executes, in order (make -n prints the commands without running them)."""
    printed = subprocess.run(["make", "-n", "run"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert printed.returncode == 0, printed.stderr
    return printed.stdout.splitlines()


def test_a_zeroed_header_stops_make_run_at_its_first_check_naming_the_point_in_time_restore_first(
        history: tuple[Path, set[str], set[str]], tmp_path: Path) -> None:
    commands = make_run_commands()
    check = next(index for index, line in enumerate(commands) if line.endswith("garage check"))
    migrate = next(index for index, line in enumerate(commands) if line.endswith("prisma migrate deploy"))
    assert check < migrate, commands

    copy = copy_of(history, tmp_path)
    with copy.database.open("r+b") as file:
        file.write(bytes(100))  # the SQLite header
    checked = check_output(copy.database, commands[check], copy.env)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    message = checked.stderr
    assert f"The database file {copy.database} is damaged" in message and "file is not a database" in message, message
    assert "Error code 26" not in message
    # least data lost first: the point-in-time restore from the replica, then the backup
    assert message.index("garage restore --to ") < message.index(f"garage restore {copy.backup}"), message

    # Following the first advice brings back every write, those after the backup included.
    moment = re.search(r"garage restore --to (\S+)", message)
    assert moment is not None
    restored_file = copy.folder / "restored.db"
    restored = garage("restore", "--to", moment.group(1), "--output", str(restored_file), database=copy.database, env=copy.env)
    assert restored.returncode == 0, restored.stderr
    assert garage_ids(restored_file) == copy.before_backup | copy.after_backup
    assert garage_ids(copy.backup) == copy.before_backup  # what the backup alone would have lost
    swapped = garage("restore", str(restored_file), database=copy.database, env=copy.env)
    assert swapped.returncode == 0, swapped.stderr
    assert check_output(copy.database, commands[check], copy.env).returncode == 0


def test_a_flipped_index_entry_is_found_in_the_background_and_the_service_says_so(
        history: tuple[Path, set[str], set[str]], tmp_path: Path) -> None:
    copy = copy_of(history, tmp_path)
    flip_index_entry(copy.database, PLATES[-1], "FLIPAAA4")
    quick, thorough = (sqlite3.connect(copy.database), sqlite3.connect(copy.database))
    try:
        assert quick.execute("PRAGMA quick_check").fetchall() == [("ok",)]  # what start-up runs
        assert thorough.execute("PRAGMA integrity_check").fetchall() != [("ok",)]
    finally:
        quick.close()
        thorough.close()

    # Start-up's quick_check passes; the background integrity_check right after start finds it.
    server = launch(copy.database, env=copy.env)
    try:
        deadline = time.monotonic() + WAIT_LIMIT_S
        while True:
            assert server.process.poll() is None, server.log.read_text()
            try:
                ready = httpx.get(f"{server.url}/ready", timeout=5)
                if ready.status_code == 503 and ready.json().get("integrity") == "damaged":
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"/ready never reported the damage: {server.log.read_text()[-2000:]}"
            time.sleep(0.2)
        assert "damaged" in ready.json()["problem"]
        assert "garage_database_damaged 1.0" in httpx.get(f"{server.url}/metrics", timeout=5).text
        log = server.log.read_text()
        assert "is damaged; the background integrity check found it; /ready answers 503" in log, log
        assert "integrity_check: " in log
        assert log.index("garage restore --to ") < log.index(f"garage restore {copy.backup}")
        assert damage_record_path(copy.database).is_file()
    finally:
        server.stop()

    doctor = garage("doctor", database=copy.database, env=copy.env)
    assert doctor.returncode == 1 and "PROBLEM  integrity    integrity_check: " in doctor.stdout, doctor.stdout
    assert "garage restore --to " in doctor.stdout

    # The record makes the next start run the full check: it refuses, as `garage check` does.
    refused = until_exit(launch(copy.database, env=copy.env))
    assert "is damaged; the service will not serve it" in refused and "integrity_check: " in refused, refused
    assert garage("check", database=copy.database, env=copy.env).returncode == 1

    # A restore checks with the full integrity_check too: the damaged file is no snapshot to restore.
    assert any(problem.startswith("integrity_check: ") for problem in check_snapshot(copy.database, MIGRATIONS).problems)

    restored = garage("restore", str(copy.backup), database=copy.database, env=copy.env)
    assert restored.returncode == 0, restored.stderr
    assert not damage_record_path(copy.database).exists()
    server = serve(copy.database, env=copy.env)
    try:
        admin = server.client(server.admin_key)
        for plate, found in ((PLATES[-1], [PLATES[-1]]), ("FLIPAAA4", [])):  # the index agrees with its table again
            sessions = admin.get(f"{API}/sessions", params={"plate": plate})
            assert sessions.status_code == 200 and [s["licensePlate"] for s in sessions.json()["items"]] == found
    finally:
        server.stop()
