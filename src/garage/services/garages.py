"""Garages, their rate and their occupancy. A garage's `capacity` bounds its live spots; deleting a
garage soft-deletes it and its spots, unless a session is parked there."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from prisma import Prisma
from prisma.models import Garage, Rate

from garage.db import transaction
from garage.errors import Conflict, found
from garage.repositories.audit import AuditRepository
from garage.repositories.garages import GarageRepository
from garage.repositories.pagination import Page
from garage.repositories.rates import RateRepository
from garage.repositories.spots import SpotCount, SpotRepository
from garage.vocabulary import DEFAULT_RATE, RateTerms, SpotStatus, SpotType

SPOT_TYPES = tuple(SpotType)
SPOT_STATUSES = tuple(SpotStatus)


@dataclass
class StatusTotals:
    total: int = 0
    available: int = 0
    occupied: int = 0
    reserved: int = 0
    maintenance: int = 0

    def add(self, status: str, count: int) -> None:
        self.total += count
        name = status.lower()
        setattr(self, name, getattr(self, name) + count)


@dataclass
class Occupancy:
    totals: StatusTotals
    by_level: dict[int, StatusTotals] = field(default_factory=dict)
    by_type: dict[str, StatusTotals] = field(default_factory=dict)


def occupancy_of(counts: list[SpotCount]) -> Occupancy:
    """Totals overall, per level (ascending) and per type (in the contract's type order)."""
    occupancy = Occupancy(totals=StatusTotals())
    by_type: dict[str, StatusTotals] = {}
    for row in counts:
        occupancy.totals.add(row.status, row.count)
        occupancy.by_level.setdefault(row.level, StatusTotals()).add(row.status, row.count)
        by_type.setdefault(row.type, StatusTotals()).add(row.status, row.count)
    occupancy.by_level = dict(sorted(occupancy.by_level.items()))
    occupancy.by_type = {name: by_type[name] for name in sorted(by_type, key=_type_rank)}
    return occupancy


def _type_rank(spot_type: str) -> int:
    return SPOT_TYPES.index(spot_type) if spot_type in SPOT_TYPES else len(SPOT_TYPES)


class GarageService:
    def __init__(self, db: Prisma) -> None:
        self._db = db

    async def create(
        self, *, name: str, address: str, timezone: str, currency: str, capacity: int, actor: str
    ) -> Garage:
        """The garage and its default rate, in one transaction."""

        async def work(tx: Prisma) -> Garage:
            garage = await GarageRepository(tx).create(
                name=name, address=address, timezone=timezone, currency=currency, capacity=capacity
            )
            rate = await RateRepository(tx).create(garage.id)
            audit = AuditRepository(tx)
            await audit.record(
                actor=actor, action="CREATE", entity="Garage", entity_id=garage.id, after=garage_view(garage)
            )
            await audit.record(actor=actor, action="CREATE", entity="Rate", entity_id=garage.id, after=rate_view(rate))
            return garage

        return await transaction(self._db, work)

    async def get(self, garage_id: str) -> Garage:
        return await live_garage(GarageRepository(self._db), garage_id)

    async def list(self, *, limit: int, cursor: str | None) -> Page[Garage]:
        return await GarageRepository(self._db).list_live(limit=limit, cursor=cursor)

    async def update(self, garage_id: str, changes: dict[str, Any], *, actor: str) -> Garage:
        """`changes`: model field names (name, address, timezone, currency, capacity) to new values."""

        async def work(tx: Prisma) -> Garage:
            garages = GarageRepository(tx)
            before = await live_garage(garages, garage_id)
            if not changes:
                return before
            capacity = changes.get("capacity")
            if capacity is not None and capacity < before.capacity:
                live_spots = await SpotRepository(tx).count_live(garage_id)
                if capacity < live_spots:
                    raise Conflict(
                        f"The garage has {live_spots} spots; capacity cannot go below that",
                        code="CAPACITY_EXCEEDED",
                        details={"capacity": capacity, "liveSpots": live_spots},
                    )
            after = await garages.update(garage_id, changes)
            await AuditRepository(tx).record(
                actor=actor,
                action="UPDATE",
                entity="Garage",
                entity_id=garage_id,
                before=garage_view(before),
                after=garage_view(after),
            )
            return after

        return await transaction(self._db, work)

    async def delete(self, garage_id: str, *, actor: str) -> None:
        """Soft-deletes the garage and its spots (history keeps referring to them)."""

        async def work(tx: Prisma) -> None:
            garages = GarageRepository(tx)
            before = await live_garage(garages, garage_id)
            active = await garages.count_active_sessions(garage_id)
            if active:
                raise Conflict(
                    f"The garage has {active} active sessions",
                    code="HAS_ACTIVE_SESSIONS",
                    details={"activeSessions": active},
                )
            now = datetime.now(UTC)
            after = await garages.soft_delete(garage_id, now)
            spots_deleted = await SpotRepository(tx).soft_delete_all_of(garage_id, now)
            await AuditRepository(tx).record(
                actor=actor,
                action="DELETE",
                entity="Garage",
                entity_id=garage_id,
                before=garage_view(before),
                after={**garage_view(after), "spotsDeleted": spots_deleted},
            )

        await transaction(self._db, work)

    async def occupancy(self, garage_id: str) -> Occupancy:
        await live_garage(GarageRepository(self._db), garage_id)
        return occupancy_of(await SpotRepository(self._db).counts(garage_id))

    async def rate(self, garage_id: str) -> Rate:
        garage = await live_garage(GarageRepository(self._db), garage_id)
        rate = await RateRepository(self._db).get(garage_id)
        if rate is None:  # every new garage gets a row; imported data may lack one: the defaults apply
            return Rate.model_validate(
                {
                    "garageId": garage_id,
                    "createdAt": garage.createdAt,
                    "updatedAt": garage.createdAt,
                    **DEFAULT_RATE.as_row(),
                }
            )
        return rate

    async def put_rate(self, garage_id: str, values: RateTerms, *, actor: str) -> Rate:
        async def work(tx: Prisma) -> Rate:
            await live_garage(GarageRepository(tx), garage_id)
            rates = RateRepository(tx)
            before = await rates.get(garage_id)
            after = await rates.put(garage_id, values)
            await AuditRepository(tx).record(
                actor=actor,
                action="UPDATE" if before else "CREATE",
                entity="Rate",
                entity_id=garage_id,
                before=rate_view(before) if before else None,
                after=rate_view(after),
            )
            return after

        return await transaction(self._db, work)


async def live_garage(garages: GarageRepository, garage_id: str) -> Garage:
    return found(await garages.get_live(garage_id), f"garage {garage_id}")


def garage_view(garage: Garage) -> dict[str, Any]:
    return garage.model_dump(mode="json", exclude={"spots", "sessions", "payments", "rate"})


def rate_view(rate: Rate) -> dict[str, Any]:
    return rate.model_dump(mode="json", exclude={"garage", "createdAt", "updatedAt"})
