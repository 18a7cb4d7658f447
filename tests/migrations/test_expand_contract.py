"""The zero-downtime worked example (docs/migrations.md, "Zero-downtime", files in
docs/examples/expand-contract/): after the EXPAND migration, old code (the Prisma client generated
from today's schema.prisma, through our engine, and raw SQL of the old shape) keeps working; the
CONTRACT migration keeps the hand-written constraints and matches its schema."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.migrations.conftest import MIGRATIONS, REPO, output, prisma

EXAMPLE = REPO / "docs" / "examples" / "expand-contract"
EXPAND = "20990101000000_spot_label_expand"
CONTRACT = "20990102000000_spot_label_contract"
NOW = "2026-01-01T10:00:00.000+00:00"
OLD_SPOT_INSERT = ('INSERT INTO "Spot" ("id", "garageId", "level", "number", "sortKey", "type", "updatedAt") '
                   "VALUES (?, ?, ?, ?, ?, 'STANDARD', ?)")


def add_example_migration(migrations: Path, step: str, name: str) -> None:
    (migrations / name).mkdir()
    shutil.copy(EXAMPLE / step / "migration.sql", migrations / name / "migration.sql")


def contract_schema(tmp_path: Path) -> Path:
    text = (REPO / "schema.prisma").read_text()
    marker = "  sortKey   String\n"
    assert marker in text
    schema = tmp_path / "schema.contract.prisma"
    schema.write_text(text.replace(marker, marker + "  label     String\n", 1))
    return schema


def generated_client_is_current() -> bool:
    try:
        import prisma
    except ImportError:
        return False
    generated = Path(prisma.__file__).parent / "schema.prisma"
    return generated.is_file() and generated.read_text().split() == (REPO / "schema.prisma").read_text().split()


async def test_expand_then_contract(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not generated_client_is_current():
        pytest.fail("the product client is not generated from the current schema.prisma: run `make generate`")
    migrations = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, migrations)
    add_example_migration(migrations, "1_expand", EXPAND)
    db = tmp_path / "garage.db"

    # A database at the old schema with data, then the expand migration, as in a real rollout.
    old_only = tmp_path / "old-migrations"
    shutil.copytree(MIGRATIONS, old_only)
    assert prisma("migrate", "deploy", db=db, migrations=old_only).returncode == 0
    con = sqlite3.connect(db, isolation_level=None)
    con.execute('INSERT INTO "Garage" ("id", "name", "address", "capacity", "updatedAt") VALUES (\'g1\', \'G\', \'A\', 50, ?)', (NOW,))
    con.execute(OLD_SPOT_INSERT, ("before", "g1", 2, "17", "0017", NOW))
    con.close()
    expand = prisma("migrate", "deploy", db=db, migrations=migrations)
    assert expand.returncode == 0 and EXPAND in expand.stdout, output(expand)

    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA foreign_keys = ON")
    assert con.execute("SELECT label FROM Spot WHERE id = 'before'").fetchone() == ("L2-17",)  # backfilled
    # Old code, raw SQL of the old shape: its INSERT names its own columns, its SELECT too.
    con.execute(OLD_SPOT_INSERT, ("old-raw", "g1", 1, "5", "0005", NOW))
    assert con.execute('SELECT "id", "level", "number", "type", "status" FROM "Spot" WHERE "id" = ?',
                       ("old-raw",)).fetchone() == ("old-raw", 1, "5", "STANDARD", "AVAILABLE")
    con.execute("UPDATE Spot SET status = 'RESERVED' WHERE id = 'old-raw'")
    # New code writes the label.
    con.execute('INSERT INTO "Spot" ("id", "garageId", "level", "number", "sortKey", "type", "updatedAt", "label") '
                "VALUES ('new', 'g1', 1, '6', '0006', 'EV', ?, 'L1-6')", (NOW,))
    con.close()

    # Old code, for real: the client generated from today's schema.prisma (no `label`), through our engine.
    from prisma import Prisma

    monkeypatch.setenv("PRISMA_QUERY_ENGINE_BINARY", str(REPO / "engine" / "bin" / "query-engine.js"))
    client = Prisma(datasource={"url": f"file:{db}"})
    await client.connect()
    try:
        spot = await client.spot.create(data={"garageId": "g1", "level": 3, "number": "9", "sortKey": "0009", "type": "LARGE"})
        found = await client.spot.find_many(where={"garageId": "g1"}, order={"sortKey": "asc"})
        assert {s.id for s in found} == {"before", "old-raw", "new", spot.id}
        updated = await client.spot.update(where={"id": spot.id}, data={"status": "MAINTENANCE"})
        assert updated is not None and updated.status == "MAINTENANCE"
        assert await client.spot.count(where={"status": "RESERVED"}) == 1
    finally:
        await client.disconnect()

    # CONTRACT (once no old code runs): label required; rows old code wrote meanwhile get theirs.
    add_example_migration(migrations, "2_contract", CONTRACT)
    contract = prisma("migrate", "deploy", db=db, migrations=migrations)
    assert contract.returncode == 0 and CONTRACT in contract.stdout, output(contract)
    con = sqlite3.connect(db, isolation_level=None)
    try:
        labels = dict(con.execute("SELECT id, label FROM Spot"))
        assert labels["old-raw"] == "L1-5" and labels["new"] == "L1-6" and labels[spot.id] == "L3-9"
        with pytest.raises(sqlite3.IntegrityError, match="NOT NULL constraint failed: Spot.label"):
            con.execute(OLD_SPOT_INSERT, ("too-late", "g1", 1, "7", "0007", NOW))  # why contract waits
        # The table rebuild kept the hand-written constraints (copied into the contract migration).
        with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed: Spot_level_check"):
            con.execute('INSERT INTO "Spot" ("id", "garageId", "level", "number", "sortKey", "type", "updatedAt", "label") '
                        "VALUES ('bad', 'g1', 999, '1', '1', 'EV', ?, 'x')", (NOW,))
        with pytest.raises(sqlite3.IntegrityError, match="UNIQUE constraint failed"):
            con.execute('INSERT INTO "Spot" ("id", "garageId", "level", "number", "sortKey", "type", "updatedAt", "label") '
                        "VALUES ('dup', 'g1', 2, '17', '0017', 'EV', ?, 'x')", (NOW,))
    finally:
        con.close()

    # The example's SQL is exactly what Prisma expects for the contracted schema.
    diff = prisma("migrate", "diff", "--from-migrations", str(migrations),
                  "--to-schema-datamodel", str(contract_schema(tmp_path)), "--exit-code")
    assert diff.returncode == 0 and "No difference detected" in diff.stdout, output(diff)
