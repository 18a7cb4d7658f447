"""A real, migrated, temporary SQLite database for tests below the HTTP layer."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from garage.config.development_secrets import copy_development_secrets

REPO = Path(__file__).resolve().parents[1]
MIGRATIONS = REPO / "prisma" / "migrations"


def copy_database(source: Path, target: Path) -> Path:
    """A consistent copy of a (possibly open, WAL) SQLite file through SQLite's online backup;
    a copy of the .db file alone can miss what is still in its -wal file."""
    for stale in (target, Path(f"{target}-wal"), Path(f"{target}-shm")):
        stale.unlink(missing_ok=True)
    src, dst = sqlite3.connect(f"file:{source}?mode=ro", uri=True), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    copy_development_secrets(source, target)
    return target


def apply_migrations(database: Path) -> None:
    """Schema setup: the migration SQL files in order, with Prisma's bookkeeping rows so that
    readiness agrees (tests/migrations covers `prisma migrate deploy` itself)."""
    connection = sqlite3.connect(database)
    try:
        connection.execute(
            'CREATE TABLE IF NOT EXISTS "_prisma_migrations" ("id" TEXT PRIMARY KEY NOT NULL, "checksum" TEXT NOT NULL, '
            '"finished_at" DATETIME, "migration_name" TEXT NOT NULL, "logs" TEXT, "rolled_back_at" DATETIME, '
            '"started_at" DATETIME NOT NULL DEFAULT current_timestamp, "applied_steps_count" INTEGER UNSIGNED NOT NULL DEFAULT 0)'
        )
        for directory in sorted(p for p in MIGRATIONS.iterdir() if (p / "migration.sql").is_file()):
            connection.executescript((directory / "migration.sql").read_text())
            connection.execute(
                "INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, applied_steps_count) "
                "VALUES (?, '', current_timestamp, ?, 1)",
                (directory.name, directory.name),
            )
        connection.commit()
    finally:
        connection.close()
