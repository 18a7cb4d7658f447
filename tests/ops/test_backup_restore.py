"""Snapshot backups (`garage backup`, the scheduler), `garage restore FILE`, the corruption check at
start and `garage doctor`, against the real service (uvicorn + engine) on temporary files."""

from __future__ import annotations

import shutil
import stat
import time
from pathlib import Path

from garage.config.development_secrets import copy_development_secrets
from garage.runtime.backups import BackupStore
from garage.runtime.integrity import database_problems
from garage.runtime.locks import scheduler_lock_path, serving_lock_path, try_lock
from garage.cli.restore import check_snapshot
from tests.api.conftest import LiveServer, start_server
from tests.api.parking_data import API, new_garage
from tests.database import MIGRATIONS, apply_migrations
from tests.ops.serving import ENV, damage, garage, launch, serve, until_exit

NO_SCHEDULE = {**ENV, "GARAGE_BACKUP_INTERVAL_HOURS": "0"}
WAIT_LIMIT_S = 60


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def garage_exists(server: LiveServer, garage_id: str) -> bool:
    response = server.client(server.admin_key).get(f"{API}/garages/{garage_id}")
    assert response.status_code in (200, 404), response.text
    return response.status_code == 200


def test_backup_while_serving_then_restore_swaps_it_in(tmp_path: Path) -> None:
    server = start_server(tmp_path, env=NO_SCHEDULE)
    database = server.database
    try:
        admin = server.client(server.admin_key)
        before, _ = new_garage(admin, [(1, "1", "STANDARD")])
        backed_up = garage("backup", database=database)
        assert backed_up.returncode == 0, backed_up.stderr
        after, _ = new_garage(admin, [(1, "1", "STANDARD")])  # the service kept serving
        (backup,) = BackupStore(tmp_path / "backups").list()
        assert str(backup.path) in backed_up.stdout and mode(backup.path) == 0o600
        assert database_problems(backup.path, thorough=True) == []

        refused = garage("restore", str(backup.path), database=database)
        assert refused.returncode != 0
        assert "the service is serving" in refused.stderr and "nothing was changed" in refused.stderr
        assert garage_exists(server, after)
    finally:
        server.stop()

    corrupt = tmp_path / "corrupt.db"
    shutil.copy(backup.path, corrupt)
    damage(corrupt)
    refused = garage("restore", str(corrupt), database=database)
    assert refused.returncode != 0 and "failed verification" in refused.stderr, refused.stderr
    assert not list(tmp_path.glob("garage.db.replaced-*"))  # nothing was touched

    restored = garage("restore", str(backup.path), database=database)
    assert restored.returncode == 0, restored.stderr
    # The replaced file is kept, with its WAL under the matching name when it had one.
    (replaced,) = (path for path in tmp_path.glob("garage.db.replaced-*") if not path.name.endswith("-wal"))
    assert mode(database) == 0o600 and mode(replaced) == 0o600
    assert not Path(f"{database}-wal").exists() and not list(tmp_path.glob("*.tmp"))

    server = serve(database, env=NO_SCHEDULE)
    try:
        assert garage_exists(server, before) and not garage_exists(server, after)
    finally:
        server.stop()


def test_restore_refuses_a_file_that_is_not_a_garage_database(tmp_path: Path) -> None:
    database = tmp_path / "garage.db"
    apply_migrations(database)
    not_sqlite = tmp_path / "notes.db"
    not_sqlite.write_text("certainly not a database " * 400)
    refused = garage("restore", str(not_sqlite), database=database)
    assert refused.returncode != 0 and "failed verification" in refused.stderr
    # A snapshot from a newer version (a migration this code does not have) is refused as well.
    newer = check_snapshot(database, tmp_path / "no-migrations-here")
    assert any("unknown here" in problem for problem in newer.problems)
    assert check_snapshot(database, MIGRATIONS).problems == []


def test_locks_admit_one_scheduler_and_restore_only_when_nothing_serves(tmp_path: Path) -> None:
    database = tmp_path / "garage.db"
    scheduler = try_lock(scheduler_lock_path(database), shared=False)
    assert scheduler is not None and try_lock(scheduler_lock_path(database), shared=False) is None
    scheduler.release()
    serving = [try_lock(serving_lock_path(database), shared=True) for _ in range(2)]  # two workers
    assert all(serving) and try_lock(serving_lock_path(database), shared=False) is None
    for lock in serving:
        assert lock is not None
        lock.release()
    restoring = try_lock(serving_lock_path(database), shared=False)
    assert restoring is not None and try_lock(serving_lock_path(database), shared=True) is None
    restoring.release()


def test_scheduler_takes_backups_when_due_and_prunes_to_retention(tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    backups.mkdir(mode=0o700)
    old = [backups / f"garage-2020010{day}T000000000Z.db" for day in (1, 2, 3)]
    for path in old:
        path.write_bytes(b"")
    # 0.0005 h = 1.8 s between backups; two workers, one scheduler.
    server = start_server(tmp_path, workers=2, env={**ENV, "GARAGE_BACKUP_INTERVAL_HOURS": "0.0005", "GARAGE_BACKUP_KEEP": "2"})
    try:
        assert try_lock(scheduler_lock_path(server.database), shared=False) is None  # a worker holds it
        store = BackupStore(backups)
        deadline = time.monotonic() + WAIT_LIMIT_S
        while not (len(kept := store.list()) == 2 and all(b.created_at.year > 2020 for b in kept)):
            assert time.monotonic() < deadline, f"no pruned pair of new backups: {[b.name for b in store.list()]}"
            time.sleep(0.1)
        assert not any(path.exists() for path in old)
        for backup in kept:
            assert mode(backup.path) == 0o600 and database_problems(backup.path, thorough=True) == []
    finally:
        server.stop()


def doctor(database: Path, backups: Path) -> tuple[int, str]:
    result = garage("doctor", database=database, env={"GARAGE_BACKUP_DIR": str(backups)})
    return result.returncode, result.stdout


def test_damaged_database_is_refused_at_start_and_restore_brings_it_back(tmp_path: Path) -> None:
    server = start_server(tmp_path, env=NO_SCHEDULE)
    try:
        garage_id, _ = new_garage(server.client(server.admin_key), [(1, str(n), "STANDARD") for n in range(400)])
        backed_up = garage("backup", database=server.database)
        assert backed_up.returncode == 0, backed_up.stderr
    finally:
        server.stop()
    backups = tmp_path / "backups"
    (backup,) = BackupStore(backups).list()

    code, report = doctor(server.database, backups)
    assert code != 0 and "PROBLEM  permissions" in report  # the test fixture made them 0644
    for path in tmp_path.glob("garage.db*"):
        path.chmod(0o600)
    code, report = doctor(server.database, backups)
    assert code == 0 and report.rstrip().endswith("healthy"), report
    migrations = sum(1 for folder in MIGRATIONS.iterdir() if (folder / "migration.sql").is_file())
    assert f"ok       last backup  {backup.name}" in report and f"ok       migrations   all {migrations} applied" in report

    copy = tmp_path / "copy" / "garage.db"
    copy.parent.mkdir(mode=0o700)
    shutil.copy(server.database, copy)
    copy_development_secrets(server.database, copy)  # a copy is readable only with its secrets
    damage(copy)
    env = {"GARAGE_BACKUP_DIR": str(backups)}
    log = until_exit(launch(copy, env={**NO_SCHEDULE, **env}))
    assert "is damaged; the service will not serve it" in log and f"garage restore {backup.path}" in log, log

    code, report = doctor(copy, backups)
    assert code != 0 and "PROBLEM  integrity" in report and f"garage restore {backup.path}" in report, report

    restored = garage("restore", str(backup.path), database=copy)
    assert restored.returncode == 0, restored.stderr
    code, report = doctor(copy, backups)
    assert code == 0, report
    server = serve(copy, env={**NO_SCHEDULE, **env})
    try:
        spots = server.client(server.admin_key).get(f"{API}/garages/{garage_id}/spots", params={"limit": 1})
        assert spots.status_code == 200 and len(spots.json()["items"]) == 1
    finally:
        server.stop()
