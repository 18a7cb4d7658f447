"""GarageService and SpotService rules below HTTP: rates of garages without a rate row, occupancy
totals, and the audit trail of each write."""

from __future__ import annotations

import uuid

import pytest
from prisma import Prisma

from garage.errors import Conflict, NotFound
from garage.repositories.audit import AuditRepository
from garage.repositories.garages import GarageRepository
from garage.vocabulary import RateTerms as RateValues
from garage.vocabulary import SpotType
from garage.services.garages import GarageService
from garage.services.spots import SpotDraft, SpotService

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def audit_actions(db: Prisma, entity: str, entity_id: str) -> list[str]:
    page = await AuditRepository(db).list(entity=entity, entity_id=entity_id, since=None, until=None, limit=50, cursor=None)
    return [entry.action for entry in page.items]


async def test_create_writes_garage_rate_and_two_audit_rows(db: Prisma) -> None:
    garage = await GarageService(db).create(
        name=f"g {uuid.uuid4().hex[:6]}", address="a", timezone="UTC", currency="USD", capacity=5, actor="admin-key"
    )
    rate = await GarageService(db).rate(garage.id)
    assert (rate.hourlyRateCents, rate.incrementMinutes, rate.graceMinutes) == (300, 15, 10)
    assert await audit_actions(db, "Garage", garage.id) == ["CREATE"]
    assert await audit_actions(db, "Rate", garage.id) == ["CREATE"]


async def test_a_garage_without_a_rate_row_reads_the_defaults_and_put_creates_it(db: Prisma) -> None:
    # imported data may lack a rate row: the repository creates a bare garage like an import would
    bare = await GarageRepository(db).create(name="imported", address="a", timezone="UTC", currency="USD", capacity=1)
    service = GarageService(db)
    rate = await service.rate(bare.id)
    assert (rate.garageId, rate.hourlyRateCents, rate.dailyMaxCents, rate.lostTicketFeeCents) == (bare.id, 300, 2500, 5000)
    created = await service.put_rate(bare.id, RateValues(hourly_rate_cents=120), actor="admin-key")
    assert created.hourlyRateCents == 120
    assert await audit_actions(db, "Rate", bare.id) == ["CREATE"]


async def test_failed_writes_leave_no_audit_row(db: Prisma) -> None:
    service = GarageService(db)
    garage = await service.create(name="small", address="a", timezone="UTC", currency="USD", capacity=2, actor="k")
    spots = SpotService(db)
    await spots.create(garage.id, [SpotDraft(level=0, number="1", type=SpotType.EV), SpotDraft(level=0, number="2", type=SpotType.EV)], actor="k")
    with pytest.raises(Conflict) as capacity:
        await service.update(garage.id, {"capacity": 1}, actor="k")
    assert capacity.value.code == "CAPACITY_EXCEEDED"
    with pytest.raises(Conflict) as full:
        await spots.create(garage.id, [SpotDraft(level=0, number="3", type=SpotType.EV)], actor="k")
    assert full.value.code == "CAPACITY_EXCEEDED"
    assert await audit_actions(db, "Garage", garage.id) == ["CREATE"]
    with pytest.raises(NotFound):
        await service.update("nope", {"name": "x"}, actor="k")


async def test_spot_drafts_repeating_a_number_are_refused_before_any_query(db: Prisma) -> None:
    with pytest.raises(Conflict) as repeated:
        await SpotService(db).create(
            "no-such-garage", [SpotDraft(level=1, number="5", type=SpotType.EV), SpotDraft(level=1, number="5", type=SpotType.LARGE)],
            actor="k",
        )
    assert repeated.value.code == "DUPLICATE_SPOT"
    assert repeated.value.details == {"spots": [{"level": 1, "number": "5"}]}
