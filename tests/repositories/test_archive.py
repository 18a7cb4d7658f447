"""ArchiveRepository: the oldest completed sessions with their parts, copied into a second
migrated database (replacing an earlier copy), totals on both sides, deleted from the first."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import pytest_asyncio
from prisma import Prisma

from garage.config import load_settings
from garage.db import create_prisma
from garage.repositories.archive import ArchiveRepository, BatchTotals, totals_of
from garage.repositories.payments import PaymentRepository
from garage.repositories.records import ParkingSession, Payment
from garage.repositories.sessions import SessionRepository
from garage.repositories.unit_of_work import Database, UnitOfWork
from tests.database import apply_migrations
from tests.repositories.builders import complete_session, make_garage, pay, start_session

pytestmark = pytest.mark.asyncio(loop_scope="session")

# Long before any other test's sessions: the batches below hold only this module's rows.
LONG_AGO = datetime(1990, 1, 1, 8, 0, tzinfo=timezone.utc)
CUTOFF = datetime(1991, 1, 1, tzinfo=timezone.utc)


def ticket_code() -> str:
    return "".join(random.choices("ABCDEFGHJKLMNPQRSTUVWXYZ23456789", k=10))


async def copy_into(database: Prisma, sessions: list[ParkingSession]) -> None:
    """`replace_batch` in one unit of work on `database`, as the archival job runs it."""

    async def work(unit: UnitOfWork) -> None:
        await unit.archive.replace_batch(sessions)

    await Database(database).transaction(work, actor="test")


async def delete_from(database: Prisma, ids: list[str]) -> int:
    async def work(unit: UnitOfWork) -> int:
        return await unit.archive.delete_batch(ids)

    return await Database(database).transaction(work, actor="test")


async def refund(database: Prisma, payment: Payment) -> Payment | None:
    async def work(unit: UnitOfWork) -> Payment | None:
        return await unit.payments.refund(payment)

    return await Database(database).transaction(work, actor="test")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def archive_db(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Prisma]:
    path: Path = tmp_path_factory.mktemp("archive") / "archive.db"
    apply_migrations(path)
    client = create_prisma(load_settings(DATABASE_URL=f"file:{path}"))
    await client.connect()
    yield client
    await client.disconnect()


async def test_archive_batches_copy_replace_total_and_delete(db: Prisma, archive_db: Prisma) -> None:
    garage, spots = await make_garage(db, spots=4)
    sessions = SessionRepository(db)
    ids = []
    for index in range(4):
        start = LONG_AGO + timedelta(hours=index)
        # the third has no payment (every session has its ticket: start_session issues it)
        session = await start_session(db, spots[index], start=start, ticket_code=ticket_code())
        ids.append(session.id)
        if index == 3:
            continue  # stays ACTIVE
        if index < 2:
            await pay(db, session, amount_cents=100 + index, created_at=start + timedelta(minutes=30))
        await complete_session(db, session, end=start + timedelta(minutes=30), fee_cents=100 + index)
    paid = await PaymentRepository(db).for_session(ids[1])
    assert paid is not None and await refund(db, paid) is not None

    live = ArchiveRepository(db)
    assert await live.count_completed_before(CUTOFF) == 3
    batch = await live.completed_before(CUTOFF, 2)
    assert [s.id for s in batch] == ids[:2]
    expected = BatchTotals(sessions=2, fee_cents=201, tickets=2, payments=2, payment_cents={"COMPLETED": 100, "REFUNDED": 101})
    assert totals_of(batch) == expected == await live.totals(ids[:2])

    for _ in range(2):  # a repeated copy (an interrupted run) replaces the first one
        await copy_into(archive_db, batch)
        assert await ArchiveRepository(archive_db).totals(ids[:2]) == expected
    assert await archive_db.parkingsession.count() == 2 and await archive_db.vehicle.count() == 2

    rest = await live.completed_before(CUTOFF, 10)
    assert [s.id for s in rest] == ids[:3]
    await copy_into(archive_db, rest[2:])
    assert await ArchiveRepository(archive_db).totals(ids[:3]) == BatchTotals(
        sessions=3, fee_cents=303, tickets=3, payments=2, payment_cents={"COMPLETED": 100, "REFUNDED": 101})
    assert await archive_db.garage.count() == 1 and await archive_db.spot.count() == 3

    assert await delete_from(db, ids[:3]) == 3
    assert await live.count_completed_before(CUTOFF) == 0
    assert await live.totals(ids[:3]) == BatchTotals()
    assert (await sessions.get(ids[3])) is not None
