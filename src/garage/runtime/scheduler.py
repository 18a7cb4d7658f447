"""Background maintenance while the service runs, in ONE worker:
- snapshot backups every GARAGE_BACKUP_INTERVAL_HOURS, keeping the GARAGE_BACKUP_KEEP newest;
- the full integrity check (PRAGMA integrity_check, runtime/integrity.py) right after start, then every
  GARAGE_INTEGRITY_CHECK_INTERVAL_HOURS;
- deleting events older than GARAGE_EVENT_RETENTION_DAYS, hourly (the newest one always stays);
- webhook delivery (runtime/webhook_delivery.py), a loop of its own polling every 0.5 s;
- a watch on the database's free disk space that logs when it falls below GARAGE_MIN_FREE_BYTES
  (and when it recovers), so that a disk filled by the WAL, Litestream or anything else is noticed
  even when nobody polls /ready or /metrics.

With several uvicorn workers every worker runs this loop, but only the one holding the exclusive
scheduler lock (runtime/locks.py) does the work; the others keep trying for the lock, so if that worker
dies another one takes over. "Due" for backups is read from the backup folder (the newest backup's
timestamp), so restarts do not reset the clock and a manual `garage backup` counts too."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from garage.config import Settings
from garage.errors import GarageError
from garage.repositories.unit_of_work import Database, UnitOfWork
from garage.runtime.backups import BackupStore
from garage.runtime.diskspace import disk_space
from garage.runtime.integrity import check_in_background
from garage.runtime.locks import FileLock, scheduler_lock_path, try_lock
from garage.runtime.webhook_delivery import WebhookDeliverer
from garage.security.crypto import FieldCipher
from garage.vocabulary import SYSTEM_ACTOR

log = logging.getLogger("garage.maintenance")

# The loop wakes at least this often to check whether a job is due (or the lock is free).
LONGEST_TICK = timedelta(minutes=1)
# A loop that failed (it should not: it handles its own failures) starts again after this pause.
LOOP_RESTART = timedelta(seconds=5)


@dataclass
class Job:
    """One kind of maintenance: `run` when `due`; a failure is logged and retried next tick."""

    name: str
    interval: timedelta
    run: Callable[[], Awaitable[None]]
    due: Callable[[], bool]


@dataclass
class Periodic:
    """Due at once, then `interval` after each run (the clock lives in memory: a restart checks again)."""

    interval: timedelta
    last: datetime | None = field(default=None)

    def due(self) -> bool:
        return self.last is None or datetime.now(UTC) - self.last >= self.interval

    def ran(self) -> None:
        self.last = datetime.now(UTC)


class MaintenanceScheduler:
    """Runs the due jobs every tick, in the worker that holds the scheduler lock; `loops` (work
    that keeps its own pace, as webhook delivery) run from taking the lock until stopped."""

    def __init__(
        self, jobs: list[Job], *, lock_path: Path, loops: Sequence[Callable[[], Awaitable[None]]] = ()
    ) -> None:
        self._jobs = jobs
        self._lock_path = lock_path
        self._loops = loops
        self._lock: FileLock | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop_tasks: list[asyncio.Task[None]] = []

    @property
    def tick(self) -> timedelta:
        return min([LONGEST_TICK, *(job.interval for job in self._jobs)])

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="garage-maintenance")

    async def stop(self) -> None:
        for task in self._loop_tasks:
            task.cancel()
        for task in self._loop_tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
            except Exception:
                log.exception("a maintenance loop had failed")
        self._loop_tasks = []
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
                    self._start_loops()
            if self._lock is not None:
                await self.run_due_jobs()
            await asyncio.sleep(self.tick.total_seconds())

    def _start_loops(self) -> None:
        self._loop_tasks = [
            asyncio.create_task(_keep_running(loop), name=f"garage-maintenance-loop-{n}")
            for n, loop in enumerate(self._loops)
        ]

    async def run_due_jobs(self) -> None:
        for job in self._jobs:
            if not job.due():
                continue
            try:
                await job.run()
            except GarageError as error:  # refused with a reason (no room for a backup): no traceback
                log.error("%s failed: %s; retrying in %s", job.name, error.message, self.tick)
            except Exception:  # a failed job must not stop the loop: logged, retried next tick
                log.exception("%s failed; retrying in %s", job.name, self.tick)


async def _keep_running(loop: Callable[[], Awaitable[None]]) -> None:
    """`loop` again after a failure (it is meant to run until cancelled), after a pause."""
    while True:
        try:
            await loop()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("a maintenance loop failed; restarting it in %s", LOOP_RESTART)
        await asyncio.sleep(LOOP_RESTART.total_seconds())


def backup_job(store: BackupStore, *, interval: timedelta, keep: int) -> Job:
    def due() -> bool:
        newest = store.newest()
        return newest is None or datetime.now(UTC) - newest.created_at >= interval

    async def run() -> None:
        backup = await store.create()
        removed = store.prune(keep)
        log.info("scheduled backup %s (%d bytes); pruned %d old backups", backup.name, backup.size_bytes, len(removed))

    return Job("scheduled backup", interval, run, due)


def integrity_job(settings: Settings, *, interval: timedelta) -> Job:
    clock = Periodic(interval)

    async def run() -> None:
        clock.ran()  # a check that failed to run is tried again at the next interval, not every tick
        await asyncio.to_thread(check_in_background, settings)  # reads the whole file: off the event loop

    return Job("background integrity check", interval, run, clock.due)


def disk_watch_job(settings: Settings) -> Job:
    """Logs once when free space on the database's file system falls below the minimum, and once
    when it is back above it (/ready and /metrics report it at every request)."""
    state = {"low": False}

    async def run() -> None:
        space = disk_space(settings.database_path, settings.min_free_bytes)
        if space.low and not state["low"]:
            log.error(
                "low disk space: %s; writes fail when it reaches 0 (docs/operations.md, Disk space)", space.describe()
            )
        elif state["low"] and not space.low:
            log.warning("disk space recovered: %s", space.describe())
        state["low"] = space.low

    return Job("disk space watch", LONGEST_TICK, run, lambda: True)


def event_retention_job(db: Database, *, keep: timedelta, interval: timedelta = timedelta(hours=1)) -> Job:
    """Deletes the events older than `keep` (never the newest one: ids only grow)."""
    clock = Periodic(interval)

    async def run() -> None:
        clock.ran()

        async def prune(unit: UnitOfWork) -> int:
            return await unit.events.delete_older_than(datetime.now(UTC) - keep)

        deleted = await db.transaction(prune, actor=SYSTEM_ACTOR)
        if deleted:
            log.info("event retention: deleted %d events older than %s", deleted, keep)

    return Job("event retention", interval, run, clock.due)


def start_maintenance(settings: Settings, store: BackupStore, db: Database) -> MaintenanceScheduler:
    """The running maintenance loop (the app's lifespan stops it). A job whose interval is 0 is off."""
    jobs = [disk_watch_job(settings), event_retention_job(db, keep=timedelta(days=settings.event_retention_days))]
    if settings.integrity_check_interval_hours > 0:
        jobs.append(integrity_job(settings, interval=timedelta(hours=settings.integrity_check_interval_hours)))
    if settings.backup_interval_hours > 0:
        jobs.append(
            backup_job(store, interval=timedelta(hours=settings.backup_interval_hours), keep=settings.backup_keep)
        )
    deliverer = WebhookDeliverer(
        db,
        FieldCipher(settings.encryption_keys),
        retry_seconds=settings.webhook_retry_seconds,
        allow_private=settings.webhook_allow_private,
    )
    scheduler = MaintenanceScheduler(jobs, lock_path=scheduler_lock_path(settings.database_path), loops=[deliverer.run])
    scheduler.start()
    return scheduler
