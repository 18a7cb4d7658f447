"""Automatic snapshot backups while the service runs (every GARAGE_BACKUP_INTERVAL_HOURS, keeping
the GARAGE_BACKUP_KEEP newest).

With several uvicorn workers every worker runs this loop, but only the one holding the exclusive
scheduler lock (ops/locks.py) takes backups; the others keep trying for the lock, so if that worker
dies another one takes over. "Due" is read from the backup folder (the newest backup's timestamp),
so restarts do not reset the clock and a manual `garage backup` counts too."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path

from prisma import Prisma

from garage.config import Settings
from garage.ops.backups import BackupStore
from garage.ops.locks import FileLock, scheduler_lock_path, try_lock

log = logging.getLogger("garage.backups")

# The loop wakes at least this often to check whether a backup is due (or the lock is free).
LONGEST_TICK = timedelta(minutes=1)


class BackupScheduler:
    def __init__(self, store: BackupStore, db: Prisma, *, interval: timedelta, keep: int, lock_path: Path) -> None:
        self._store = store
        self._db = db
        self._interval = interval
        self._keep = keep
        self._lock_path = lock_path
        self._lock: FileLock | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def tick(self) -> timedelta:
        return min(self._interval, LONGEST_TICK)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="garage-backup-scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    async def _run(self) -> None:
        while True:
            if self._lock is None:
                self._lock = try_lock(self._lock_path, shared=False)
            if self._lock is not None:
                await self.backup_if_due()
            await asyncio.sleep(self.tick.total_seconds())

    async def backup_if_due(self) -> None:
        newest = self._store.newest()
        if newest is not None and datetime.now(timezone.utc) - newest.created_at < self._interval:
            return
        try:
            backup = await self._store.create(self._db)
            removed = self._store.prune(self._keep)
        except Exception:  # a failed backup must not stop the scheduler: logged, retried next tick
            log.exception("scheduled backup failed; retrying in %s", self.tick)
            return
        log.info("scheduled backup %s (%d bytes); pruned %d old backups", backup.name, backup.size_bytes, len(removed))


def start_backup_scheduler(settings: Settings, store: BackupStore, db: Prisma) -> BackupScheduler | None:
    """The running scheduler, or None when GARAGE_BACKUP_INTERVAL_HOURS is 0."""
    if settings.backup_interval_hours == 0:
        return None
    scheduler = BackupScheduler(store, db, interval=timedelta(hours=settings.backup_interval_hours),
                                keep=settings.backup_keep, lock_path=scheduler_lock_path(settings.database_path))
    scheduler.start()
    return scheduler
