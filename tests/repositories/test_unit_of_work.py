"""The Database services hold and its units of work (repositories/unit_of_work.py): a batch inside a
transaction writes its audit entries with it, all or nothing; `connected` opens a Database of its own."""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path

import pytest
from prisma import Prisma

from garage.config import load_settings
from garage.db import DEFAULT_WAIT_SECONDS
from garage.db.write_lock import write_lock_path
from garage.errors import DatabaseUnavailable, RecordMissing
from garage.repositories.rows import now_ms
from garage.repositories.unit_of_work import Database, UnitOfWork, connected
from garage.vocabulary import AuditAction, AuditEntity, EventType, SpotStatus
from tests.repositories.builders import make_garage, new_plate

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_a_batch_inside_a_transaction_commits_its_writes_and_their_audit_with_the_transaction(db: Prisma) -> None:
    database = Database(db)
    _, (spot, *_) = await make_garage(db, spots=1)
    plate = new_plate("U")

    async def park(unit: UnitOfWork) -> None:
        chosen = await unit.spots.get_live(spot.id)  # read under the write lock, then one batch
        assert chosen is not None
        async with unit.batched() as batch:
            batch.vehicles.queue_create(license_plate=plate, type="CAR", now=now_ms())
            batch.spots.queue_occupy(chosen, session_id="s1", now=now_ms())

    await database.transaction(park, actor="tester")

    vehicle = await database.vehicles.live_by_plate(plate)
    occupied = await database.spots.get_live(spot.id)
    assert vehicle is not None and occupied is not None and occupied.status == SpotStatus.OCCUPIED
    audit = await database.audit.list(entity="Spot", entity_id=spot.id, since=None, until=None, limit=5, cursor=None)
    (entry,) = [row for row in audit.items if row.action == "UPDATE"]
    assert entry.actor == "tester" and entry.after is not None
    assert json.loads(entry.after) == {"status": "OCCUPIED", "sessionId": "s1"}


async def test_a_failed_batch_inside_a_transaction_leaves_neither_writes_nor_audit(db: Prisma) -> None:
    database = Database(db)
    _, (spot, *_) = await make_garage(db, spots=1)
    plate = new_plate("F")

    async def park_twice(unit: UnitOfWork) -> None:
        chosen = await unit.spots.get_live(spot.id)
        assert chosen is not None
        async with unit.batched() as batch:
            batch.vehicles.queue_create(license_plate=plate, type="CAR", now=now_ms())
            batch.spots.queue_occupy(chosen, session_id="s1", now=now_ms())
            batch.spots.queue_occupy(chosen, session_id="s2", now=now_ms())  # no longer AVAILABLE: fails the batch

    with pytest.raises(RecordMissing):
        await database.transaction(park_twice, actor="tester")

    assert await database.vehicles.live_by_plate(plate) is None
    still = await database.spots.get_live(spot.id)
    assert still is not None and still.status == SpotStatus.AVAILABLE
    audit = await database.audit.list(entity="Spot", entity_id=spot.id, since=None, until=None, limit=5, cursor=None)
    assert [row.action for row in audit.items] == ["CREATE"]


async def test_connected_opens_a_database_of_its_own(db: Prisma, database_file: Path) -> None:
    settings = load_settings(DATABASE_URL=f"file:{database_file}")
    async with connected(settings) as database:
        assert database.wait_seconds == settings.db_wait_seconds
        applied = await database.migrations.applied_names()
    assert applied == await Database(db).migrations.applied_names() and applied


async def test_the_wait_limit_of_a_plain_client_is_the_default(db: Prisma) -> None:
    assert Database(Prisma()).wait_seconds == DEFAULT_WAIT_SECONDS


async def test_a_transaction_s_unit_leaves_its_audit_and_events_to_the_transaction(db: Prisma) -> None:
    """Only a batch's unit queues them as the batch's last writes; a transaction's unit has no
    batch, so they stay until the transaction writes them (Database.transaction)."""
    unit = UnitOfWork(db, actor="tester")
    unit.record(AuditAction.UPDATE, AuditEntity.GARAGE, "g1", after={"closed": True})
    unit.emit(EventType.SPOT_CHANGED, "g1", {"spot": {"id": "s1"}})
    unit.occupancy_changed("g1")
    unit._queue_audit()
    assert (len(unit.entries), len(unit.pending_events), list(unit.occupancy_changed_in)) == (1, 1, ["g1"])



async def test_a_write_waits_for_its_turn_in_the_write_queue_then_is_busy_or_served(
    db: Prisma, database_file: Path
) -> None:
    """Writers queue on `<db>.write.lock` before asking SQLite for its lock (garage/db/write_lock.py):
    held by another open file (as another process would hold it), a transaction and a batch wait for
    their turn and give up as a busy database (503) within the wait limit; released, they are served.
    A transaction's own batch is inside its turn and does not queue again."""
    garage, _ = await make_garage(db, spots=0)
    settings = load_settings(DATABASE_URL=f"file:{database_file}", GARAGE_DB_WAIT_SECONDS="1.5")

    def touch(unit: UnitOfWork, how: str) -> None:
        unit.record(AuditAction.UPDATE, AuditEntity.GARAGE, garage.id, after={"how": how})

    async def in_transaction(unit: UnitOfWork) -> None:
        touch(unit, "transaction")
        async with unit.batched() as batch:
            touch(batch, "transaction's batch")

    async with connected(settings) as database:
        fd = os.open(write_lock_path(database_file), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            started = time.monotonic()
            with pytest.raises(DatabaseUnavailable, match="busy"):
                await database.transaction(in_transaction, actor="queued")
            assert 0.5 < time.monotonic() - started < 1.5
            with pytest.raises(DatabaseUnavailable, match="busy"):
                async with database.batch(actor="queued") as unit:
                    touch(unit, "batch")
            fcntl.flock(fd, fcntl.LOCK_UN)

            await database.transaction(in_transaction, actor="served")
            async with database.batch(actor="served") as unit:
                touch(unit, "batch")
        finally:
            os.close(fd)
    audit = await Database(db).audit.list(
        entity="Garage", entity_id=garage.id, since=None, until=None, limit=9, cursor=None
    )
    written = sorted(
        (row.actor, json.loads(row.after or "{}").get("how")) for row in audit.items if row.action == "UPDATE"
    )
    assert written == [("served", "batch"), ("served", "transaction"), ("served", "transaction's batch")]
