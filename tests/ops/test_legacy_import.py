"""`garage import-memory-store`, run as a real process on a migrated temporary database; what it
wrote is read back through the generated client."""

from __future__ import annotations

import copy
import hashlib
import io
import json
import re
import tracemalloc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from prisma import Prisma

from garage.config import load_settings
from garage.db import create_prisma
from garage.security.crypto import FieldCipher
from garage.services.legacy_import import ImportRefused, read_snapshot
from garage.services.spot_numbers import spot_sort_key
from tests.database import REPO, apply_migrations
from tests.ops.serving import garage

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
         "startTime": "2024-03-01T08:00:00Z", "endTime": "2024-03-01T10:00:00+01:00", "feeCents": 101},
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
        cipher = FieldCipher(load_settings(DATABASE_URL=f"file:{database}", GARAGE_ENV="test").encryption_keys)
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
        assert {row.entity for row in imports} == {"Garage", "Spot", "Vehicle", "Session", "Ticket", "Payment"}
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


# Strict types: values as the JSON text types them, nothing coerced (issue 10, finding 9).
def int_start_time(snapshot: dict[str, Any]) -> None:
    snapshot["sessions"][1]["startTime"] = 1709280000  # an epoch number, not an ISO 8601 string


def float_end_time(snapshot: dict[str, Any]) -> None:
    snapshot["sessions"][0]["endTime"] = 1709283600.5


def time_without_offset(snapshot: dict[str, Any]) -> None:
    snapshot["sessions"][0]["endTime"] = "2024-03-01T10:00:00"


def capacity_as_string(snapshot: dict[str, Any]) -> None:
    snapshot["garages"][0]["capacity"] = "10"


def level_as_float(snapshot: dict[str, Any]) -> None:
    snapshot["spots"][0]["level"] = 0.0


def integers_as_booleans(snapshot: dict[str, Any]) -> None:
    snapshot["spots"][1]["level"] = True
    snapshot["sessions"][0]["feeCents"] = False


def amount_as_string(snapshot: dict[str, Any]) -> None:
    snapshot["payments"][0]["amount"] = "12.35"


def fee_differs_from_amount(snapshot: dict[str, Any]) -> None:
    snapshot["sessions"][0]["feeCents"] = 120  # the payment's 1.005 is 101 cents


def refund_time_on_completed_payment(snapshot: dict[str, Any]) -> None:
    snapshot["payments"][0]["refundedAt"] = "2024-03-02T09:00:00Z"


def voided_session(snapshot: dict[str, Any]) -> None:
    """Voids came with API-operations.md: the in-memory store had none to export."""
    snapshot["sessions"][1]["status"] = "VOIDED"


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (broken_reference, ["spot s-2: garageId 'g-404' names no garage in the snapshot",
                            "session x-1: vehicleId 'v-404' names no vehicle in the snapshot"]),
        (duplicate_plate, ["vehicle v-1: duplicate: plate 'AB12CD' (normalised) is also vehicle 'v-2'",
                           "vehicle v-2: duplicate: plate 'AB12CD' (normalised) is also vehicle 'v-1'"]),
        (payment_without_session, ["payment p-2: sessionId 'x-404' names no session in the snapshot"]),
        (unknown_type, ["vehicle v-1: type: Input should be", "'BUS'", "spot s-3: type: Input should be", "'HELIPAD'"]),
        (int_start_time, ["session x-2: startTime: must be an ISO 8601 date-time string with an offset, not a number (got 1709280000)"]),
        (float_end_time, ["session x-1: endTime: must be an ISO 8601 date-time string with an offset, not a number (got 1709283600.5)"]),
        (time_without_offset, ["session x-1: endTime: must have an offset (Z or +01:00)"]),
        (capacity_as_string, ["garage g-1: capacity: Input should be a valid integer (got '10')"]),
        (level_as_float, ["spot s-1: level: Input should be a valid integer (got 0.0)"]),
        (integers_as_booleans, ["spot s-2: level: Input should be a valid integer (got True)",
                                "session x-1: feeCents: Input should be a valid integer (got False)"]),
        (amount_as_string, ["payment p-1: amount: must be a JSON number, not a string (got '12.35')"]),
        (fee_differs_from_amount, ["session x-1: feeCents 120 differs from its payment 'p-1': amount 1.005 is 101 cents"]),
        (refund_time_on_completed_payment, ["payment p-1: a COMPLETED payment has no refundedAt"]),
        (voided_session, ["session x-2: status: VOIDED did not exist in the in-memory store (got 'VOIDED')"]),
    ],
    ids=["broken reference", "duplicate plate after normalising", "payment without a session", "unknown type",
         "int startTime", "float endTime", "time without offset", "capacity as a string", "level as a float",
         "integers as booleans", "amount as a string", "fee differs from amount", "refundedAt on a COMPLETED payment",
         "a voided session"],
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


def refunded(snapshot: dict[str, Any]) -> dict[str, Any]:
    """SNAPSHOT with three more COMPLETED sessions paid by REFUNDED payments: one without any
    refund time, one with updatedAt, one with refundedAt."""
    snapshot = copy.deepcopy(snapshot)
    for n, extra in ((3, {}), (4, {"updatedAt": "2024-03-05T12:00:00Z"}), (5, {"refundedAt": "2024-03-06T12:00:00+02:00"})):
        snapshot["sessions"].append({"id": f"x-{n}", "garageId": "g-1", "spotId": "s-1", "vehicleId": "v-1", "status": "COMPLETED",
                                     "startTime": f"2024-03-0{n}T08:00:00Z", "endTime": f"2024-03-0{n}T09:00:00Z", "feeCents": 300})
        snapshot["payments"].append({"id": f"p-{n}", "sessionId": f"x-{n}", "amount": 3, "method": "CASH", "status": "REFUNDED", **extra})
    return snapshot


async def test_a_refunded_payment_gets_its_refund_time(tmp_path: Path, database: Path) -> None:
    snapshot = write_snapshot(tmp_path, refunded(SNAPSHOT))

    result = garage("import-memory-store", str(snapshot), database=database)

    assert result.returncode == 0, result.stderr
    async with connected(database) as db:
        payments = {p.id: p for p in await db.payment.find_many()}
    assert payments["p-1"].status == "COMPLETED" and payments["p-1"].refundedAt is None
    refund_times = {pid: payments[pid].refundedAt for pid in ("p-3", "p-4", "p-5")}
    assert refund_times == {
        "p-3": payments["p-3"].createdAt,  # neither given: its creation time (the session's end)
        "p-4": datetime(2024, 3, 5, 12, tzinfo=timezone.utc),  # its updatedAt, as a refund through the API sets
        "p-5": datetime(2024, 3, 6, 10, tzinfo=timezone.utc),  # its own
    }
    assert payments["p-3"].createdAt == datetime(2024, 3, 3, 9, tzinfo=timezone.utc)
    assert all(payments[pid].amountCents == 300 for pid in refund_times)
    # the refund times are part of the content a second run compares: still all skipped
    again = garage("import-memory-store", str(snapshot), database=database)
    assert again.returncode == 0, again.stderr
    assert re.search(r"payments\s+imported\s+0\s+skipped \(already there\)\s+4\b", again.stdout), again.stdout


class GeneratedSnapshot:
    """A snapshot served piecewise by read(): SNAPSHOT with `padding` bytes of whitespace between
    its sections, produced as it is read (never present whole in this process either)."""

    def __init__(self, padding: int) -> None:
        sections = [f"{json.dumps(name)}: {json.dumps(records)}".encode() for name, records in SNAPSHOT.items()]
        self._parts: list[bytes | int] = [b"{"]
        for index, section in enumerate(sections):
            self._parts += [b",\n" if index else b"", padding // len(sections), section]
        self._parts.append(b"}")
        self._sha256 = hashlib.sha256()
        self.largest_read = 0

    def read(self, size: int = -1) -> bytes:
        wanted = size if size >= 0 else sum(part if isinstance(part, int) else len(part) for part in self._parts)
        out = bytearray()
        while self._parts and len(out) < wanted:
            part = self._parts[0]
            if isinstance(part, int):
                take = min(part, wanted - len(out))
                out += b" " * take
                self._parts[0] = part - take
            else:
                take = min(len(part), wanted - len(out))
                out += part[:take]
                self._parts[0] = part[take:]
            if not self._parts[0]:
                self._parts.pop(0)
        self._sha256.update(out)
        self.largest_read = max(self.largest_read, len(out))
        return bytes(out)

    def sha256(self) -> str:
        return self._sha256.hexdigest()


def test_the_snapshot_is_streamed_not_read_whole() -> None:
    padding = 96 * 1024 * 1024
    source = GeneratedSnapshot(padding)

    tracemalloc.start()
    try:
        snapshot, digest, problems = read_snapshot(source)  # type: ignore[arg-type]  # a stream: read() is all it needs
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert problems == []
    assert set(snapshot.sessions) == {"x-1", "x-2"} and set(snapshot.payments) == {"p-1"}
    assert digest == source.sha256()  # hashed on the way, the padding included
    # read in small pieces, and never anywhere near the file's size in memory at once
    assert source.largest_read <= 1024 * 1024, source.largest_read
    assert peak < padding // 8, f"peak {peak} bytes traced while reading a {padding}-byte snapshot"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b'{"garages": []} trailing', "not valid JSON (UTF-8)"),
        (json.dumps(SNAPSHOT).encode("utf-16"), "not valid JSON (UTF-8)"),
        (b'{"garages": [{"id": NaN}]}', "not valid JSON (UTF-8)"),
        (b'[]', "snapshot -: must be a JSON object of record lists"),
        (json.dumps(SNAPSHOT)[:-1].encode() + b', "garages": []}', "snapshot -: section 'garages' appears twice"),
        (b'{"garages": [], "spots": {}, "vehicles": [], "sessions": [], "payments": [], "rates": []}',
         "snapshot -: section 'spots' must be a list of records"),
    ],
    ids=["trailing garbage", "UTF-16", "NaN", "not an object", "section twice", "section not a list"],
)
def test_an_unreadable_snapshot_is_refused(text: bytes, expected: str) -> None:
    with pytest.raises(ImportRefused) as refused:
        read_snapshot(io.BytesIO(text))
    assert any(expected in str(problem) for problem in refused.value.problems), refused.value.problems
