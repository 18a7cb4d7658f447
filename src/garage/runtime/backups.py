"""Snapshot backups: a consistent copy of the live database, verified before it is listed.

A backup never fills the disk and never leaves a half-written file behind:
- it starts only when the backup folder's file system has room for a copy of the database (its
  file and WAL) with GARAGE_MIN_FREE_BYTES still free afterwards, else it is refused with
  InsufficientStorage (HTTP 507, `garage backup` exit 1) before anything is written;
- the copy is written as `<name>.partial` and gets its `.db` name only once it passed
  integrity_check; on any failure (the disk filling up anyway, a failed check, a cancelled
  request) the `.partial` file is deleted. A `.partial` left by a killed process is deleted by the
  next backup once it is an hour old.

The copy is SQLite's VACUUM INTO on a read-only connection of our own, in a thread: it reads one
snapshot while the service keeps writing (WAL), and neither the service's event loop nor the query
engine's (whose SQLite calls are synchronous: a VACUUM there would stall every query for the
length of the copy) waits for it."""

from __future__ import annotations

import asyncio
import errno
import os
import re
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from garage.db.disk import database_bytes, format_bytes, free_bytes, says_disk_full
from garage.errors import GarageError, InsufficientStorage

NAME = re.compile(r"^garage-(\d{8}T\d{6}\d{3}Z)\.db$")
PARTIAL_SUFFIX = ".partial"
# A .partial file untouched this long belongs to no running backup (its process died).
STALE_PARTIAL_SECONDS = 3600


class BackupFailed(GarageError):
    status = 500
    code = "BACKUP_FAILED"


@dataclass(frozen=True)
class Backup:
    name: str
    path: Path
    size_bytes: int
    created_at: datetime


class BackupStore:
    """Backups live as `garage-<UTC timestamp>.db` files in one folder (mode 0600, folder 0700).
    `database` and `min_free_bytes` size the room a new backup needs (see the module docstring);
    without a database only listing and pruning make sense."""

    def __init__(self, directory: Path, *, database: Path | None = None, min_free_bytes: int = 0) -> None:
        self.directory = directory
        self.database = database
        self.min_free_bytes = min_free_bytes

    async def create(self) -> Backup:
        if self.database is None:
            raise BackupFailed("No database to back up: the backup store was opened for listing only")
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as error:  # a new folder needs a block too
            kind = InsufficientStorage if error.errno == errno.ENOSPC else BackupFailed
            raise kind(f"Cannot create the backup folder {self.directory}: {error}") from error
        self.remove_stale_partials()
        self.require_room()
        now = datetime.now(UTC)
        name = f"garage-{now.strftime('%Y%m%dT%H%M%S')}{now.microsecond // 1000:03d}Z.db"
        target = self.directory / name
        partial = target.with_suffix(PARTIAL_SUFFIX)
        try:
            # both read whole files: off the event loop, which keeps serving
            await asyncio.to_thread(vacuum_into, self.database, partial)
            problem = await asyncio.to_thread(integrity_problem, partial)
            if problem is not None:
                raise BackupFailed(f"The backup copy failed its integrity check: {problem}")
            os.chmod(partial, 0o600)
            partial.rename(target)  # only verified copies carry the .db name
        except BaseException as error:  # cancelled too: a .partial is never left behind
            partial.unlink(missing_ok=True)
            if isinstance(error, Exception) and not isinstance(error, GarageError) and self._out_of_room(error):
                raise InsufficientStorage(
                    f"The backup ran out of disk space in {self.directory} ({format_bytes(free_bytes(self.directory))} "
                    "free); its partial copy was deleted. Free disk space, then take the backup again"
                ) from error
            raise
        return self._describe(target)

    def room_needed(self) -> int:
        """Bytes a new backup needs free: a copy of the database (file + WAL, an upper bound: the
        copy is compacted) plus the minimum that must stay free."""
        return (database_bytes(self.database) if self.database is not None else 0) + self.min_free_bytes

    def require_room(self) -> None:
        needed, free = self.room_needed(), free_bytes(self.directory)
        if free < needed:
            raise InsufficientStorage(
                f"Not enough disk space for a backup in {self.directory}: {format_bytes(free)} free, it needs "
                f"{format_bytes(needed)} (a copy of the database plus GARAGE_MIN_FREE_BYTES "
                f"{format_bytes(self.min_free_bytes)} kept free). Nothing was written; free disk space or move "
                "GARAGE_BACKUP_DIR, then take the backup again",
                details={"freeBytes": free, "neededBytes": needed},
            )

    def _out_of_room(self, error: Exception) -> bool:
        # VACUUM INTO reports SQLite's "database or disk is full"; the OS says ENOSPC
        return says_disk_full(error)

    def remove_stale_partials(self) -> list[Path]:
        """Deletes `.partial` files no backup has touched for an hour (left by a killed process)."""
        if not self.directory.is_dir():
            return []
        cutoff = time.time() - STALE_PARTIAL_SECONDS
        stale = [path for path in self.directory.glob(f"garage-*{PARTIAL_SUFFIX}") if path.stat().st_mtime < cutoff]
        for path in stale:
            path.unlink(missing_ok=True)
        return stale

    def list(self) -> list[Backup]:
        if not self.directory.is_dir():
            return []
        found = [self._describe(path) for path in self.directory.iterdir() if NAME.match(path.name)]
        return sorted(found, key=lambda backup: backup.name, reverse=True)

    def newest(self) -> Backup | None:
        backups = self.list()
        return backups[0] if backups else None

    def prune(self, keep: int) -> tuple[Backup, ...]:
        """Deletes all but the `keep` newest backups (only files named like a backup); returns them."""
        if keep < 1:
            raise ValueError("retention keeps at least one backup")
        removed = tuple(self.list()[keep:])
        for backup in removed:
            backup.path.unlink(missing_ok=True)
        return removed

    @staticmethod
    def _describe(path: Path) -> Backup:
        match = NAME.match(path.name)
        assert match is not None
        stamp = datetime.strptime(match.group(1)[:-4], "%Y%m%dT%H%M%S").replace(
            tzinfo=UTC, microsecond=int(match.group(1)[-4:-1]) * 1000
        )
        return Backup(name=path.name, path=path, size_bytes=path.stat().st_size, created_at=stamp)


def vacuum_into(database: Path, target: Path) -> None:
    """A consistent, compacted copy of `database` at `target` (one read snapshot: writers carry on
    in WAL mode). Raises sqlite3's error, e.g. "database or disk is full"."""
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10)
    try:
        connection.execute("VACUUM INTO ?", (str(target),))
    finally:
        connection.close()


def integrity_problem(path: Path) -> str | None:
    """None when SQLite's integrity check passes on the file, else what it reported."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = connection.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.DatabaseError as error:
        return str(error)
    finally:
        connection.close()
    return None if rows == [("ok",)] else "; ".join(str(row[0]) for row in rows[:5])
