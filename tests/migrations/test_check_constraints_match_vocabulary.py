"""The migrations' CHECK constraints list exactly the vocabulary's enum values (garage/vocabulary.py),
column by column: the SQL repeats the words the API validates with, and this keeps the two equal.
Reads the CHECK clauses of a freshly migrated database from sqlite_master."""

from __future__ import annotations

import re
import sqlite3
from enum import Enum
from pathlib import Path

import pytest

from garage.vocabulary import (
    EventType, PaymentMethod, PaymentStatus, PermitStatus, Role, SessionStatus, SpotStatus, SpotType, TicketStatus,
    ValidatorKind, VehicleType, WebhookDeliveryStatus,
)
from tests.database import apply_migrations

VOCABULARY: dict[tuple[str, str], type[Enum]] = {
    ("Spot", "type"): SpotType,
    ("Spot", "status"): SpotStatus,
    ("Vehicle", "type"): VehicleType,
    ("Session", "status"): SessionStatus,
    ("Session", "vehicleType"): VehicleType,
    ("Permit", "status"): PermitStatus,
    ("Validator", "kind"): ValidatorKind,
    ("Validation", "kind"): ValidatorKind,
    ("Ticket", "status"): TicketStatus,
    ("Payment", "method"): PaymentMethod,
    ("Payment", "status"): PaymentStatus,
    ("ApiKey", "role"): Role,
    ("Event", "type"): EventType,
    ("WebhookDelivery", "status"): WebhookDeliveryStatus,
}

# `"column" IN ('A', 'B', ...)` inside a CHECK: the only form the migrations use for a closed set.
IN_LIST = re.compile(r"""CHECK\s*\(\s*"(?P<column>\w+)"\s+IN\s*\((?P<values>[^)]*)\)\s*\)""", re.IGNORECASE)
QUOTED = re.compile(r"'((?:[^']|'')*)'")


def enum_checks(database: Path) -> dict[tuple[str, str], list[str]]:
    """(table, column) -> the values its CHECK ... IN (...) allows, in the order written."""
    connection = sqlite3.connect(database)
    try:
        tables = connection.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND sql IS NOT NULL").fetchall()
    finally:
        connection.close()
    checks: dict[tuple[str, str], list[str]] = {}
    for table, sql in tables:
        for match in IN_LIST.finditer(sql):
            key = (table, match["column"])
            assert key not in checks, f"two IN-list CHECKs on {key}"
            checks[key] = [value.replace("''", "'") for value in QUOTED.findall(match["values"])]
    return checks


@pytest.fixture(scope="module")
def checks(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], list[str]]:
    database = tmp_path_factory.mktemp("vocabulary") / "migrated.db"
    apply_migrations(database)
    return enum_checks(database)


def test_every_closed_set_in_the_schema_is_in_the_vocabulary(checks: dict[tuple[str, str], list[str]]) -> None:
    assert set(checks) == set(VOCABULARY)


@pytest.mark.parametrize("column", sorted(VOCABULARY), ids=lambda key: ".".join(key))
def test_check_lists_exactly_the_vocabulary_values(checks: dict[tuple[str, str], list[str]], column: tuple[str, str]) -> None:
    assert sorted(checks[column]) == sorted(member.value for member in VOCABULARY[column])


def test_the_parser_reads_a_check_it_must_compare(tmp_path: Path) -> None:
    """The comparison above is only as good as the parser: a drifted CHECK must show up in it."""
    database = tmp_path / "drifted.db"
    connection = sqlite3.connect(database)
    connection.execute("""CREATE TABLE "Spot" ("type" TEXT NOT NULL, CONSTRAINT "Spot_type_check" CHECK ("type" IN ('EV', 'BUS')))""")
    connection.close()
    assert enum_checks(database) == {("Spot", "type"): ["EV", "BUS"]}
