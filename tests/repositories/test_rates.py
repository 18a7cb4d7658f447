"""RateRepository: the default row, lookups, replacing (and creating) by PUT."""

from __future__ import annotations

import pytest
from prisma import Prisma

from garage.repositories.rates import RateRepository, terms_of
from garage.vocabulary import DEFAULT_RATE, RateTerms as RateValues
from tests.repositories.test_garages import new_garage

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_default_rate_is_the_contracts(db: Prisma) -> None:
    garage = await new_garage(db)
    rate = await RateRepository(db).create(garage.id)
    assert (rate.hourlyRateCents, rate.incrementMinutes, rate.graceMinutes, rate.dailyMaxCents, rate.lostTicketFeeCents) == (
        300, 15, 10, 2500, 5000,
    )
    assert DEFAULT_RATE == RateValues(300, 15, 10, 2500, 5000)
    assert await RateRepository(db).get(garage.id) == rate


async def test_get_without_a_rate_row_is_none(db: Prisma) -> None:
    garage = await new_garage(db)
    assert await RateRepository(db).get(garage.id) is None


async def test_put_replaces_an_existing_rate(db: Prisma) -> None:
    garage = await new_garage(db)
    rates = RateRepository(db)
    await rates.create(garage.id)
    replaced = await rates.put(garage.id, RateValues(400, 30, 0, 3000, 6000))
    assert (replaced.hourlyRateCents, replaced.incrementMinutes, replaced.graceMinutes) == (400, 30, 0)
    assert (replaced.dailyMaxCents, replaced.lostTicketFeeCents) == (3000, 6000)
    assert terms_of(replaced) == RateValues(400, 30, 0, 3000, 6000)  # the row as the fee rule reads it
    assert await rates.get(garage.id) == replaced


async def test_put_creates_a_missing_rate(db: Prisma) -> None:
    garage = await new_garage(db)
    created = await RateRepository(db).put(garage.id, RateValues(hourly_rate_cents=100))
    assert created.hourlyRateCents == 100 and created.incrementMinutes == 15
