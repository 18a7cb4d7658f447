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
saying so (routes/errors.py), never 500, and is not retried as transient (garage/db/retry.py).

That a write failed for want of room is known from SQLite's own words, never guessed from the free
space: the engine passes SQLite's message and code through for every failed write - a statement,
a raw query, the COMMIT of a single write, of a batch and of an interactive transaction (a COMMIT
failing in the driver adapter used to arrive as a bare P2036 "Error in external connector";
engine/src/adapter-errors.js now appends the original error to it)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from garage.db.disk import format_bytes, free_bytes


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
