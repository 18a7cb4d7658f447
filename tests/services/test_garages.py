"""GarageService and SpotService rules below HTTP: rates of garages without a rate row, occupancy
totals, and the audit trail of each write."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from prisma import Prisma

from garage.errors import Conflict, NotFound
from garage.repositories.unit_of_work import Database
from garage.vocabulary import RateTerms as RateValues
from garage.vocabulary import SpotType
from garage.services.garages import GarageService
from garage.services.spots import SpotDraft, SpotService

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def audit_actions(db: Prisma, entity: str, entity_id: str) -> list[str]:
    page = await Database(db).audit.list(entity=entity, entity_id=entity_id, since=None, until=None, limit=50, cursor=None)
    return [entry.action for entry in page.items]


async def audit_rows(db: Prisma, entity: str, entity_id: str) -> list[tuple[str, str, Any, Any]]:
    """(actor, action, before, after) of the entity's entries, oldest first."""
    page = await Database(db).audit.list(entity=entity, entity_id=entity_id, since=None, until=None, limit=50, cursor=None)
    return [
        (row.actor, row.action, row.before and json.loads(row.before), row.after and json.loads(row.after))
        for row in reversed(page.items)
    ]


def columns(record: Any, *, without: set[str]) -> dict[str, Any]:
    """A record as the services' audit views showed it before the repositories recorded their own
    entries: its JSON dump without the named relations and internal columns."""
    view: dict[str, Any] = record.model_dump(mode="json", exclude=without)
    return view


GARAGE = {"spots", "sessions", "payments", "rate", "permits", "deniedPlates", "validators"}
RATE = {"garage", "createdAt", "updatedAt"}
SPOT = {"garage", "sessions", "sortKey"}


async def test_audit_rows_of_garage_rate_and_spot_writes_keep_their_content(db: Prisma) -> None:
    database = Database(db)
    garages, spots = GarageService(database), SpotService(database)
    garage = await garages.create(name=f"g {uuid.uuid4().hex[:6]}", address="a", timezone="UTC", currency="USD",
                                  capacity=5, actor="k1")
    rate = await garages.rate(garage.id)
    renamed = await garages.update(garage.id, {"name": "renamed"}, actor="k2")
    assert await garages.update(garage.id, {}, actor="k2") == renamed  # nothing to change, nothing audited
    new_rate = await garages.put_rate(garage.id, RateValues(hourly_rate_cents=480), actor="k3")
    one, two = await spots.create(garage.id, [SpotDraft(level=0, number="1", type=SpotType.EV),
                                              SpotDraft(level=0, number="2", type=SpotType.EV)], actor="k4")
    moved = await spots.update(one.id, {"number": "10"}, actor="k5")
    await spots.delete(two.id, actor="k6")
    deleted_two = await db.spot.find_unique(where={"id": two.id})
    await garages.delete(garage.id, actor="k7")
    deleted = await db.garage.find_unique(where={"id": garage.id})
    deleted_one = await db.spot.find_unique(where={"id": one.id})
    assert deleted is not None and deleted_one is not None and deleted_two is not None
    assert deleted_one.deletedAt is not None

    assert await audit_rows(db, "Garage", garage.id) == [
        ("k1", "CREATE", None, columns(garage, without=GARAGE)),
        ("k2", "UPDATE", columns(garage, without=GARAGE), columns(renamed, without=GARAGE)),
        ("k7", "DELETE", columns(renamed, without=GARAGE), {**columns(deleted, without=GARAGE), "spotsDeleted": 1}),
    ]
    assert await audit_rows(db, "Rate", garage.id) == [
        ("k1", "CREATE", None, columns(rate, without=RATE)),
        ("k3", "UPDATE", columns(rate, without=RATE), columns(new_rate, without=RATE)),
    ]
    assert await audit_rows(db, "Spot", one.id) == [
        ("k4", "CREATE", None, columns(one, without=SPOT)),
        ("k5", "UPDATE", columns(one, without=SPOT), columns(moved, without=SPOT)),
    ]
    assert await audit_rows(db, "Spot", two.id) == [
        ("k4", "CREATE", None, columns(two, without=SPOT)),
        ("k6", "DELETE", columns(two, without=SPOT), columns(deleted_two, without=SPOT)),
    ]


async def test_create_writes_garage_rate_and_two_audit_rows(db: Prisma) -> None:
    garage = await GarageService(Database(db)).create(
        name=f"g {uuid.uuid4().hex[:6]}", address="a", timezone="UTC", currency="USD", capacity=5, actor="admin-key"
    )
    rate = await GarageService(Database(db)).rate(garage.id)
    assert (rate.hourlyRateCents, rate.incrementMinutes, rate.graceMinutes) == (300, 15, 10)
    assert await audit_actions(db, "Garage", garage.id) == ["CREATE"]
    assert await audit_actions(db, "Rate", garage.id) == ["CREATE"]


async def test_a_garage_without_a_rate_row_reads_the_defaults_and_put_creates_it(db: Prisma) -> None:
    # imported data may lack a rate row: the repository creates a bare garage like an import would
    bare = await Database(db).transaction(
        lambda unit: unit.garages.create(name="imported", address="a", timezone="UTC", currency="USD", capacity=1),
        actor="import",
    )
    service = GarageService(Database(db))
    rate = await service.rate(bare.id)
    assert (rate.garageId, rate.hourlyRateCents, rate.dailyMaxCents, rate.lostTicketFeeCents) == (bare.id, 300, 2500, 5000)
    created = await service.put_rate(bare.id, RateValues(hourly_rate_cents=120), actor="admin-key")
    assert created.hourlyRateCents == 120
    assert await audit_actions(db, "Rate", bare.id) == ["CREATE"]


async def test_failed_writes_leave_no_audit_row(db: Prisma) -> None:
    service = GarageService(Database(db))
    garage = await service.create(name="small", address="a", timezone="UTC", currency="USD", capacity=2, actor="k")
    spots = SpotService(Database(db))
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
        await SpotService(Database(db)).create(
            "no-such-garage", [SpotDraft(level=1, number="5", type=SpotType.EV), SpotDraft(level=1, number="5", type=SpotType.LARGE)],
            actor="k",
        )
    assert repeated.value.code == "DUPLICATE_SPOT"
    assert repeated.value.details == {"spots": [{"level": 1, "number": "5"}]}
