"""RateRepository: the default row, lookups, replacing (and creating) by PUT, and the audit
entries those writes record."""

from __future__ import annotations

import json

import pytest
from prisma import Prisma

from garage.repositories.audit import audit_view
from garage.repositories.rates import terms_of
from garage.repositories.unit_of_work import Database
from garage.vocabulary import DEFAULT_RATE, AuditEntity, RateTerms as RateValues
from tests.repositories.test_garages import new_garage

pytestmark = pytest.mark.asyncio(loop_scope="session")
ACTOR = "test"


async def rate_audit(db: Prisma, garage_id: str) -> list[tuple[str, object, object]]:
    """(action, before, after) of the Rate entries of the garage, oldest first."""
    page = await Database(db).audit.list(entity="Rate", entity_id=garage_id, since=None, until=None, limit=50,
                                         cursor=None)
    return [
        (row.action, row.before and json.loads(row.before), row.after and json.loads(row.after))
        for row in reversed(page.items)
    ]


async def test_default_rate_is_the_contracts(db: Prisma) -> None:
    garage = await new_garage(db)
    rate = await Database(db).transaction(lambda unit: unit.rates.create(garage.id), actor=ACTOR)
    assert (rate.hourlyRateCents, rate.incrementMinutes, rate.graceMinutes, rate.dailyMaxCents, rate.lostTicketFeeCents) == (
        300, 15, 10, 2500, 5000,
    )
    assert DEFAULT_RATE == RateValues(300, 15, 10, 2500, 5000)
    assert await Database(db).rates.get(garage.id) == rate
    assert await rate_audit(db, garage.id) == [("CREATE", None, audit_view(rate, AuditEntity.RATE))]
    assert "createdAt" not in audit_view(rate, AuditEntity.RATE)  # the audit row's own time says when


async def test_get_without_a_rate_row_is_none(db: Prisma) -> None:
    garage = await new_garage(db)
    assert await Database(db).rates.get(garage.id) is None


async def test_put_replaces_an_existing_rate(db: Prisma) -> None:
    garage = await new_garage(db)
    database = Database(db)
    old = await database.transaction(lambda unit: unit.rates.create(garage.id), actor=ACTOR)
    replaced = await database.transaction(
        lambda unit: unit.rates.put(garage.id, RateValues(400, 30, 0, 3000, 6000)), actor=ACTOR
    )
    assert (replaced.hourlyRateCents, replaced.incrementMinutes, replaced.graceMinutes) == (400, 30, 0)
    assert (replaced.dailyMaxCents, replaced.lostTicketFeeCents) == (3000, 6000)
    assert terms_of(replaced) == RateValues(400, 30, 0, 3000, 6000)  # the row as the fee rule reads it
    assert await database.rates.get(garage.id) == replaced
    assert (await rate_audit(db, garage.id))[1:] == [
        ("UPDATE", audit_view(old, AuditEntity.RATE), audit_view(replaced, AuditEntity.RATE))
    ]


async def test_put_creates_a_missing_rate(db: Prisma) -> None:
    garage = await new_garage(db)
    created = await Database(db).transaction(
        lambda unit: unit.rates.put(garage.id, RateValues(hourly_rate_cents=100)), actor=ACTOR
    )
    assert created.hourlyRateCents == 100 and created.incrementMinutes == 15
    assert await rate_audit(db, garage.id) == [("CREATE", None, audit_view(created, AuditEntity.RATE))]
