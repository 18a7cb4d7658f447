"""`garage restore FILE`: verify a snapshot, then swap it in for the database atomically.

Order of the swap, chosen so that a crash at any step leaves a database file SQLite can open and
nothing of the old one is lost:
1. copy FILE to a temporary file beside the database (same file system, so the final rename is
   atomic), fsync it, check it again (the copy itself must be sound);
2. keep the old database as `<db>.replaced-<UTC timestamp>` (a hard link, plus its -wal under the
   matching name, so the kept pair still holds every commit the old file had);
3. remove the old -wal/-shm *before* the new file takes the name: a WAL carries no id of the file it
   belongs to, and SQLite would replay a stale one onto the restored file;
4. rename the copy over the database and fsync the folder;
5. delete the damage record a background integrity check may have left (`<db>.damaged`,
   runtime/integrity.py): it described the file that was just replaced.
Every check here is the full integrity_check (plus foreign_key_check), on the snapshot and again
on the copy, never only the quick_check the service runs at start.
The whole swap runs under the exclusive serving lock (runtime/locks.py): it refuses while any worker
serves the database, and no worker can start until it is done.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from garage.db.disk import format_bytes, free_bytes
from garage.errors import OperationalFailure
from garage.runtime.integrity import clear_damage, database_problems, read_only
from garage.runtime.locks import serving_lock_path, try_lock
from garage.runtime.readiness import migration_names

SIDE_FILES = ("-wal", "-shm", "-journal")


class RestoreRefused(OperationalFailure):
    """Nothing was changed; the message says why."""


@dataclass(frozen=True)
class SnapshotCheck:
    problems: list[str] = field(default_factory=list)
    pending_migrations: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Restored:
    database: Path
    replaced: Path | None
    pending_migrations: list[str]


def check_snapshot(path: Path, migrations_dir: Path) -> SnapshotCheck:
    """A restorable snapshot passes integrity_check and foreign_key_check, its Prisma migrations
    table agrees with prisma/migrations (only known, finished migrations, applied in order, their
    checksums unchanged) and it holds every table those migrations create. Migrations newer than
    the snapshot are allowed: they are reported as pending (`prisma migrate deploy` applies them)."""
    if not path.is_file():
        return SnapshotCheck([f"{path} is not a file"])
    # An EMPTY -wal (left by a read-only look at the file, e.g. `sqlite3 -readonly`) holds nothing.
    stray = [
        str(path) + suffix
        for suffix in ("-wal", "-journal")
        if Path(str(path) + suffix).exists() and Path(str(path) + suffix).stat().st_size > 0
    ]
    if stray:
        return SnapshotCheck(
            [f"{', '.join(stray)} exists beside it: not a closed snapshot (use a file from `garage backup`)"]
        )
    problems = database_problems(path, thorough=True)
    if problems:
        return SnapshotCheck(problems)
    try:
        with read_only(path) as connection:
            return _check_schema(connection, migrations_dir)
    except sqlite3.DatabaseError as error:
        return SnapshotCheck([f"cannot read the migrations table: {error}"])


def _check_schema(connection: sqlite3.Connection, migrations_dir: Path) -> SnapshotCheck:
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "_prisma_migrations" not in tables:
        return SnapshotCheck(["no _prisma_migrations table: not a garage database"])
    rows = connection.execute(
        "SELECT migration_name, checksum, finished_at, rolled_back_at FROM _prisma_migrations ORDER BY migration_name"
    ).fetchall()
    known = migration_names(migrations_dir)
    problems = [
        f"migration {name} started but never finished"
        for name, _, finished, rolled_back in rows
        if finished is None and rolled_back is None
    ]
    applied = [name for name, _, finished, rolled_back in rows if finished is not None and rolled_back is None]
    problems += [
        f"migration {name} is unknown here (the snapshot comes from a newer version?)"
        for name in applied
        if name not in known
    ]
    if not problems and applied != known[: len(applied)]:
        problems.append(f"applied migrations {applied} are not the first ones of {known}")
    for name, checksum, finished, rolled_back in rows:
        script = migrations_dir / name / "migration.sql"
        if finished is not None and rolled_back is None and checksum and script.is_file():
            if hashlib.sha256(script.read_bytes()).hexdigest() != checksum:
                problems.append(
                    f"migration {name}: checksum differs from prisma/migrations (edited after it was applied)"
                )
    if problems:
        return SnapshotCheck(problems)
    missing = sorted(_tables_created_by(migrations_dir, applied) - tables)
    if missing:
        return SnapshotCheck([f"tables missing: {', '.join(missing)}"])
    return SnapshotCheck(pending_migrations=known[len(applied) :])


def _tables_created_by(migrations_dir: Path, names: list[str]) -> set[str]:
    """The tables the given migrations create, found by running them on an empty in-memory database."""
    scratch = sqlite3.connect(":memory:")
    try:
        for name in names:
            scratch.executescript((migrations_dir / name / "migration.sql").read_text())
        return {row[0] for row in scratch.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        scratch.close()


def restore(source: Path, database: Path, migrations_dir: Path) -> Restored:
    source = source.resolve()
    database = database.resolve()
    if source == database:
        raise RestoreRefused(f"{source} is the database itself")
    check = check_snapshot(source, migrations_dir)
    if check.problems:
        raise RestoreRefused(
            f"{source} failed verification; nothing was changed:\n"
            + "".join(f"  {problem}\n" for problem in check.problems)
        )
    lock = try_lock(serving_lock_path(database), shared=False)
    if lock is None:
        raise RestoreRefused(
            f"the service is serving {database} (it holds {serving_lock_path(database)}); nothing was changed.\n"
            "Stop every garage process first (e.g. systemctl stop garage), then run the restore again."
        )
    try:
        replaced = _swap_in(source, database)
    finally:
        lock.release()
    return Restored(database=database, replaced=replaced, pending_migrations=check.pending_migrations)


def _swap_in(source: Path, database: Path) -> Path | None:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    staged = database.with_name(f"{database.name}.restore-{stamp}.tmp")
    _stage(source, staged)
    problems = database_problems(staged, thorough=True)
    if problems:
        staged.unlink()
        raise RestoreRefused(f"the copy at {staged} failed its check; nothing was changed: {'; '.join(problems)}")
    replaced: Path | None = None
    if database.exists():
        replaced = database.with_name(f"{database.name}.replaced-{stamp}")
        _keep(database, replaced)
        wal = Path(f"{database}-wal")
        if wal.exists():
            _keep(wal, Path(f"{replaced}-wal"))
    for suffix in SIDE_FILES:
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    os.replace(staged, database)
    _fsync_directory(database.parent)
    clear_damage(database)
    return replaced


def _stage(source: Path, staged: Path) -> None:
    """The copy beside the database, or RestoreRefused (nothing changed, no copy left) when the
    disk has no room for it. The old database needs no room: it is kept as a hard link."""
    free, needed = free_bytes(staged.parent), source.stat().st_size
    if free < needed:
        raise RestoreRefused(
            f"not enough disk space beside the database for the copy: {format_bytes(free)} free, "
            f"it needs {format_bytes(needed)}; nothing was changed (docs/operations.md, Disk space)"
        )
    try:
        _copy_durably(source, staged)
    except OSError as error:
        staged.unlink(missing_ok=True)
        raise RestoreRefused(f"copying {source} beside the database failed ({error}); nothing was changed") from error


def _copy_durably(source: Path, target: Path) -> None:
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out, source.open("rb") as src:
        shutil.copyfileobj(src, out, length=1024 * 1024)
        out.flush()
        os.fsync(out.fileno())
    os.chmod(target, 0o600)


def _keep(path: Path, kept: Path) -> None:
    """A second name for the file (hard link: instant, no space), or a copy where links fail."""
    try:
        os.link(path, kept)
    except OSError:
        _copy_durably(path, kept)
    os.chmod(kept, 0o600)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
