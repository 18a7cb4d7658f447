"""Advisory file locks (fcntl.flock) beside the database file.

Two lock files, both next to the database and both 0600:
- `<db>.serving.lock`: every serving process (each uvicorn worker) holds it *shared* from the start
  of its lifespan to the end; `garage restore` takes it *exclusive*, so it can only run while nothing
  serves the database, and a service cannot start while a restore runs.
- `<db>.backup-scheduler.lock`: the one worker that runs the scheduled backups holds it exclusive.

flock locks belong to the open file, so the kernel drops them when the process dies, even by
SIGKILL: a crashed service never leaves a stale lock behind (unlike a pid file).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from garage.errors import OperationalFailure


def serving_lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".serving.lock")


def scheduler_lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".backup-scheduler.lock")


class FileLock:
    """A held flock; release() (or process exit) gives it up."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def try_lock(path: Path, *, shared: bool) -> FileLock | None:
    """The lock if it is free now, else None (never waits). The descriptor is not inherited by
    child processes (PEP 446), so the query engine the client spawns does not hold it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return FileLock(path, fd)


class DatabaseBusy(OperationalFailure):
    """The service will not start: a restore holds the database."""


def hold_serving_lock(database: Path) -> FileLock:
    """The shared serving lock, held for as long as this process serves `database`."""
    lock = try_lock(serving_lock_path(database), shared=True)
    if lock is None:
        raise DatabaseBusy(
            f"`garage restore` is replacing {database} (it holds {serving_lock_path(database)}); "
            "start the service again when the restore has finished"
        )
    return lock
