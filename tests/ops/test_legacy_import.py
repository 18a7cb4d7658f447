"""`garage import-memory-store`, run as a real process on a migrated temporary database; what it
wrote is read back through the generated client."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from prisma import Prisma

from garage.config import load_settings
from garage.db import create_prisma
from garage.security.crypto import FieldCipher
from garage.services.spot_numbers import spot_sort_key
from tests.database import REPO, apply_migrations
from tests.ops.test_cli import garage

MODELS = re.findall(r"^model (\w+) \{", (REPO / "schema.prisma").read_text(), re.MULTILINE)

SNAPSHOT: dict[str, list[dict[str, Any]]] = {
    "garages": [
        {"id": "g-1", "name": "Old Town", "address": "1 Market Sq", "timezone": "Europe/Berlin", "currency": "EUR",
         "capacity": 10, "createdAt": "2024-01-01T00:00:00Z"},
    ],
    "spots": [
        {"id": "s-1", "garageId": "g-1", "level": 0, "number": "1", "type": "STANDARD", "status": "AVAILABLE"},
        {"id": "s-2", "garageId": "g-1", "level": 0, "number": "2", "type": "STANDARD", "status": "AVAILABLE"},
        # stale flag in the legacy store: no ACTIVE session here, so it is stored AVAILABLE
        {"id": "s-3", "garageId": "g-1", "level": 1, "number": "10A", "type": "EV", "status": "OCCUPIED"},
    ],
    "vehicles": [
        {"id": "v-1", "licensePlate": "ab-12 cd", "type": "CAR", "ownerEmail": "ann@example.com"},
        {"id": "v-2", "licensePlate": " xy 99 ", "type": "EV"},
    ],
    "sessions": [
        {"id": "x-1", "garageId": "g-1", "spotId": "s-1", "vehicleId": "v-1", "status": "COMPLETED",
         "startTime": "2024-03-01T08:00:00Z", "endTime": "2024-03-01T10:00:00+01:00", "feeCents": 120},
        {"id": "x-2", "garageId": "g-1", "spotId": "s-2", "vehicleId": "v-2", "status": "ACTIVE",
         "startTime": "2024-03-02T08:00:00.123456Z", "ticketCode": "abcdefgh"},
    ],
    "payments": [
        {"id": "p-1", "sessionId": "x-1", "amount": 1.005, "method": "CARD", "reference": "txn-77"},
    ],
}


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "import.db"
    apply_migrations(path)
    return path


def write_snapshot(tmp_path: Path, snapshot: dict[str, Any]) -> Path:
    path = tmp_path / "snapshot.json"
    path.write_text(json.dumps(snapshot))
    return path


@asynccontextmanager
async def connected(database: Path) -> AsyncIterator[Prisma]:
    client = create_prisma(load_settings(DATABASE_URL=f"file:{database}", GARAGE_ENV="test"))
    await client.connect()
    try:
        yield client
    finally:
        await client.disconnect()


async def row_counts(database: Path) -> dict[str, int]:
    async with connected(database) as db:
        return {name: await getattr(db, name.lower()).count() for name in MODELS}


async def test_a_valid_snapshot_imports_with_legacy_ids(tmp_path: Path, database: Path) -> None:
    result = garage("import-memory-store", str(write_snapshot(tmp_path, SNAPSHOT)), database=database)

    assert result.returncode == 0, result.stderr
    assert re.search(r"sessions\s+imported\s+2\b", result.stdout), result.stdout
    assert re.search(r"tickets\s+imported\s+2\b", result.stdout), result.stdout
    async with connected(database) as db:
        spots = {spot.id: spot for spot in await db.spot.find_many()}
        assert {sid: spot.status for sid, spot in spots.items()} == {"s-1": "AVAILABLE", "s-2": "OCCUPIED", "s-3": "AVAILABLE"}
        assert spots["s-3"].sortKey == spot_sort_key("10A")
        vehicles = {v.id: v for v in await db.vehicle.find_many()}
        assert vehicles["v-1"].licensePlate == "AB12CD" and vehicles["v-2"].licensePlate == "XY99"
        stored_email = vehicles["v-1"].ownerEmail
        assert stored_email is not None and "@" not in stored_email
        cipher = FieldCipher(load_settings(GARAGE_ENV="test").encryption_keys)
        assert cipher.decrypt(stored_email, "Vehicle.ownerEmail") == "ann@example.com"

        payment = await db.payment.find_unique(where={"id": "p-1"})
        # 1.005 as written in the snapshot, half up: 101 cents (a binary float would give 100)
        assert payment is not None and payment.amountCents == 101 and payment.currency == "EUR"
        assert payment.garageId == "g-1" and payment.reference is not None and "txn" not in payment.reference
        completed = await db.parkingsession.find_unique(where={"id": "x-1"}, include={"ticket": True})
        assert completed is not None and completed.ticket is not None and completed.ticket.status == "PAID"
        assert completed.licensePlate == "AB12CD" and payment.createdAt == completed.endTime
        active = await db.parkingsession.find_unique(where={"id": "x-2"}, include={"ticket": True})
        assert active is not None and active.ticket is not None
        assert (active.ticket.code, active.ticket.status) == ("ABCDEFGH", "OPEN")
        assert active.startTime.microsecond == 123000
        assert await db.rate.count(where={"garageId": "g-1"}) == 1
        imports = await db.auditlog.find_many(where={"action": "IMPORT"})
        assert {row.entity for row in imports} == {"Garage", "Spot", "Vehicle", "ParkingSession", "Ticket", "Payment"}
        assert all(row.actor == "cli" and "example.com" not in (row.after or "") for row in imports)


async def test_a_second_run_changes_nothing(tmp_path: Path, database: Path) -> None:
    snapshot = write_snapshot(tmp_path, SNAPSHOT)
    assert garage("import-memory-store", str(snapshot), database=database).returncode == 0
    before = await row_counts(database)

    again = garage("import-memory-store", str(snapshot), database=database)

    assert again.returncode == 0, again.stderr
    assert re.search(r"vehicles\s+imported\s+0\s+skipped \(already there\)\s+2\b", again.stdout), again.stdout
    assert await row_counts(database) == before


async def test_a_changed_record_under_an_existing_id_is_refused(tmp_path: Path, database: Path) -> None:
    assert garage("import-memory-store", str(write_snapshot(tmp_path, SNAPSHOT)), database=database).returncode == 0
    before = await row_counts(database)
    changed = copy.deepcopy(SNAPSHOT)
    changed["vehicles"][1]["type"] = "VAN"

    result = garage("import-memory-store", str(write_snapshot(tmp_path, changed)), database=database)

    assert result.returncode == 1
    assert "vehicle v-2: exists in the database with other type" in result.stderr, result.stderr
    assert await row_counts(database) == before


async def test_dry_run_writes_nothing(tmp_path: Path, database: Path) -> None:
    before = await row_counts(database)
    result = garage("import-memory-store", "--dry-run", str(write_snapshot(tmp_path, SNAPSHOT)), database=database)
    assert result.returncode == 0, result.stderr
    assert re.search(r"spots\s+would import\s+3\b", result.stdout), result.stdout
    assert await row_counts(database) == before


def broken_reference(snapshot: dict[str, Any]) -> None:
    snapshot["spots"][1]["garageId"] = "g-404"
    snapshot["sessions"][0]["vehicleId"] = "v-404"


def duplicate_plate(snapshot: dict[str, Any]) -> None:
    snapshot["vehicles"][1]["licensePlate"] = "AB 12-cd"


def payment_without_session(snapshot: dict[str, Any]) -> None:
    snapshot["payments"].append({"id": "p-2", "sessionId": "x-404", "amount": 3.5, "method": "CASH"})


def unknown_type(snapshot: dict[str, Any]) -> None:
    snapshot["vehicles"][0]["type"] = "BUS"
    snapshot["spots"][2]["type"] = "HELIPAD"


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (broken_reference, ["spot s-2: garageId 'g-404' names no garage in the snapshot",
                            "session x-1: vehicleId 'v-404' names no vehicle in the snapshot"]),
        (duplicate_plate, ["vehicle v-1: duplicate: plate 'AB12CD' (normalised) is also vehicle 'v-2'",
                           "vehicle v-2: duplicate: plate 'AB12CD' (normalised) is also vehicle 'v-1'"]),
        (payment_without_session, ["payment p-2: sessionId 'x-404' names no session in the snapshot"]),
        (unknown_type, ["vehicle v-1: type: Input should be", "'BUS'", "spot s-3: type: Input should be", "'HELIPAD'"]),
    ],
    ids=["broken reference", "duplicate plate after normalising", "payment without a session", "unknown type"],
)
async def test_a_bad_snapshot_is_refused_with_every_offending_record(
    tmp_path: Path, database: Path, damage: Any, expected: list[str]
) -> None:
    before = await row_counts(database)
    snapshot = copy.deepcopy(SNAPSHOT)
    damage(snapshot)

    result = garage("import-memory-store", str(write_snapshot(tmp_path, snapshot)), database=database)

    assert result.returncode == 1, result.stdout
    assert "refused, nothing was written" in result.stderr
    for text in expected:
        assert text in result.stderr, result.stderr
    assert await row_counts(database) == before
