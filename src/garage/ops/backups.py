"""Snapshot backups: a consistent copy of the live database, verified before it is listed."""

from __future__ import annotations

import os
import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from prisma import Prisma

from garage.errors import GarageError
from garage.repositories.backups import BackupRepository

NAME = re.compile(r"^garage-(\d{8}T\d{6}\d{3}Z)\.db$")


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
    """Backups live as `garage-<UTC timestamp>.db` files in one folder (mode 0600, folder 0700)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def create(self, db: Prisma) -> Backup:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        now = datetime.now(timezone.utc)
        name = f"garage-{now.strftime('%Y%m%dT%H%M%S')}{now.microsecond // 1000:03d}Z.db"
        target = self.directory / name
        partial = target.with_suffix(".partial")
        await BackupRepository(db).vacuum_into(partial)
        problem = integrity_problem(partial)
        if problem is not None:
            partial.unlink(missing_ok=True)
            raise BackupFailed(f"The backup copy failed its integrity check: {problem}")
        os.chmod(partial, 0o600)
        partial.rename(target)  # only verified copies carry the .db name
        return self._describe(target)

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
            tzinfo=timezone.utc, microsecond=int(match.group(1)[-4:-1]) * 1000
        )
        return Backup(name=path.name, path=path, size_bytes=path.stat().st_size, created_at=stamp)


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
