"""Rolling back with down.sql (docs/migrations.md, "Rolling back") and `prisma migrate reset`."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.migrations.conftest import (
    MIGRATIONS, REPO, copy_db, migration_names, output, prisma, schema_objects,
)


@pytest.mark.parametrize("name", migration_names())
def test_every_migration_has_a_current_down_sql(name: str, tmp_path: Path) -> None:
    """down.sql is there and is what tools/migration-down-sql.sh (prisma migrate diff) makes today."""
    down = MIGRATIONS / name / "down.sql"
    assert down.is_file(), f"{down} missing: run tools/migration-down-sql.sh prisma/migrations/{name}"
    regenerated = tmp_path / "down.sql"
    subprocess.run([str(REPO / "tools" / "migration-down-sql.sh"), str(MIGRATIONS / name), str(regenerated)],
                   check=True, capture_output=True, timeout=120)
    assert down.read_text() == regenerated.read_text()


def test_down_sql_round_trip_with_the_documented_procedure(deployed_db: Path, tmp_path: Path) -> None:
    """deploy -> down.sql (prisma db execute) -> migrate resolve --rolled-back -> deploy: the schema
    ends as it started, and Prisma's history records the rollback."""
    db = copy_db(deployed_db, tmp_path / "roundtrip.db")
    before = schema_objects(db)
    last = migration_names()[-1]
    previous = migration_names()[:-1]

    result = prisma("db", "execute", "--file", str(MIGRATIONS / last / "down.sql"), db=db)
    assert result.returncode == 0, output(result)
    after_down = schema_objects(db)
    if not previous:  # the first migration: back to an empty database (Prisma's own table stays)
        assert set(after_down) == {"table:_prisma_migrations"}
    assert set(after_down) != set(before)

    # Until it is resolved, deploy refuses to go on (the migration is "failed", P3009).
    blocked = prisma("migrate", "deploy", db=db)
    assert blocked.returncode != 0 and "P3009" in output(blocked), output(blocked)

    resolved = prisma("migrate", "resolve", "--rolled-back", last, db=db)
    assert resolved.returncode == 0, output(resolved)
    assert f"Migration {last} marked as rolled back." in resolved.stdout

    again = prisma("migrate", "deploy", db=db)
    assert again.returncode == 0, output(again)
    assert last in again.stdout
    assert schema_objects(db) == before

    status = prisma("migrate", "status", db=db)
    assert status.returncode == 0 and "Database schema is up to date!" in status.stdout, output(status)
    con = sqlite3.connect(db)
    try:
        rows = con.execute(
            "SELECT finished_at IS NOT NULL, rolled_back_at IS NOT NULL FROM _prisma_migrations "
            "WHERE migration_name = ? ORDER BY started_at", (last,)).fetchall()
    finally:
        con.close()
    assert rows == [(0, 1), (1, 0)]  # the rolled-back attempt, then the re-applied one


def test_reset_drops_everything_reapplies_and_seeds(deployed_db: Path, tmp_path: Path) -> None:
    """`prisma migrate reset --force`: data gone, schema re-created, then the seed command runs
    and can write while the CLI still holds its connection (no SQLITE_BUSY)."""
    db = copy_db(deployed_db, tmp_path / "reset.db")
    con = sqlite3.connect(db)
    con.execute("INSERT INTO Garage (id, name, address, capacity, updatedAt) VALUES ('old', 'n', 'a', 5, 0)")
    con.execute("CREATE TABLE stray (x)")  # not Prisma's: reset must drop it too
    con.commit()
    con.close()
    before = schema_objects(deployed_db)
    probe = tmp_path / "seed_probe.py"
    probe.write_text(
        "import os, sqlite3\n"
        "path = os.environ['DATABASE_URL'].removeprefix('file:')\n"
        "con = sqlite3.connect(path, timeout=0.5)\n"  # fail fast if the file is locked
        "con.execute(\"INSERT INTO Garage (id, name, address, capacity, updatedAt) VALUES ('seeded', 'n', 'a', 5, 0)\")\n"
        "con.commit()\n"
        "print('seed probe wrote a row')\n"
    )
    result = prisma("migrate", "reset", "--force", "--skip-generate", db=db,
                    env={"GARAGE_SEED_COMMAND": f"{sys.executable} {probe}"})
    assert result.returncode == 0, output(result)
    assert "Database reset successful" in result.stdout
    assert "seed probe wrote a row" in result.stdout
    assert schema_objects(db) == before
    con = sqlite3.connect(db)
    try:
        assert con.execute("SELECT id FROM Garage").fetchall() == [("seeded",)]
    finally:
        con.close()
