"""Online backups of the live database through the engine's writer connection."""

from __future__ import annotations

from pathlib import Path

from prisma import Prisma


class BackupRepository:
    def __init__(self, db: Prisma) -> None:
        self._db = db

    async def vacuum_into(self, target: Path) -> None:
        """A consistent, compacted copy while the service keeps serving (SQLite's VACUUM INTO reads
        one snapshot; writers carry on in WAL mode)."""
        await self._db.execute_raw("VACUUM INTO ?", str(target))
