"""BackupRepository: VACUUM INTO through the engine."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from prisma import Prisma

from garage.repositories.backups import BackupRepository

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_vacuum_into_writes_a_consistent_copy(db: Prisma, tmp_path: Path) -> None:
    target = tmp_path / "copy.db"
    await BackupRepository(db).vacuum_into(target)
    copy = sqlite3.connect(f"file:{target}?mode=ro", uri=True)
    try:
        assert copy.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        tables = {row[0] for row in copy.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        copy.close()
    assert {"Garage", "Spot", "Vehicle", "Session", "Payment", "AuditLog"} <= tables
