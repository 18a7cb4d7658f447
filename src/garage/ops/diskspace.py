"""Free disk space as a condition the service watches, not a surprise.

SQLite needs room to write: the WAL grows with every commit, a checkpoint may grow the database
file, a snapshot backup is another copy of it, and Litestream keeps its own files. When the file
system is full, SQLite answers SQLITE_FULL ("database or disk is full") and the write is rolled
back; nothing committed is lost, and writes work again as soon as there is room.

One threshold, GARAGE_MIN_FREE_BYTES (settings.min_free_bytes), is used everywhere:
- /ready answers 503 while the database's file system has less free than that;
- `garage doctor` reports it as a PROBLEM (also for the backup and local replica folders);
- a snapshot backup starts only if, after writing a copy of the database, at least that much is
  still free (backups.py), so backups never fill the disk;
- /metrics exports the free bytes (`garage_disk_free_bytes`) and the threshold beside it.
A write that fails because the disk is full is answered 503 DATABASE_UNAVAILABLE with a message
saying so (routes/errors.py), never 500, and is not retried as transient (retry.py).

That a write failed for want of room is known from SQLite's own words, never guessed from the free
space: the engine passes SQLite's message and code through for every failed write - a statement,
a raw query, the COMMIT of a single write, of a batch and of an interactive transaction (a COMMIT
failing in the driver adapter used to arrive as a bare P2036 "Error in external connector";
engine/src/adapter-errors.js now appends the original error to it)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from garage.errors import DatabaseUnavailable, GarageError

# What SQLite (SQLITE_FULL, extended code 13, through the engine and the client) and the OS
# (ENOSPC) say when there is no room. The engine's text for a failed statement reads
# `SqliteError { extended_code: 13, message: Some("database or disk is full") }`, for a failed
# raw query "Raw query failed. Code: `13`. Message: `database or disk is full`", for a failed
# COMMIT "Error in external connector (id 0): database or disk is full (SQLITE_FULL, extended code 13)".
DISK_FULL = re.compile(
    r"database or disk is full|SQLITE_FULL|extended_code: 13\b|No space left on device|\bENOSPC\b", re.IGNORECASE
)


class DiskFull(DatabaseUnavailable):
    """503 DATABASE_UNAVAILABLE: a write failed because the database's disk is full."""

    def __init__(self, free: int | None = None) -> None:
        room = f" ({format_bytes(free)} free)" if free is not None else ""
        super().__init__(
            f"The database's disk is full{room}: the change was not saved. "
            "Try again once an operator has freed disk space"
        )


class InsufficientStorage(GarageError):
    """507: an operation that needs disk space (a backup) was refused, or ran out of room."""

    status = 507
    code = "INSUFFICIENT_STORAGE"


def free_bytes(path: Path) -> int:
    """Free bytes on the file system holding `path` (or its nearest existing parent), as `df`
    shows them ("Avail"): without the blocks a file system may reserve for root, so a service
    running as root is warned before the last, reserved, blocks go too."""
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    stats = os.statvfs(existing)
    return stats.f_bavail * stats.f_frsize


def same_file_system(first: Path, second: Path) -> bool:
    def device(path: Path) -> int:
        while not path.exists() and path != path.parent:
            path = path.parent
        return path.stat().st_dev

    return device(first) == device(second)


@dataclass(frozen=True)
class DiskSpace:
    """Free space on the file system of `path`, against the configured minimum."""

    path: Path
    free: int
    minimum: int

    @property
    def low(self) -> bool:
        return self.free < self.minimum

    def describe(self) -> str:
        return (
            f"{format_bytes(self.free)} free on the file system of {self.path} "
            f"(GARAGE_MIN_FREE_BYTES {format_bytes(self.minimum)})" + (" - LOW" if self.low else "")
        )


def disk_space(path: Path, minimum: int) -> DiskSpace:
    return DiskSpace(path=path, free=free_bytes(path), minimum=minimum)


def says_disk_full(error: BaseException) -> bool:
    """Whether `error`, or an error it was raised from, is SQLite's or the OS's "disk is full"."""
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        if DISK_FULL.search(str(current)) or DISK_FULL.search(str(getattr(current, "data", "") or "")):
            return True
        seen.append(current)
        current = current.__cause__ or current.__context__
    return False


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def database_bytes(database: Path) -> int:
    """The database's size on disk with its WAL: what a full copy of it (a backup) may take."""
    return file_size(database) + file_size(Path(f"{database}-wal"))


def format_bytes(count: int) -> str:
    if abs(count) < 1024:
        return f"{count} bytes"
    size = count / 1024
    for unit in ("KiB", "MiB"):
        if abs(size) < 1024:
            return f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def disk_full_error(error: BaseException, database: Path) -> DiskFull | None:
    """DiskFull (saying how much of the database's file system is free) when a failed database
    call is the disk's fault: SQLite or the OS said so. None otherwise."""
    if not says_disk_full(error):
        return None
    return DiskFull(free_bytes(database))
