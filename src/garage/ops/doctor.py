"""`garage doctor`: the state of the database file and its backups, for an operator.

Reads the file with sqlite3 read-only (see ops/integrity.py for why), so it runs beside a serving
service and on a file no engine can open."""

from __future__ import annotations

import stat
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from garage.config import Settings
from garage.ops.backups import BackupStore
from garage.ops.integrity import database_problems, read_only, restore_advice
from garage.ops.readiness import migration_names


@dataclass(frozen=True)
class Finding:
    topic: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok     ' if self.ok else 'PROBLEM'}  {self.topic:<12} {self.detail}"


def examine(settings: Settings) -> list[Finding]:
    database = settings.database_path
    store = BackupStore(settings.backup_dir)
    if not database.is_file():
        return [Finding("database", False, f"{database} does not exist"), _last_backup(settings, store)]
    problems = database_problems(database, thorough=True)
    findings = [
        Finding("database", True, str(database)),
        Finding("integrity", not problems,
                "ok (integrity_check, foreign_key_check)" if not problems
                else "; ".join(problems) + f" -> restore: {restore_advice(store)}"),
        _wal_size(database),
        _last_backup(settings, store),
        _replica_lag(settings, database),
    ]
    if not problems:
        findings.append(_pending_migrations(database, settings.migrations_dir))
    findings.append(_permissions(database, store.directory))
    return findings


def _wal_size(database: Path) -> Finding:
    wal = Path(f"{database}-wal")
    size = wal.stat().st_size if wal.exists() else 0
    # Informational: the engine checkpoints it; a large WAL only costs disk and read time.
    return Finding("wal", True, f"{size} bytes ({wal.name})" if size else "0 bytes (no WAL file)")


def _last_backup(settings: Settings, store: BackupStore) -> Finding:
    newest = store.newest()
    if newest is None:
        return Finding("last backup", False, f"none in {store.directory} (take one: garage backup)")
    age = datetime.now(timezone.utc) - newest.created_at
    detail = f"{newest.name}, {_age(age)} ago ({len(store.list())} kept in {store.directory})"
    # Overdue when a whole scheduled run was missed (the interval twice over); 0 = scheduler off.
    interval = timedelta(hours=settings.backup_interval_hours)
    overdue = interval > timedelta(0) and age > 2 * interval
    return Finding("last backup", not overdue, detail + (" - OVERDUE" if overdue else ""))


# A replica more than this far behind the database's last write is reported as a problem.
REPLICA_LAG_LIMIT = timedelta(minutes=5)


def _replica_lag(settings: Settings, database: Path) -> Finding:
    """How far the local Litestream replica trails the database's last write (file times)."""
    if not settings.replication:
        return Finding("replica", True, "replication off (GARAGE_REPLICATION=false)")
    if settings.replica_url_setting and not settings.replica_url_setting.startswith("file://"):
        return Finding("replica", True, f"remote replica {settings.replica_url_setting}: check with `litestream ltx`")
    files = [path for path in settings.replica_dir.rglob("*") if path.is_file()] if settings.replica_dir.is_dir() else []
    if not files:
        return Finding("replica", False, f"no replica in {settings.replica_dir} (is `garage serve` running?)")
    replicated = max(path.stat().st_mtime for path in files)
    written = max(path.stat().st_mtime for path in (database, Path(f"{database}-wal")) if path.exists())
    lag = timedelta(seconds=max(0.0, written - replicated))
    behind = lag > REPLICA_LAG_LIMIT
    detail = f"{settings.replica_dir}: {lag.total_seconds():.1f} s behind the last write" + (" - BEHIND" if behind else "")
    return Finding("replica", not behind, detail)


def _age(age: timedelta) -> str:
    minutes = int(age.total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    return f"{days} d {hours} h {minutes} min" if days else f"{hours} h {minutes} min"


def _pending_migrations(database: Path, migrations_dir: Path) -> Finding:
    try:
        with read_only(database) as connection:
            has_table = connection.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_prisma_migrations'").fetchone()
            applied = {row[0] for row in connection.execute(
                "SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL")
            } if has_table else set()
    except sqlite3.DatabaseError as error:
        return Finding("migrations", False, f"cannot read _prisma_migrations: {error}")
    pending = [name for name in migration_names(migrations_dir) if name not in applied]
    if pending:
        return Finding("migrations", False, f"{len(pending)} pending: {', '.join(pending)} (run: prisma migrate deploy)")
    return Finding("migrations", True, f"all {len(applied)} applied")


def _permissions(database: Path, backup_dir: Path) -> Finding:
    """Database, WAL and backups readable by their owner only (files 0600, folders 0700)."""
    paths = [database, *(Path(f"{database}{suffix}") for suffix in ("-wal", "-shm"))]
    if backup_dir.is_dir():
        paths += [backup_dir, *backup_dir.iterdir()]
    too_open = [f"{path} {stat.S_IMODE(path.stat().st_mode):04o}" for path in paths
                if path.exists() and stat.S_IMODE(path.stat().st_mode) & 0o077]
    if too_open:
        return Finding("permissions", False, "readable by others: " + ", ".join(too_open) + " (chmod 600 files, 700 folders)")
    return Finding("permissions", True, "database, WAL and backups private to their owner")
