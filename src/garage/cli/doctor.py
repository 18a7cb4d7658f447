"""`garage doctor`: the state of the database file, its disk and its backups, for an operator.

Reads the file with sqlite3 read-only (see runtime/integrity.py for why), so it runs beside a serving
service and on a file no engine can open. The integrity line runs the full integrity_check (it
compares every index with its table, which the start-up quick_check does not)."""

from __future__ import annotations

import sqlite3
import stat
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from garage.config import Settings
from garage.db.disk import database_bytes, format_bytes, free_bytes
from garage.runtime.backups import BackupStore
from garage.runtime.diskspace import disk_space, same_file_system
from garage.runtime.integrity import database_problems, read_only, recorded_damage, restore_advice
from garage.runtime.readiness import migration_names


@dataclass(frozen=True)
class Finding:
    topic: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok     ' if self.ok else 'PROBLEM'}  {self.topic:<12} {self.detail}"


def examine(settings: Settings) -> list[Finding]:
    database = settings.database_path
    store = BackupStore(settings.backup_dir, database=database, min_free_bytes=settings.min_free_bytes)
    if not database.is_file():
        return [
            Finding("database", False, f"{database} does not exist"),
            *_disk_space(settings, store),
            _last_backup(settings, store),
        ]
    problems = database_problems(database, thorough=True)
    findings = [
        Finding("database", True, str(database)),
        Finding(
            "integrity",
            not problems,
            "ok (integrity_check, foreign_key_check)"
            if not problems
            else "; ".join(problems) + f" -> restore: {restore_advice(settings)}",
        ),
        *_damage_record(database, problems),
        _wal_size(database),
        *_disk_space(settings, store),
        _last_backup(settings, store),
        _replica_lag(settings, database),
    ]
    if not problems:
        findings.append(_pending_migrations(database, settings.migrations_dir))
    findings.append(_permissions(database, store.directory))
    return findings


def _damage_record(database: Path, problems: list[str]) -> list[Finding]:
    """A damage a background check recorded that this check no longer finds: the file was
    restored or repaired while the record stayed; the next start deletes it."""
    if problems or recorded_damage(database) is None:
        return []
    return [
        Finding("damage note", True, f"{database}.damaged is outdated (the file passes now); the next start deletes it")
    ]


def _disk_space(settings: Settings, store: BackupStore) -> list[Finding]:
    """Free space where the service writes (database + WAL, backups, a local replica; one line per
    file system), and whether the next backup fits (a copy of the database with
    GARAGE_MIN_FREE_BYTES to spare)."""
    folders = {"database": settings.database_path.parent, "backups": store.directory}
    if settings.replication and settings.replica_url_setting is None:
        folders["replica"] = settings.replica_dir
    findings: list[Finding] = []
    reported: list[Path] = []
    for role, folder in folders.items():
        if any(same_file_system(path, folder) for path in reported):
            continue  # same file system, same free space: reported once
        reported.append(folder)
        space = disk_space(folder, settings.min_free_bytes)
        sharing = [other for other, path in folders.items() if other != role and same_file_system(path, folder)]
        detail = f"{' + '.join([role, *sharing])}: {space.describe()}"
        findings.append(
            Finding("disk", not space.low, detail + (" (writes fail when it reaches 0)" if space.low else ""))
        )
    needed, free = store.room_needed(), free_bytes(store.directory)
    findings.append(
        Finding(
            "backup room",
            free >= needed,
            f"the next backup needs {format_bytes(needed)} free in {store.directory} "
            f"(the database's {format_bytes(database_bytes(settings.database_path))} + GARAGE_MIN_FREE_BYTES), "
            f"{format_bytes(free)} free" + ("" if free >= needed else " - backups are REFUSED"),
        )
    )
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
    age = datetime.now(UTC) - newest.created_at
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
    files = (
        [path for path in settings.replica_dir.rglob("*") if path.is_file()] if settings.replica_dir.is_dir() else []
    )
    if not files:
        return Finding("replica", False, f"no replica in {settings.replica_dir} (is `garage serve` running?)")
    replicated = max(path.stat().st_mtime for path in files)
    written = max(path.stat().st_mtime for path in (database, Path(f"{database}-wal")) if path.exists())
    lag = timedelta(seconds=max(0.0, written - replicated))
    behind = lag > REPLICA_LAG_LIMIT
    detail = f"{settings.replica_dir}: {lag.total_seconds():.1f} s behind the last write" + (
        " - BEHIND" if behind else ""
    )
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
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_prisma_migrations'"
            ).fetchone()
            applied = (
                {
                    row[0]
                    for row in connection.execute(
                        "SELECT migration_name FROM _prisma_migrations"
                        " WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL"
                    )
                }
                if has_table
                else set()
            )
    except sqlite3.DatabaseError as error:
        return Finding("migrations", False, f"cannot read _prisma_migrations: {error}")
    pending = [name for name in migration_names(migrations_dir) if name not in applied]
    if pending:
        return Finding(
            "migrations", False, f"{len(pending)} pending: {', '.join(pending)} (run: prisma migrate deploy)"
        )
    return Finding("migrations", True, f"all {len(applied)} applied")


def _permissions(database: Path, backup_dir: Path) -> Finding:
    """Database, WAL and backups readable by their owner only (files 0600, folders 0700)."""
    paths = [database, *(Path(f"{database}{suffix}") for suffix in ("-wal", "-shm"))]
    if backup_dir.is_dir():
        paths += [backup_dir, *backup_dir.iterdir()]
    too_open = [
        f"{path} {stat.S_IMODE(path.stat().st_mode):04o}"
        for path in paths
        if path.exists() and stat.S_IMODE(path.stat().st_mode) & 0o077
    ]
    if too_open:
        return Finding(
            "permissions", False, "readable by others: " + ", ".join(too_open) + " (chmod 600 files, 700 folders)"
        )
    return Finding("permissions", True, "database, WAL and backups private to their owner")
