"""garage.db.RetryingBatch, the parking flow's one-request transactional batch of writes:
inside `garage.db.transaction` it commits and rolls back with the transaction (and an engine lost
mid-transaction retries the whole transaction, never the batch alone); outside one, a batch
whose engine process was killed just before it was sent is sent to the engine
RestartingQueryEngine starts instead and stored exactly once; a batch cut off while the engine
held it is not re-sent (its outcome is unknown: 503); an empty batch sends nothing.

The kill tests use a client and database of their own (the engine is a real node process,
reached as the client's `_engine.process`), so the session's shared client is never disturbed.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from prisma import Prisma
from prisma.client import Batch
from prisma.errors import RecordNotFoundError, UniqueViolationError
from prisma.models import Vehicle

from garage.config import load_settings
from garage.db import OUTCOME_UNKNOWN, RestartingQueryEngine, RetryingBatch, create_prisma, transaction
from garage.errors import DatabaseUnavailable
from garage.repositories.audit import AuditEntry, AuditRepository
from garage.repositories.rows import now_ms
from garage.repositories.sessions import SessionRepository
from garage.repositories.vehicles import VehicleRepository
from tests.database import apply_migrations
from tests.repositories.builders import make_garage, new_plate, start_session

pytestmark = pytest.mark.asyncio(loop_scope="session")


class Boom(Exception):
    """A failure of the service's own code inside the transaction (never retried)."""


def queue_vehicle_with_audit(batch: Batch, plate: str) -> Vehicle:
    vehicle = VehicleRepository.queue_create(batch, license_plate=plate, type="CAR", now=now_ms())
    AuditRepository.queue_records(batch, actor="test",
                                  entries=[AuditEntry("CREATE", "Vehicle", vehicle.id, after={"licensePlate": plate})])
    return vehicle


async def stored(db: Prisma, plate: str) -> tuple[int, int]:
    """How many vehicles with the plate, and audit rows about them, are stored."""
    vehicles = await db.vehicle.find_many(where={"licensePlate": plate})
    audits = await db.auditlog.count(where={"entity": "Vehicle", "entityId": {"in": [v.id for v in vehicles]}})
    return len(vehicles), audits


def engine_of(db: Prisma) -> RestartingQueryEngine:
    engine = db._engine  # the client's engine wrapper: db.py's RestartingQueryEngine
    assert isinstance(engine, RestartingQueryEngine) and engine.process is not None
    return engine


async def live_engine(db: Prisma) -> RestartingQueryEngine:
    """The client's engine, after one read (which replaces it first if an earlier test killed it)."""
    await db.vehicle.count()
    return engine_of(db)


# ---- inside garage.db.transaction ------------------------------------------------------------

async def test_batches_inside_a_transaction_commit_with_it(db: Prisma) -> None:
    plates = new_plate("TX"), new_plate("TX")

    async def work(tx: Prisma) -> list[Vehicle]:
        assert isinstance(tx.batch_(), RetryingBatch)
        made = []
        for plate in plates:  # two batches in one transaction
            async with tx.batch_() as batch:
                made.append(queue_vehicle_with_audit(batch, plate))
            # the transaction reads its own batch's writes
            assert await VehicleRepository(tx).live_by_plate(plate) == made[-1]
        return made

    made = await transaction(db, work)
    for plate, vehicle in zip(plates, made):
        assert await stored(db, plate) == (1, 1)
        assert await VehicleRepository(db).live_by_plate(plate) == vehicle


async def test_batches_inside_a_transaction_roll_back_with_it(db: Prisma) -> None:
    plate, attempts = new_plate("RB"), 0

    async def work(tx: Prisma) -> None:
        nonlocal attempts
        attempts += 1
        async with tx.batch_() as batch:
            queue_vehicle_with_audit(batch, plate)
        assert await VehicleRepository(tx).live_by_plate(plate) is not None
        raise Boom()

    with pytest.raises(Boom):
        await transaction(db, work)
    assert attempts == 1 and await stored(db, plate) == (0, 0)


async def test_a_failing_batch_rolls_back_the_transaction_it_is_part_of(db: Prisma) -> None:
    _, spots = await make_garage(db, spots=1)
    session = await start_session(db, spots[0])
    before, in_batch, attempts = new_plate("TB"), new_plate("TB"), 0

    async def work(tx: Prisma) -> None:
        nonlocal attempts
        attempts += 1
        await VehicleRepository(tx).create(license_plate=before, type="CAR")  # a single write, earlier in tx
        async with tx.batch_() as batch:
            queue_vehicle_with_audit(batch, in_batch)
            SessionRepository.queue_complete(batch, session.id, end_time=now_ms(), fee_cents=1, now=now_ms())
            SessionRepository.queue_complete(batch, session.id, end_time=now_ms(), fee_cents=2, now=now_ms())  # not ACTIVE now

    with pytest.raises(RecordNotFoundError):
        await transaction(db, work)
    assert attempts == 1  # a guard that failed is not transient
    assert await stored(db, before) == (0, 0) and await stored(db, in_batch) == (0, 0)
    assert await SessionRepository(db).get(session.id) == session  # still ACTIVE


async def test_a_batch_after_which_the_transaction_fails_is_rolled_back(db: Prisma) -> None:
    taken = await VehicleRepository(db).create(license_plate=new_plate("DU"), type="CAR")
    plate = new_plate("DU")

    async def work(tx: Prisma) -> None:
        async with tx.batch_() as batch:
            queue_vehicle_with_audit(batch, plate)
        await VehicleRepository(tx).create(license_plate=taken.licensePlate, type="VAN")  # a live plate

    with pytest.raises(UniqueViolationError):
        await transaction(db, work)
    assert await stored(db, plate) == (0, 0)


# ---- the engine process killed ---------------------------------------------------------------

@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def own_db(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Prisma]:
    path: Path = tmp_path_factory.mktemp("write-batch") / "garage.db"
    apply_migrations(path)
    client = create_prisma(load_settings(DATABASE_URL=f"file:{path}"))
    await client.connect()
    yield client
    await client.disconnect()


async def test_a_batch_whose_engine_was_killed_is_sent_to_the_new_engine_once(own_db: Prisma) -> None:
    """Killed (and exited) with the batch built but not yet sent: the wrapper sees the exit,
    starts a new engine and the batch goes there, whole; its writes are stored exactly once."""
    engine = await live_engine(own_db)
    killed, restarts = engine.process, engine.restarts
    assert killed is not None
    plate = new_plate("K")
    async with own_db.batch_() as batch:
        vehicle = queue_vehicle_with_audit(batch, plate)
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait(timeout=10)
    assert engine.restarts == restarts + 1 and engine.process is not None and engine.process.pid != killed.pid
    assert killed.poll() == -signal.SIGKILL
    assert await stored(own_db, plate) == (1, 1)
    assert await VehicleRepository(own_db).live_by_plate(plate) == vehicle


async def test_a_transaction_whose_engine_was_killed_before_its_batch_is_retried_whole(own_db: Prisma) -> None:
    """Inside a transaction the batch is never re-sent on its own (the transaction it belonged to
    died with the engine): the whole transaction runs again, on the new engine."""
    engine = await live_engine(own_db)
    restarts, attempts = engine.restarts, 0
    plate, single = new_plate("KT"), new_plate("KT")

    async def work(tx: Prisma) -> Vehicle:
        nonlocal attempts
        attempts += 1
        await VehicleRepository(tx).create(license_plate=single, type="CAR")
        async with tx.batch_() as batch:
            vehicle = queue_vehicle_with_audit(batch, plate)
            if attempts == 1:
                process = engine_of(tx).process
                assert process is not None
                process.kill()
                process.wait(timeout=10)
        return vehicle

    vehicle = await transaction(own_db, work)
    assert attempts == 2 and engine.restarts == restarts + 1
    assert await stored(own_db, plate) == (1, 1) and await stored(own_db, single) == (1, 0)
    assert await VehicleRepository(own_db).live_by_plate(plate) == vehicle


async def test_a_batch_cut_off_while_the_engine_held_it_is_not_sent_again(own_db: Prisma) -> None:
    """The engine is frozen (SIGSTOP) so the batch reaches its socket but never an answer, then
    killed: the connection breaks mid-request, the batch's outcome is unknown, and it is NOT
    re-sent (it might have committed): 503 saying so. (Here the frozen engine never read it.)"""
    engine = await live_engine(own_db)
    frozen = engine.process
    assert frozen is not None
    plate = new_plate("CUT")
    os.kill(frozen.pid, signal.SIGSTOP)
    try:
        batch = own_db.batch_()
        queue_vehicle_with_audit(batch, plate)
        sending = asyncio.ensure_future(batch.commit())
        await asyncio.sleep(0.5)
        assert not sending.done()
    finally:
        os.kill(frozen.pid, signal.SIGKILL)
    with pytest.raises(DatabaseUnavailable) as error:
        await sending
    assert str(error.value) == OUTCOME_UNKNOWN
    assert await stored(own_db, plate) == (0, 0)  # the next call started a new engine


async def test_an_empty_batch_sends_nothing(own_db: Prisma) -> None:
    """Proved by a dead engine: sending anything would make the wrapper start a new one."""
    engine = await live_engine(own_db)
    dead, restarts = engine.process, engine.restarts
    assert dead is not None
    dead.kill()
    dead.wait(timeout=10)
    async with own_db.batch_():
        pass
    await own_db.batch_().commit()
    assert engine.restarts == restarts and engine.process is dead  # nothing was sent
    plate = new_plate("E")
    async with own_db.batch_() as batch:  # the first batch with writes restarts it
        queue_vehicle_with_audit(batch, plate)
    assert engine.restarts == restarts + 1 and await stored(own_db, plate) == (1, 1)
