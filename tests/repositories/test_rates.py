"""RateRepository: the default row, lookups, replacing (and creating) by PUT, the tariffs' JSON
columns and their typed readers, and the audit entries those writes record."""

from __future__ import annotations

import json
from datetime import time

import pytest
from prisma import Prisma

from garage.repositories.audit import audit_view
from garage.repositories.rates import default_rate, flat_rates_of, terms_of, vehicle_type_rates_of
from garage.repositories.unit_of_work import Database
from garage.vocabulary import DEFAULT_RATE, AuditEntity, FlatRate, VehicleType, VehicleTypeRate, Weekday
from garage.vocabulary import RateTerms as RateValues
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


EARLY_BIRD = FlatRate(name="Early bird", days=frozenset({Weekday.FRI, Weekday.MON}), entry_from=time(6, 0),
                      entry_to=time(9, 30), exit_by=time(19, 0), amount_cents=1200)
NIGHT = FlatRate(name="Nuit étoilée", days=frozenset(Weekday), entry_from=time(0, 0), entry_to=time(23, 59),
                 exit_by=time(6, 5), amount_cents=0)
OVERRIDES = {
    VehicleType.TRUCK: VehicleTypeRate(daily_max_cents=6000),
    VehicleType.MOTORCYCLE: VehicleTypeRate(hourly_rate_cents=100, daily_max_cents=1000),
    VehicleType.EV: VehicleTypeRate(hourly_rate_cents=0),
}


async def test_a_new_rate_has_no_tariffs(db: Prisma) -> None:
    garage = await new_garage(db)
    rate = await Database(db).transaction(lambda unit: unit.rates.create(garage.id), actor=ACTOR)
    assert (vehicle_type_rates_of(rate), flat_rates_of(rate)) == ({}, ())


async def test_put_stores_the_tariffs_and_the_readers_give_them_back_typed(db: Prisma) -> None:
    garage = await new_garage(db)
    database = Database(db)
    stored = await database.transaction(
        lambda unit: unit.rates.put(garage.id, DEFAULT_RATE, vehicle_type_rates=OVERRIDES,
                                    flat_rates=[NIGHT, EARLY_BIRD]),
        actor=ACTOR,
    )
    read = await database.rates.get(garage.id)
    assert read is not None
    for rate in (stored, read):
        assert vehicle_type_rates_of(rate) == OVERRIDES
        assert list(vehicle_type_rates_of(rate)) == [VehicleType.MOTORCYCLE, VehicleType.EV, VehicleType.TRUCK]
        assert flat_rates_of(rate) == (NIGHT, EARLY_BIRD)  # in the order put
        assert terms_of(rate) == DEFAULT_RATE
    # the columns: only the figures an override sets, days in week order, times as HH:MM
    assert json.loads(read.vehicleTypeRates) == {
        "MOTORCYCLE": {"hourlyRateCents": 100, "dailyMaxCents": 1000},
        "EV": {"hourlyRateCents": 0},
        "TRUCK": {"dailyMaxCents": 6000},
    }
    assert json.loads(read.flatRates)[1] == {
        "name": "Early bird", "days": ["MON", "FRI"], "entryFrom": "06:00", "entryTo": "09:30", "exitBy": "19:00",
        "amountCents": 1200,
    }


async def test_put_without_tariffs_removes_them_and_the_audit_shows_both_sides(db: Prisma) -> None:
    garage = await new_garage(db)
    database = Database(db)
    with_tariffs = await database.transaction(
        lambda unit: unit.rates.put(garage.id, DEFAULT_RATE, vehicle_type_rates=OVERRIDES, flat_rates=[EARLY_BIRD]),
        actor=ACTOR,
    )
    plain = await database.transaction(lambda unit: unit.rates.put(garage.id, RateValues(400)), actor=ACTOR)
    assert (vehicle_type_rates_of(plain), flat_rates_of(plain)) == ({}, ())
    created, replaced = await rate_audit(db, garage.id)
    assert created == ("CREATE", None, audit_view(with_tariffs, AuditEntity.RATE))
    action, before, after = replaced
    assert action == "UPDATE" and isinstance(before, dict) and isinstance(after, dict)
    assert json.loads(before["flatRates"])[0]["name"] == "Early bird"
    assert json.loads(before["vehicleTypeRates"])["TRUCK"] == {"dailyMaxCents": 6000}
    assert (after["flatRates"], after["vehicleTypeRates"], after["hourlyRateCents"]) == ("[]", "{}", 400)


async def test_the_default_rate_of_a_garage_without_a_row(db: Prisma) -> None:
    garage = await new_garage(db)
    rate = default_rate(garage.id, garage.createdAt)
    assert (rate.garageId, rate.createdAt, rate.updatedAt) == (garage.id, garage.createdAt, garage.createdAt)
    assert terms_of(rate) == DEFAULT_RATE
    assert (vehicle_type_rates_of(rate), flat_rates_of(rate)) == ({}, ())
    assert await Database(db).rates.get(garage.id) is None  # nothing written
