"""ReportRepository (usage read model) and MigrationRepository without Prisma's table."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from prisma import Prisma
from prisma.models import Spot

from garage.config import load_settings
from garage.db import create_prisma
from garage.repositories.migrations import MigrationRepository
from garage.repositories.reports import Revenue, SessionSpan
from garage.repositories.rows import now_ms
from garage.repositories.unit_of_work import Database, UnitOfWork
from garage.vocabulary import PaymentMethod
from tests.repositories.builders import T0, complete_session, make_garage, pay, start_session

pytestmark = pytest.mark.asyncio(loop_scope="session")
ACTOR = "test"


async def test_spans_and_payments_of_one_garage_and_window(db: Prisma) -> None:
    garage, spots = await make_garage(db, spots=4)
    _, other_spots = await make_garage(db, spots=1)
    database = Database(db)
    reports = database.reports

    async def visit(spot: Spot, start_hours: float, end_hours: float | None, cents: int,
                    refunded: bool = False) -> None:
        session = await start_session(db, spot, start=T0 + timedelta(hours=start_hours))
        if end_hours is not None:
            end = T0 + timedelta(hours=end_hours)
            await complete_session(db, session, end=end, fee_cents=cents)
            payment = await pay(db, session, amount_cents=cents, created_at=end, currency="USD", method="CASH")
            if refunded:
                assert await database.transaction(lambda unit: unit.payments.refund(payment), actor=ACTOR)

    await visit(spots[0], 0, 1, 100)             # before the window: left before it starts
    await visit(spots[1], 1.5, 3, 200)           # overlaps the window start
    await visit(spots[2], 2.5, 2.75, 300, refunded=True)
    await visit(spots[3], 2.5, None, 0)          # still parked
    await visit(other_spots[0], 2.5, 2.75, 999)  # another garage

    since, until = T0 + timedelta(hours=2), T0 + timedelta(hours=4)
    spans = await reports.session_spans(garage.id, since, until)
    # ordered by start; two sessions start at 2.5 h, so compare as a multiset
    assert [span.start for span in spans] == sorted(span.start for span in spans)
    assert sorted(spans, key=lambda span: (span.start, span.end or until)) == [
        SessionSpan(T0 + timedelta(hours=1.5), T0 + timedelta(hours=3)),
        SessionSpan(T0 + timedelta(hours=2.5), T0 + timedelta(hours=2.75)),
        SessionSpan(T0 + timedelta(hours=2.5), None),
    ]
    revenue = await reports.completed_payments(garage.id, since, until)
    # the refund and the other garage excluded
    assert revenue == [Revenue(T0 + timedelta(hours=3), 200, PaymentMethod.CASH, 0)]

    active_before = await reports.active_session_count()
    by_status = await reports.live_spots_by_status()
    assert active_before >= 1
    await database.transaction(lambda unit: unit.spots.update(spots[0], {"status": "MAINTENANCE"}), actor=ACTOR)
    after = await reports.live_spots_by_status()
    assert after.get("MAINTENANCE", 0) == by_status.get("MAINTENANCE", 0) + 1


async def test_voided_sessions_and_the_payments_method_and_discount(db: Prisma) -> None:
    garage, spots = await make_garage(db, spots=3)
    database = Database(db)
    voided_at = T0 + timedelta(hours=26)
    voided = await start_session(db, spots[0], start=T0 + timedelta(hours=25))
    async with database.batch(actor=ACTOR) as unit:
        unit.sessions.queue_void(voided, reason="gate fault", end_time=voided_at, now=now_ms())
    validated = await start_session(db, spots[1], start=T0 + timedelta(hours=25))
    paid_at = T0 + timedelta(hours=27)
    await complete_session(db, validated, end=paid_at, fee_cents=450)
    async with database.batch(actor=ACTOR) as unit:
        unit.payments.queue_create(
            session_id=validated.id, garage_id=garage.id, amount_cents=450, currency="EUR", method="MOBILE",
            reference=None, discount_cents=150, created_at=paid_at, now=now_ms(),
        )

    since, until = T0 + timedelta(hours=24), T0 + timedelta(hours=28)
    spans = await database.reports.session_spans(garage.id, since, until)
    assert sorted(spans, key=lambda span: span.voided) == [
        SessionSpan(T0 + timedelta(hours=25), paid_at, voided=False),
        SessionSpan(T0 + timedelta(hours=25), voided_at, voided=True),
    ]
    assert await database.reports.completed_payments(garage.id, since, until) == [
        Revenue(paid_at, 450, PaymentMethod.MOBILE, 150)
    ]


async def test_no_migrations_table_means_nothing_applied(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    client = create_prisma(load_settings(DATABASE_URL=f"file:{empty}"))
    await client.connect()
    try:
        assert await MigrationRepository(client).applied_names() == set()
    finally:
        await client.disconnect()


async def test_usage_summed_in_sql_equals_the_buckets_of_the_spans_and_payments(db: Prisma) -> None:
    """usage_totals + usage_from_totals (the report without an archive) against usage_buckets of
    session_spans and completed_payments (the report with one), on stays that cross bucket edges,
    end or start exactly on them, tie at one instant, are voided, refunded or still running, and on
    windows that do and do not start on a bucket's edge (one not even on a millisecond)."""
    from garage.services.reports import Bucket, usage_buckets, usage_from_totals

    garage, spots = await make_garage(db, spots=12)
    database = Database(db)

    def h(hours: float) -> datetime:
        return T0 + timedelta(hours=hours)

    stays = [(-30, -1), (-2, 0.5), (0, 1), (0, 1), (1, 1.25), (1, 2), (0.5, 3), (2.5, 27), (24, None), (25, 26),
             (23.75, 24)]
    for n, (start, end) in enumerate(stays):
        session = await start_session(db, spots[n], start=h(start))
        if end is None:
            continue
        if n == 9:  # voided
            async with database.batch(actor=ACTOR) as unit:
                unit.sessions.queue_void(session, reason="test", end_time=h(end), now=now_ms())
            continue
        await complete_session(db, session, end=h(end), fee_cents=100 * n)
        payment = await pay(db, session, amount_cents=100 * n, created_at=h(end),
                            method=("CARD", "CASH", "MOBILE")[n % 3])
        if n == 5:
            refunded = payment
    await start_session(db, spots[11], start=h(1))  # a tie with the 1 h departures and arrival

    async def refund(unit: UnitOfWork) -> object:
        return await unit.payments.refund(refunded)

    assert await database.transaction(refund, actor=ACTOR)

    reports = database.reports
    windows = [(h(0), h(4), Bucket.HOUR), (h(0.25), h(3.5), Bucket.HOUR), (h(-1), h(30), Bucket.DAY),
               (h(0) + timedelta(microseconds=500), h(2) + timedelta(microseconds=1500), Bucket.HOUR),
               (h(-48), h(72), Bucket.DAY), (h(23), h(27), Bucket.HOUR), (h(100), h(101), Bucket.HOUR),
               (h(0.5) - timedelta(milliseconds=1), h(1), Bucket.HOUR), (h(0.5), h(1.5), Bucket.HOUR),
               (h(0.5) + timedelta(milliseconds=250), h(2) + timedelta(milliseconds=250), Bucket.HOUR)]
    for since, until, bucket in windows:
        totals = await reports.usage_totals(garage.id, since, until, key_length=bucket.key_length)
        expected = usage_buckets(await reports.session_spans(garage.id, since, until),
                                 await reports.completed_payments(garage.id, since, until), since, until, bucket)
        assert usage_from_totals(totals, since, until, bucket) == expected, (since, until, bucket)
    hourly = usage_from_totals(await reports.usage_totals(garage.id, h(0), h(3), key_length=13), h(0), h(3),
                               Bucket.HOUR)
    assert [b.check_ins for b in hourly] == [3, 3, 1] and [b.peak_occupied for b in hourly] == [3, 4, 3]
