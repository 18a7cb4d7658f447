"""`prisma migrate deploy` on an empty file yields exactly the expected schema (read back from
sqlite_master and SQLite's PRAGMAs), Prisma sees no drift from the hand edits, and status says
up to date."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from tests.migrations.conftest import MIGRATIONS, REPO, migration_names, output, prisma

EXPECTED_TABLES = {
    "_prisma_migrations", "ApiKey", "AuditLog", "DeniedPlate", "Event", "Garage", "Payment", "Permit", "Rate",
    "Session", "Spot", "Ticket", "Validation", "Validator", "Vehicle", "Webhook", "WebhookCursor", "WebhookDelivery",
}

# name -> (table, unique, columns, partial WHERE clause or None)
EXPECTED_INDEXES: dict[str, tuple[str, bool, tuple[str, ...], str | None]] = {
    "ApiKey_prefix_key": ("ApiKey", True, ("prefix",), None),
    "AuditLog_actor_createdAt_idx": ("AuditLog", False, ("actor", "createdAt"), None),
    "AuditLog_createdAt_idx": ("AuditLog", False, ("createdAt",), None),
    "AuditLog_entity_entityId_createdAt_idx": ("AuditLog", False, ("entity", "entityId", "createdAt"), None),
    "Event_garageId_seq_idx": ("Event", False, ("garageId", "seq"), None),
    "Event_occurredAt_idx": ("Event", False, ("occurredAt",), None),
    "Garage_deletedAt_createdAt_idx": ("Garage", False, ("deletedAt", "createdAt"), None),
    "Permit_garageId_licensePlate_validFrom_idx": (
        "Permit", False, ("garageId", "licensePlate", "validFrom"), None),
    "Permit_garageId_validFrom_idx": ("Permit", False, ("garageId", "validFrom"), None),
    "Validation_sessionId_key": ("Validation", True, ("sessionId",), None),
    "Validation_validatorId_createdAt_idx": ("Validation", False, ("validatorId", "createdAt"), None),
    "Validator_garageId_createdAt_idx": ("Validator", False, ("garageId", "createdAt"), None),
    "Payment_createdAt_idx": ("Payment", False, ("createdAt",), None),
    "Payment_garageId_createdAt_idx": ("Payment", False, ("garageId", "createdAt"), None),
    "Payment_sessionId_key": ("Payment", True, ("sessionId",), None),
    "Session_garageId_endTime_idx": ("Session", False, ("garageId", "endTime"), None),
    "Session_garageId_startTime_idx": ("Session", False, ("garageId", "startTime"), None),
    "Session_licensePlate_startTime_idx": ("Session", False, ("licensePlate", "startTime"), None),
    "Session_spotId_status_idx": ("Session", False, ("spotId", "status"), None),
    "Session_status_startTime_idx": ("Session", False, ("status", "startTime"), None),
    "Session_status_endTime_idx": ("Session", False, ("status", "endTime"), None),
    "Session_startTime_id_idx": ("Session", False, ("startTime", "id"), None),
    "Session_vehicleId_startTime_idx": ("Session", False, ("vehicleId", "startTime"), None),
    "Session_spotId_active_key": ("Session", True, ("spotId",), "\"status\" = 'ACTIVE'"),
    "Session_vehicleId_active_key": ("Session", True, ("vehicleId",), "\"status\" = 'ACTIVE'"),
    "Spot_garageId_level_number_live_key": ("Spot", True, ("garageId", "level", "number"), '"deletedAt" IS NULL'),
    "Spot_garageId_level_sortKey_idx": ("Spot", False, ("garageId", "level", "sortKey"), None),
    "Spot_garageId_status_type_level_sortKey_idx": (
        "Spot", False, ("garageId", "status", "type", "level", "sortKey"), None),
    "Ticket_code_key": ("Ticket", True, ("code",), None),
    "Ticket_sessionId_key": ("Ticket", True, ("sessionId",), None),
    "Vehicle_deletedAt_createdAt_idx": ("Vehicle", False, ("deletedAt", "createdAt"), None),
    "Vehicle_licensePlate_idx": ("Vehicle", False, ("licensePlate",), None),
    "Vehicle_licensePlate_live_key": ("Vehicle", True, ("licensePlate",), '"deletedAt" IS NULL'),
    "Webhook_deletedAt_idx": ("Webhook", False, ("deletedAt",), None),
    "WebhookDelivery_status_nextAttemptAt_idx": ("WebhookDelivery", False, ("status", "nextAttemptAt"), None),
    "WebhookDelivery_webhookId_eventSeq_key": ("WebhookDelivery", True, ("webhookId", "eventSeq"), None),
}

EXPECTED_CHECKS = {
    "ApiKey": {"ApiKey_role_check", "ApiKey_validatorId_check"},
    "AuditLog": set(),
    "DeniedPlate": {"DeniedPlate_licensePlate_check"},
    "Event": {"Event_type_check", "Event_data_check"},
    "Garage": {"Garage_capacity_check", "Garage_currency_check"},
    "Payment": {"Payment_method_check", "Payment_status_check", "Payment_amountCents_check", "Payment_currency_check",
                "Payment_discountCents_check"},
    "Permit": {"Permit_status_check", "Permit_licensePlate_check", "Permit_window_check"},
    "Rate": {"Rate_hourlyRateCents_check", "Rate_incrementMinutes_check", "Rate_graceMinutes_check",
             "Rate_dailyMaxCents_check", "Rate_lostTicketFeeCents_check", "Rate_vehicleTypeRates_check",
             "Rate_flatRates_check"},
    "Session": {"Session_status_check", "Session_licensePlate_check", "Session_vehicleType_check",
                "Session_feeCents_check", "Session_endTime_check", "Session_completed_check", "Session_active_check",
                "Session_voided_check"},
    "Spot": {"Spot_type_check", "Spot_status_check", "Spot_level_check", "Spot_number_check"},
    "Ticket": {"Ticket_status_check", "Ticket_code_check"},
    "Validation": {"Validation_kind_check", "Validation_value_check"},
    "Validator": {"Validator_kind_check", "Validator_value_check"},
    "Vehicle": {"Vehicle_type_check", "Vehicle_licensePlate_check"},
    "Webhook": {"Webhook_types_check"},
    "WebhookCursor": {"WebhookCursor_id_check", "WebhookCursor_seq_check"},
    "WebhookDelivery": {"WebhookDelivery_status_check", "WebhookDelivery_attempts_check"},
}

# (table, column) -> (referenced table, on delete)
EXPECTED_FOREIGN_KEYS = {
    ("Spot", "garageId"): ("Garage", "RESTRICT"),
    ("Session", "garageId"): ("Garage", "RESTRICT"),
    ("Session", "spotId"): ("Spot", "RESTRICT"),
    ("Session", "vehicleId"): ("Vehicle", "RESTRICT"),
    ("Session", "permitId"): ("Permit", "RESTRICT"),
    ("Permit", "garageId"): ("Garage", "RESTRICT"),
    ("DeniedPlate", "garageId"): ("Garage", "RESTRICT"),
    ("Validator", "garageId"): ("Garage", "RESTRICT"),
    ("Validation", "sessionId"): ("Session", "CASCADE"),
    ("Validation", "validatorId"): ("Validator", "RESTRICT"),
    ("ApiKey", "validatorId"): ("Validator", "RESTRICT"),
    ("Ticket", "sessionId"): ("Session", "CASCADE"),
    ("Payment", "sessionId"): ("Session", "CASCADE"),
    ("Payment", "garageId"): ("Garage", "RESTRICT"),
    ("Rate", "garageId"): ("Garage", "CASCADE"),
    ("WebhookDelivery", "webhookId"): ("Webhook", "RESTRICT"),
}


def read_schema(db: Path) -> tuple[set[str], dict[str, tuple[str, bool, tuple[str, ...], str | None]],
                                   dict[str, set[str]], dict[tuple[str, str], tuple[str, str]]]:
    con = sqlite3.connect(db)
    try:
        tables = {n for (n,) in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")}
        indexes = {}
        for name, table, sql in con.execute(
                "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"):
            unique = bool(con.execute('SELECT "unique" FROM pragma_index_list(?) WHERE name = ?', (table, name)).fetchone()[0])
            columns = tuple(c for (c,) in con.execute("SELECT name FROM pragma_index_info(?) ORDER BY seqno", (name,)))
            where = re.search(r"\bWHERE\s+(.*?);?\s*$", sql, re.S)
            indexes[name] = (table, unique, columns, where.group(1).strip() if where else None)
        checks = {
            name: set(re.findall(r'CONSTRAINT "(\w+)" CHECK', sql))
            for name, sql in con.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'")
            if name in EXPECTED_CHECKS
        }
        foreign_keys = {}
        for table in tables:
            for row in con.execute("SELECT * FROM pragma_foreign_key_list(?)", (table,)):
                # id, seq, table, from, to, on_update, on_delete, match
                foreign_keys[(table, row[3])] = (row[2], row[6])
        return tables, indexes, checks, foreign_keys
    finally:
        con.close()


def test_deploy_on_an_empty_file_creates_exactly_the_expected_schema(deployed_db: Path) -> None:
    tables, indexes, checks, foreign_keys = read_schema(deployed_db)
    assert tables == EXPECTED_TABLES
    assert indexes == EXPECTED_INDEXES
    assert checks == EXPECTED_CHECKS
    assert foreign_keys == EXPECTED_FOREIGN_KEYS


def test_every_migration_is_recorded_as_applied(deployed_db: Path) -> None:
    con = sqlite3.connect(deployed_db)
    try:
        rows = con.execute(
            "SELECT migration_name, finished_at IS NOT NULL, rolled_back_at IS NULL, applied_steps_count "
            "FROM _prisma_migrations ORDER BY started_at").fetchall()
    finally:
        con.close()
    assert rows == [(name, 1, 1, 1) for name in migration_names()]


def test_the_migration_connection_leaves_the_file_in_wal_mode(deployed_db: Path) -> None:
    con = sqlite3.connect(deployed_db)
    try:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        con.close()


def test_status_says_up_to_date(deployed_db: Path) -> None:
    result = prisma("migrate", "status", db=deployed_db)
    assert result.returncode == 0, output(result)
    assert "Database schema is up to date!" in result.stdout


def test_prisma_sees_no_difference_between_migrations_and_schema() -> None:
    """The hand-written CHECKs and partial indexes are invisible to Prisma's differ: the
    migrations (replayed on a shadow database) and schema.prisma agree."""
    result = prisma("migrate", "diff", "--from-migrations", str(MIGRATIONS),
                    "--to-schema-datamodel", str(REPO / "schema.prisma"), "--exit-code")
    assert result.returncode == 0, output(result)  # 2 would mean "not empty"
    assert "No difference detected" in result.stdout


def test_migrate_dev_finds_no_drift_and_nothing_to_create(fresh_copy: Path) -> None:
    result = prisma("migrate", "dev", "--skip-generate", "--skip-seed", db=fresh_copy)
    assert result.returncode == 0, output(result)
    assert "Already in sync, no schema change or pending migration was found." in result.stdout
    assert "Drift detected" not in output(result)
    assert migration_names() == sorted(p.name for p in MIGRATIONS.iterdir() if p.is_dir())


def test_the_initial_migration_documents_its_hand_edits() -> None:
    first = (MIGRATIONS / migration_names()[0] / "migration.sql").read_text()
    header, body = first.split("-- CreateTable", 1)
    assert "edited by hand" in header
    assert "CHECK" in header and "Partial unique indexes" in header
    # one marker per table (of this migration) with CHECKs, one before the partial indexes
    created_here = [t for t, c in EXPECTED_CHECKS.items() if c and f'CREATE TABLE "{t}"' in body]
    assert body.count("-- hand:") == len(created_here) + 1
