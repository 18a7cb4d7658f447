"""ReportRepository (usage read model) and MigrationRepository without Prisma's table."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from prisma import Prisma

from garage.config import load_settings
from garage.db import create_prisma
from garage.repositories.migrations import MigrationRepository
from garage.repositories.payments import PaymentRepository
from garage.repositories.reports import ReportRepository, Revenue, SessionSpan
from garage.repositories.sessions import SessionRepository
from garage.repositories.spots import SpotRepository
from tests.repositories.test_sessions import T0, make_garage, make_vehicle

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_spans_and_payments_of_one_garage_and_window(db: Prisma) -> None:
    garage, spots = await make_garage(db, spots=4)
    other, other_spots = await make_garage(db, spots=1)
    sessions, payments, reports = SessionRepository(db), PaymentRepository(db), ReportRepository(db)

    async def visit(garage_id: str, spot_id: str, start_hours: float, end_hours: float | None, cents: int,
                    refunded: bool = False) -> None:
        vehicle = await make_vehicle(db)
        session = await sessions.create(garage_id=garage_id, spot_id=spot_id, vehicle_id=vehicle.id,
                                        license_plate=vehicle.licensePlate, start_time=T0 + timedelta(hours=start_hours))
        if end_hours is not None:
            end = T0 + timedelta(hours=end_hours)
            assert await sessions.complete(session.id, end_time=end, fee_cents=cents)
            payment = await payments.create(session_id=session.id, garage_id=garage_id, amount_cents=cents,
                                            currency="USD", method="CASH", reference=None, created_at=end)
            if refunded:
                assert await payments.refund(payment.id)

    await visit(garage.id, spots[0].id, 0, 1, 100)           # before the window: left before it starts
    await visit(garage.id, spots[1].id, 1.5, 3, 200)          # overlaps the window start
    await visit(garage.id, spots[2].id, 2.5, 2.75, 300, refunded=True)
    await visit(garage.id, spots[3].id, 2.5, None, 0)         # still parked
    await visit(other.id, other_spots[0].id, 2.5, 2.75, 999)  # another garage

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
    assert revenue == [Revenue(T0 + timedelta(hours=3), 200)]  # the refund and the other garage excluded

    active_before = await reports.active_session_count()
    by_status = await reports.live_spots_by_status()
    assert active_before >= 1
    await SpotRepository(db).set_status(spots[0].id, "MAINTENANCE")
    after = await reports.live_spots_by_status()
    assert after.get("MAINTENANCE", 0) == by_status.get("MAINTENANCE", 0) + 1


async def test_no_migrations_table_means_nothing_applied(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    client = create_prisma(load_settings(DATABASE_URL=f"file:{empty}"))
    await client.connect()
    try:
        assert await MigrationRepository(client).applied_names() == set()
    finally:
        await client.disconnect()
