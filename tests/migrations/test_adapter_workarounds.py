"""Each workaround of tools/prisma6/sqlite-migrate-adapter.ts (and of the front door) closes a gap
that is real: every test runs the real command once with the workaround switched off
(GARAGE_MIGRATE_ADAPTER_DISABLE=<name>) and shows the gap, and once with it, and shows the fix."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.migrations.conftest import FRONT_DOOR, MIGRATIONS, REPO, migration_names, output, prisma


def disabled(name: str) -> dict[str, str]:
    return {"GARAGE_MIGRATE_ADAPTER_DISABLE": name}


def changed_schema(tmp_path: Path) -> Path:
    """schema.prisma plus one nullable column: a schema change for `migrate dev` to turn into a migration."""
    schema = tmp_path / "schema.prisma"
    text = (REPO / "schema.prisma").read_text()
    marker = re.search(r"^  lastUsedAt +DateTime\?\n", text, re.M)
    assert marker is not None
    schema.write_text(text[: marker.end()] + "  note String?\n" + text[marker.end() :])
    return schema


def test_status_on_an_empty_database(tmp_path: Path) -> None:
    """Gap 1, missingMigrationsTableIsEmptyHistory: the wasm engine reads _prisma_migrations
    before it exists and fails; with the workaround, status lists the pending migrations."""
    without = prisma("migrate", "status", db=tmp_path / "a.db", env=disabled("missingMigrationsTableIsEmptyHistory"))
    assert without.returncode != 0
    assert "no such table: _prisma_migrations" in output(without)

    with_fix = prisma("migrate", "status", db=tmp_path / "b.db")
    assert "no such table" not in output(with_fix)
    assert "have not yet been applied" in with_fix.stdout, output(with_fix)
    assert all(name in with_fix.stdout for name in migration_names())
    assert with_fix.returncode == 1  # Prisma's exit code for "migrations pending"


def test_migrate_dev_sees_no_false_drift(fresh_copy: Path) -> None:
    """Gap 2, multiStatementScriptsRunWhole: the shadow database got only the first statement of
    each migration, so `migrate dev` reported drift and wanted to reset the database, or (once a
    later migration uses a table the first one's other statements created) P3006."""
    without = prisma("migrate", "dev", "--skip-generate", "--skip-seed", db=fresh_copy,
                     env=disabled("multiStatementScriptsRunWhole"))
    assert without.returncode != 0
    drift = "Drift detected" in output(without) and "We need to reset" in output(without)
    shadow_failed = "P3006" in output(without) and "failed to apply cleanly to the shadow database" in output(without)
    assert drift or shadow_failed, output(without)

    with_fix = prisma("migrate", "dev", "--skip-generate", "--skip-seed", db=fresh_copy)
    assert with_fix.returncode == 0, output(with_fix)
    assert "Already in sync" in with_fix.stdout


def test_db_execute_runs_every_statement_of_a_script(fresh_copy: Path, tmp_path: Path) -> None:
    """Gap 2 for `prisma db execute --file` (how down.sql is applied): only the first statement ran."""
    script = tmp_path / "two.sql"
    script.write_text(
        "INSERT INTO Garage (id, name, address, capacity, updatedAt) VALUES ('one', 'n', 'a', 5, 0);\n"
        "-- a comment; with a semicolon\n"
        "INSERT INTO Garage (id, name, address, capacity, updatedAt) VALUES ('two', 'n;', 'a', 5, 0);\n"
    )

    def garages() -> list[str]:
        con = sqlite3.connect(fresh_copy)
        try:
            return [r[0] for r in con.execute("SELECT id FROM Garage ORDER BY id")]
        finally:
            con.close()

    assert prisma("db", "execute", "--file", str(script), db=fresh_copy,
                  env=disabled("multiStatementScriptsRunWhole")).returncode == 0
    assert garages() == ["one"]
    with sqlite3.connect(fresh_copy) as con:
        con.execute("DELETE FROM Garage")
    result = prisma("db", "execute", "--file", str(script), db=fresh_copy)
    assert result.returncode == 0, output(result)
    assert garages() == ["one", "two"]


def test_reset_without_dropping_fails(fresh_copy: Path) -> None:
    """Gap 3, resetDropsEverything: the wasm engine's reset only DELETEs rows, then re-applying
    the first migration fails (tests/migrations/test_rollback_and_reset.py shows the fix)."""
    without = prisma("migrate", "reset", "--force", "--skip-generate", "--skip-seed", db=fresh_copy,
                     env=disabled("resetDropsEverything"))
    assert without.returncode != 0
    assert "already exists" in output(without)


def test_reset_with_an_autoincrement_table_counts_sqlite_sequence_as_schema(fresh_copy: Path) -> None:
    """Gap 5, sqliteOwnTablesAreNotSchema: once a table uses AUTOINCREMENT (Event), SQLite keeps
    `sqlite_sequence`, which the wasm engine lists as a table of the schema: reset then refuses with
    P3005 (tests/migrations/test_rollback_and_reset.py shows the fix)."""
    without = prisma("migrate", "reset", "--force", "--skip-generate", "--skip-seed", db=fresh_copy,
                     env=disabled("sqliteOwnTablesAreNotSchema"))
    assert without.returncode != 0
    assert "P3005" in output(without)


def test_migrate_dev_exits_when_done(tmp_path: Path) -> None:
    """Gap 4, wasmEngineTimersDoNotHoldTheProcess: after creating and applying a migration the
    CLI printed success and then stayed alive ~60 s on a timer the wasm engine never clears.
    The run starts from an empty database: it also shows `migrate dev` applying the pending
    migrations there (gap 1) and the front door's second pass (shadowDatabaseLostAfterApply).
    The gap itself is not shown here: since the second migration it no longer reproduces under
    pytest (it does from a shell, docs/migrations.md gives the command), for a reason not found."""
    schema = changed_schema(tmp_path)
    fresh_migrations = tmp_path / "fresh-migrations"
    shutil.copytree(MIGRATIONS, fresh_migrations)
    started = time.monotonic()
    result = prisma("migrate", "dev", "--name", "add_note", "--skip-generate", "--skip-seed", "--schema", str(schema),
                    db=tmp_path / "fix.db", migrations=fresh_migrations)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, output(result)
    assert "The following migration(s) have been applied" in result.stdout
    assert "running migrate dev again" in result.stderr
    assert "The following migration(s) have been created and applied" in result.stdout
    assert "Your database is now in sync with your schema." in result.stdout
    assert elapsed < 30, f"took {elapsed:.1f} s"


def test_create_only_succeeds(tmp_path: Path, fresh_copy: Path, migrations_copy: Path) -> None:
    """Front door, create_only: `migrate dev --create-only` wrote the migration, then failed with
    "null pointer passed to rust" (the CLI stops the wasm engine twice) and exit code 1."""
    schema = changed_schema(tmp_path)
    raw = subprocess.run(
        ["node", str(REPO / "node_modules/prisma-6/build/index.js"), "migrate", "dev", "--create-only",
         "--name", "raw_probe", "--schema", str(schema), "--config", str(REPO / "prisma.config.ts")],
        cwd=REPO, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        env={**{k: v for k, v in os.environ.items() if not k.startswith(("PRISMA_", "GARAGE_"))},
             "DATABASE_URL": f"file:{fresh_copy}", "GARAGE_MIGRATIONS_DIR": str(migrations_copy),
             "PRISMA_CLIENT_ENGINE_TYPE": "client", "CHECKPOINT_DISABLE": "1"})
    assert raw.returncode == 1 and "null pointer passed to rust" in raw.stderr, output(raw)
    raw_created = [p for p in migrations_copy.iterdir() if p.name.endswith("_raw_probe")]
    assert len(raw_created) == 1
    shutil.rmtree(raw_created[0])  # written, not applied: out of the way

    result = prisma("migrate", "dev", "--create-only", "--name", "add_note", "--schema", str(schema),
                    db=fresh_copy, migrations=migrations_copy)
    assert result.returncode == 0, output(result)
    assert "null pointer" not in output(result)
    created = [p for p in migrations_copy.iterdir() if p.name.endswith("_add_note")]
    assert len(created) == 1
    assert 'ALTER TABLE "ApiKey" ADD COLUMN "note" TEXT;' in (created[0] / "migration.sql").read_text()
    con = sqlite3.connect(fresh_copy)
    try:  # written, not applied
        applied = [r[0] for r in con.execute("SELECT migration_name FROM _prisma_migrations")]
    finally:
        con.close()
    assert applied == migration_names()


def hold_write_lock(db: Path, seconds: float) -> threading.Thread:
    ready = threading.Event()

    def hold() -> None:
        con = sqlite3.connect(db, isolation_level=None)
        con.execute("BEGIN IMMEDIATE")
        con.execute("INSERT INTO AuditLog (id, actor, action, entity, entityId, updatedAt) "
                    "VALUES (hex(randomblob(8)), 'test', 'LOCK', 'x', 'x', 0)")
        ready.set()
        time.sleep(seconds)
        con.execute("COMMIT")
        con.close()

    thread = threading.Thread(target=hold)
    thread.start()
    ready.wait(10)
    return thread


def test_migration_connection_waits_for_a_busy_database(fresh_copy: Path, tmp_path: Path) -> None:
    """sqliteSettings: busy_timeout. A service holding the write lock made the CLI fail at once
    (SQLITE_BUSY, garbled by the engine as "unknown variant `SocketTimeout`"); with the timeout
    it waits for the lock."""
    script = tmp_path / "write.sql"
    script.write_text("INSERT INTO Garage (id, name, address, capacity, updatedAt) VALUES (hex(randomblob(8)), 'n', 'a', 5, 0);")
    holder = hold_write_lock(fresh_copy, 2.5)
    without = prisma("db", "execute", "--file", str(script), db=fresh_copy, env=disabled("sqliteSettings"))
    holder.join()
    assert without.returncode != 0, output(without)

    holder = hold_write_lock(fresh_copy, 2.5)
    with_fix = prisma("db", "execute", "--file", str(script), db=fresh_copy)
    holder.join()
    assert with_fix.returncode == 0, output(with_fix)
