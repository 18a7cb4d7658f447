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
from datetime import datetime, timedelta
from pathlib import Path

from prisma import Prisma

from garage.config import Settings
from garage.db import create_prisma, wait_seconds_of
from garage.errors import GarageError
from garage.repositories.archive import ArchiveRepository, totals_of
from garage.repositories.audit import AuditRepository


class ArchiveMismatch(GarageError):
    status = 500
    code = "ARCHIVE_MISMATCH"


def archive_settings(settings: Settings) -> Settings:
    """The same settings on the archive file (a fresh object: `database_path` is cached)."""
    return type(settings).model_validate({**settings.model_dump(), "database_url": f"file:{settings.archive_path}"})


def create_archive_client(settings: Settings) -> Prisma:
    return create_prisma(archive_settings(settings))


class ArchivalService:
    def __init__(self, live: Prisma, archive: Prisma, archive_path: Path) -> None:
        self._live = live
        self._archive = archive
        self._archive_path = archive_path

    async def pending(self, before: datetime) -> int:
        return await ArchiveRepository(self._live).count_completed_before(before)

    async def archive_batch(self, before: datetime, batch_size: int, actor: str) -> int:
        """Moves the oldest batch; returns how many sessions moved (0: nothing left)."""
        sessions = await ArchiveRepository(self._live).completed_before(before, batch_size)
        if not sessions:
            return 0
        ids = [session.id for session in sessions]
        expected = totals_of(sessions)
        # Deliberately not garage.db.transaction(): batch transactions on two databases, cross-checked;
        # rerun the command.
        async with self._archive.tx() as archive_tx:
            await ArchiveRepository(archive_tx).replace_batch(sessions)
        archived = await ArchiveRepository(self._archive).totals(ids)
        if archived != expected:
            raise ArchiveMismatch(
                f"the archive copy does not add up ({archived} != {expected}); the live database is unchanged"
            )
        # as patient as the service's own writes (GARAGE_DB_WAIT_SECONDS) for the live write lock
        async with self._live.tx(max_wait=timedelta(seconds=wait_seconds_of(self._live))) as live_tx:
            repository = ArchiveRepository(live_tx)
            live_now = await repository.totals(ids)
            if live_now != archived:
                raise ArchiveMismatch("sessions changed while being archived; run the command again")
            await repository.delete_batch(ids)
            await AuditRepository(live_tx).record(
                actor=actor,
                action="ARCHIVE",
                entity="Session",
                entity_id=ids[0],
                after={
                    "sessionIds": ids,
                    "archive": str(self._archive_path),
                    "sessions": expected.sessions,
                    "feeCents": expected.fee_cents,
                    "paymentCents": expected.payment_cents,
                },
            )
        return len(ids)


class ArchiveReader:
    """The archive for reports: a second client, opened on the first request that asks for archived
    data (an engine start costs ~0.5 s) and only read through. No archive file: nothing archived."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client: Prisma | None = None
        self._lock = asyncio.Lock()

    async def client(self) -> Prisma | None:
        async with self._lock:
            if self._client is None and self._settings.archive_path.is_file():
                client = create_archive_client(self._settings)
                await client.connect()
                self._client = client
            return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.disconnect()
            self._client = None
