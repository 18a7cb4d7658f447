"""Archival: completed sessions (with their tickets and payments) that ended before a date move
from the live database into the archive database, a second SQLite file with the same schema.

Each batch is all-or-nothing and safe to interrupt anywhere:
1. copy the batch into the archive in ONE archive transaction (replacing any earlier copy of the
   same sessions, so a re-run after a crash simply copies them again);
2. verify: counts and sums read back from the archive equal those of the batch;
3. in ONE live transaction, verify the live rows still add up to the same (a refund in between
   aborts the batch: the next run copies the new state), then delete them and audit it.
A crash after 1 leaves the sessions in both files; the next run repeats the batch and finishes it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path

from garage.config import Settings
from garage.errors import GarageError
from garage.repositories.archive import totals_of
from garage.repositories.unit_of_work import Database, UnitOfWork, connected
from garage.vocabulary import AuditAction, AuditEntity


class ArchiveMismatch(GarageError):
    status = 500
    code = "ARCHIVE_MISMATCH"


def archive_settings(settings: Settings) -> Settings:
    """The same settings on the archive file (a fresh object: `database_path` is cached)."""
    return type(settings).model_validate({**settings.model_dump(), "database_url": f"file:{settings.archive_path}"})


@asynccontextmanager
async def connected_archive(settings: Settings) -> AsyncIterator[Database]:
    """The archive database on a client of its own, connected for the block."""
    async with connected(archive_settings(settings)) as archive:
        yield archive


class ArchivalService:
    """Moves batches from the `live` database into the `archive` one."""

    def __init__(self, live: Database, archive: Database, archive_path: Path) -> None:
        self._live = live
        self._archive = archive
        self._archive_path = archive_path

    async def pending(self, before: datetime) -> int:
        return await self._live.archive.count_completed_before(before)

    async def archive_batch(self, before: datetime, batch_size: int, actor: str) -> int:
        """Moves the oldest batch; returns how many sessions moved (0: nothing left).

        Each side is one transaction on its own database, cross-checked in between; a failed batch
        is finished by running the command again. Each transaction may be retried whole on a
        transient failure (Database.transaction: only when it provably did not commit), which is
        safe here: the copy replaces any earlier copy of the same sessions, and the live side
        checks its totals again under the write lock before it deletes anything."""
        sessions = await self._live.archive.completed_before(before, batch_size)
        if not sessions:
            return 0
        ids = [session.id for session in sessions]
        expected = totals_of(sessions)

        async def copy(unit: UnitOfWork) -> None:
            await unit.archive.replace_batch(sessions)

        await self._archive.transaction(copy, actor=actor)
        archived = await self._archive.archive.totals(ids)
        if archived != expected:
            raise ArchiveMismatch(
                f"the archive copy does not add up ({archived} != {expected}); the live database is unchanged"
            )

        async def remove(unit: UnitOfWork) -> None:
            live_now = await unit.archive.totals(ids)
            if live_now != archived:
                raise ArchiveMismatch("sessions changed while being archived; run the command again")
            await unit.archive.delete_batch(ids)
            unit.record(
                AuditAction.ARCHIVE,
                AuditEntity.SESSION,
                ids[0],
                after={
                    "sessionIds": ids,
                    "archive": str(self._archive_path),
                    "sessions": expected.sessions,
                    "feeCents": expected.fee_cents,
                    "paymentCents": expected.payment_cents,
                },
            )

        # as patient as the service's own writes (GARAGE_DB_WAIT_SECONDS) for the live write lock
        await self._live.transaction(remove, actor=actor, max_wait=timedelta(seconds=self._live.wait_seconds))
        return len(ids)


class ArchiveReader:
    """The archive for reports: a second client, opened on the first request that asks for archived
    data (an engine start costs ~0.5 s) and only read through. No archive file: nothing archived."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._database: Database | None = None
        self._open = AsyncExitStack()
        self._lock = asyncio.Lock()

    async def database(self) -> Database | None:
        async with self._lock:
            if self._database is None and self._settings.archive_path.is_file():
                self._database = await self._open.enter_async_context(connected_archive(self._settings))
            return self._database

    async def close(self) -> None:
        async with self._lock:
            self._database = None
            await self._open.aclose()
