"""`garage archive`: the archive database is created and kept up to date with the same migrations
as the live one (`prisma migrate deploy`), then completed sessions move into it batch by batch
(services/archive.py says why each batch is safe to interrupt)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from datetime import UTC, date, datetime, time

from garage.config import Settings
from garage.config.settings import REPO_ROOT
from garage.errors import OperationalFailure
from garage.repositories.unit_of_work import connected
from garage.services.archive import ArchivalService, connected_archive

PRISMA_FRONT_DOOR = REPO_ROOT / "tools" / "prisma"


class ArchiveSetupFailed(OperationalFailure):
    """The archive database could not be created or migrated; nothing was archived."""


def parse_before(value: str) -> datetime:
    """A date (midnight UTC) or an ISO 8601 time with an offset."""
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise ValueError(f"{value!r} is neither a date (2026-01-31) nor a time with an offset") from error
    if moment.tzinfo is None:
        raise ValueError("give the time with an offset, e.g. 2026-01-31T00:00:00Z")
    return moment


def migrate_archive(settings: Settings) -> None:
    """Creates the archive file (0600) or brings its schema up to the live one's migrations."""
    path = settings.archive_path
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    result = subprocess.run(
        [str(PRISMA_FRONT_DOOR), "migrate", "deploy"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "DATABASE_URL": f"file:{path}"},
        stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        raise ArchiveSetupFailed(
            f"prisma migrate deploy on the archive {path} failed: {result.stderr or result.stdout}"
        )
    path.chmod(0o600)


async def archive_before(
    settings: Settings,
    before: datetime,
    batch_size: int,
    actor: str,
    on_start: Callable[[int], None],
    on_batch: Callable[[int], None],
) -> int:
    """Moves every completed session that ended before `before`; returns how many moved."""
    async with connected(settings) as live, connected_archive(settings) as archive:
        service = ArchivalService(live, archive, settings.archive_path)
        on_start(await service.pending(before))
        moved = 0
        while batch := await service.archive_batch(before, batch_size, actor):
            moved += batch
            on_batch(batch)
        return moved
