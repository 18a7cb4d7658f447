"""garage.db.RetryingBatch, the parking flow's one-request transactional batch of writes, as
services use it (repositories/unit_of_work.py): inside `Database.transaction` (`unit.batched()`)
it commits and rolls back with the transaction (and an engine lost mid-transaction retries the
whole transaction, never the batch alone); a `Database.batch` whose engine process was killed just
before it was sent is sent to the engine RestartingQueryEngine starts instead and stored exactly
once; a batch cut off while the engine held it is not re-sent (its outcome is unknown: 503); an
empty batch sends nothing. The audit rows the repositories record go with the batch, all or nothing.

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
from prisma.models import Vehicle

from garage.config import load_settings
from garage.db import OUTCOME_UNKNOWN, RestartingQueryEngine, RetryingBatch, create_prisma
from garage.errors import DatabaseUnavailable, RecordMissing, UniqueViolation
from garage.repositories.rows import now_ms
from garage.repositories.unit_of_work import Database, UnitOfWork
from garage.vocabulary import VehicleType
from tests.database import apply_migrations
from tests.repositories.builders import ACTOR, make_garage, new_plate, start_session

pytestmark = pytest.mark.asyncio(loop_scope="session")


class Boom(Exception):
    """A failure of the service's own code inside the transaction (never retried)."""


def queue_vehicle(unit: UnitOfWork, plate: str) -> Vehicle:
    """A new vehicle in the unit's batch; the repository records its CREATE audit entry."""
    return unit.vehicles.queue_create(license_plate=plate, type=VehicleType.CAR, now=now_ms())


async def stored(db: Prisma, plate: str) -> tuple[int, int]:
    """How many vehicles with the plate, and audit rows about them, are stored."""
    vehicles = await db.vehicle.find_many(where={"licensePlate": plate})
    audits = await db.auditlog.count(where={"entity": "Vehicle", "entityId": {"in": [v.id for v in vehicles]}})
    return len(vehicles), audits


def engine_of(db: Prisma) -> RestartingQueryEngine:
    engine = db._engine  # the client's engine wrapper: garage.db's RestartingQueryEngine
    assert isinstance(engine, RestartingQueryEngine) and engine.process is not None
    return engine


async def live_engine(db: Prisma) -> RestartingQueryEngine:
    """The client's engine, after one read (which replaces it first if an earlier test killed it)."""
    await db.vehicle.count()
    return engine_of(db)


# ---- inside Database.transaction ---------------------------------------------------------------

async def test_batches_inside_a_transaction_commit_with_it(db: Prisma) -> None:
    database = Database(db)
    plates = new_plate("TX"), new_plate("TX")

    async def work(unit: UnitOfWork) -> list[Vehicle]:
        made = []
        for plate in plates:  # two batches in one transaction
            async with unit.batched() as batch:
                assert isinstance(batch.batch, RetryingBatch)
                made.append(queue_vehicle(batch, plate))
            # the transaction reads its own batch's writes
            assert await unit.vehicles.live_by_plate(plate) == made[-1]
        return made

    made = await database.transaction(work, actor=ACTOR)
    for plate, vehicle in zip(plates, made):
        assert await stored(db, plate) == (1, 1)
        assert await database.vehicles.live_by_plate(plate) == vehicle


async def test_batches_inside_a_transaction_roll_back_with_it(db: Prisma) -> None:
    plate, attempts = new_plate("RB"), 0

    async def work(unit: UnitOfWork) -> None:
        nonlocal attempts
        attempts += 1
        async with unit.batched() as batch:
            queue_vehicle(batch, plate)
        assert await unit.vehicles.live_by_plate(plate) is not None
        raise Boom()

    with pytest.raises(Boom):
        await Database(db).transaction(work, actor=ACTOR)
    assert attempts == 1 and await stored(db, plate) == (0, 0)


async def test_a_failing_batch_rolls_back_the_transaction_it_is_part_of(db: Prisma) -> None:
    database = Database(db)
    _, spots = await make_garage(db, spots=1)
    session = await start_session(db, spots[0])
    before, in_batch, attempts = new_plate("TB"), new_plate("TB"), 0

    async def work(unit: UnitOfWork) -> None:
        nonlocal attempts
        attempts += 1
        await unit.vehicles.create(license_plate=before, type=VehicleType.CAR)  # a single write, earlier in tx
        async with unit.batched() as batch:
            queue_vehicle(batch, in_batch)
            for fee_cents in (1, 2):  # the second finds the session no longer ACTIVE
                batch.sessions.queue_complete(
                    session, end_time=now_ms(), fee_cents=fee_cents, minutes=0, lost_ticket=False, payment=None,
                    now=now_ms(),
                )

    with pytest.raises(RecordMissing):
        await database.transaction(work, actor=ACTOR)
    assert attempts == 1  # a guard that failed is not transient
    assert await stored(db, before) == (0, 0) and await stored(db, in_batch) == (0, 0)
    assert await database.sessions.get(session.id) == session  # still ACTIVE, its ticket OPEN


async def test_a_batch_after_which_the_transaction_fails_is_rolled_back(db: Prisma) -> None:
    database = Database(db)

    async def create_taken(unit: UnitOfWork) -> Vehicle:
        return await unit.vehicles.create(license_plate=new_plate("DU"), type=VehicleType.CAR)

    taken = await database.transaction(create_taken, actor=ACTOR)
    plate = new_plate("DU")

    async def work(unit: UnitOfWork) -> None:
        async with unit.batched() as batch:
            queue_vehicle(batch, plate)
        await unit.vehicles.create(license_plate=taken.licensePlate, type=VehicleType.VAN)  # a live plate

    with pytest.raises(UniqueViolation) as error:
        await database.transaction(work, actor=ACTOR)
    assert error.value.involves("licensePlate")
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
    async with Database(own_db).batch(actor=ACTOR) as unit:
        vehicle = queue_vehicle(unit, plate)
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait(timeout=10)
    assert engine.restarts == restarts + 1 and engine.process is not None and engine.process.pid != killed.pid
    assert killed.poll() == -signal.SIGKILL
    assert await stored(own_db, plate) == (1, 1)
    assert await Database(own_db).vehicles.live_by_plate(plate) == vehicle


async def test_a_transaction_whose_engine_was_killed_before_its_batch_is_retried_whole(own_db: Prisma) -> None:
    """Inside a transaction the batch is never re-sent on its own (the transaction it belonged to
    died with the engine): the whole transaction runs again, on the new engine."""
    database = Database(own_db)
    engine = await live_engine(own_db)
    restarts, attempts = engine.restarts, 0
    plate, single = new_plate("KT"), new_plate("KT")

    async def work(unit: UnitOfWork) -> Vehicle:
        nonlocal attempts
        attempts += 1
        await unit.vehicles.create(license_plate=single, type=VehicleType.CAR)
        async with unit.batched() as batch:
            vehicle = queue_vehicle(batch, plate)
            if attempts == 1:
                process = engine.process  # the transaction's client shares its engine with own_db
                assert process is not None
                process.kill()
                process.wait(timeout=10)
        return vehicle

    vehicle = await database.transaction(work, actor=ACTOR)
    assert attempts == 2 and engine.restarts == restarts + 1
    # each write, and its audit row, stored once: the first attempt's died with its transaction
    assert await stored(own_db, plate) == (1, 1) and await stored(own_db, single) == (1, 1)
    assert await database.vehicles.live_by_plate(plate) == vehicle


async def test_a_batch_cut_off_while_the_engine_held_it_is_not_sent_again(own_db: Prisma) -> None:
    """The engine is frozen (SIGSTOP) so the batch reaches its socket but never an answer, then
    killed: the connection breaks mid-request, the batch's outcome is unknown, and it is NOT
    re-sent (it might have committed): 503 saying so. (Here the frozen engine never read it.)"""
    engine = await live_engine(own_db)
    frozen = engine.process
    assert frozen is not None
    plate = new_plate("CUT")

    async def send() -> None:
        async with Database(own_db).batch(actor=ACTOR) as unit:
            queue_vehicle(unit, plate)

    os.kill(frozen.pid, signal.SIGSTOP)
    try:
        sending = asyncio.ensure_future(send())
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
    async with Database(own_db).batch(actor=ACTOR):
        pass
    await own_db.batch_().commit()
    assert engine.restarts == restarts and engine.process is dead  # nothing was sent
    plate = new_plate("E")
    async with Database(own_db).batch(actor=ACTOR) as unit:  # the first batch with writes restarts it
        queue_vehicle(unit, plate)
    assert engine.restarts == restarts + 1 and await stored(own_db, plate) == (1, 1)
