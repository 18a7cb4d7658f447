"""Snapshot backups' copy (runtime/backups.py): SQLite's VACUUM INTO on a read-only connection of the
backup store's own, so neither the service's event loop nor the query engine waits for it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from garage.runtime.backups import BackupFailed, BackupStore
from tests.database import apply_migrations

pytestmark = pytest.mark.asyncio


async def test_a_backup_is_a_verified_private_copy_of_the_database(tmp_path: Path) -> None:
    database = tmp_path / "garage.db"
    apply_migrations(database)
    store = BackupStore(tmp_path / "backups", database=database)

    backup = await store.create()

    assert backup.path.parent == tmp_path / "backups" and backup.path.stat().st_mode & 0o777 == 0o600
    copy = sqlite3.connect(f"file:{backup.path}?mode=ro", uri=True)
    try:
        assert copy.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        tables = {row[0] for row in copy.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        copy.close()
    assert {"Garage", "Spot", "Vehicle", "Payment", "AuditLog", "_prisma_migrations"} <= tables
    assert [listed.name for listed in store.list()] == [backup.name]


async def test_a_store_opened_for_listing_takes_no_backup(tmp_path: Path) -> None:
    with pytest.raises(BackupFailed, match="listing only"):
        await BackupStore(tmp_path / "backups").create()
    assert not (tmp_path / "backups").exists()
