"""Garages, their rate and their occupancy. A garage's `capacity` bounds its live spots; deleting a
garage soft-deletes it and its spots, unless a session is parked there."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from garage.errors import Conflict, ValidationFailed, found
from garage.repositories.garages import GarageRepository
from garage.repositories.pagination import Page
from garage.repositories.rates import NO_VEHICLE_TYPE_RATES, default_rate
from garage.repositories.records import Garage, Rate
from garage.repositories.spots import SpotCount
from garage.repositories.unit_of_work import Database, UnitOfWork
from garage.vocabulary import (
    SPOT_PREFERENCE,
    FlatRate,
    OccupancyState,
    RateTerms,
    SpotStatus,
    SpotType,
    VehicleType,
    VehicleTypeRate,
)

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
    state: OccupancyState = OccupancyState.OPEN


def occupancy_of(counts: list[SpotCount], *, closed: bool = False) -> Occupancy:
    """Totals overall, per level (ascending) and per type (in the contract's type order), and the
    state signs show (API-operations.md "Garage state")."""
    occupancy = Occupancy(totals=StatusTotals())
    by_type: dict[str, StatusTotals] = {}
    for row in counts:
        occupancy.totals.add(row.status, row.count)
        occupancy.by_level.setdefault(row.level, StatusTotals()).add(row.status, row.count)
        by_type.setdefault(row.type, StatusTotals()).add(row.status, row.count)
    occupancy.by_level = dict(sorted(occupancy.by_level.items()))
    occupancy.by_type = {name: by_type[name] for name in sorted(by_type, key=_type_rank)}
    occupancy.state = state_of(closed, occupancy.by_type)
    return occupancy


def state_of(closed: bool, by_type: dict[str, StatusTotals]) -> OccupancyState:
    """CLOSED when closed, else FULL when no AVAILABLE spot takes a CAR, else OPEN."""
    if closed:
        return OccupancyState.CLOSED
    car_spots = SPOT_PREFERENCE[VehicleType.CAR]
    if any(by_type[spot_type].available for spot_type in car_spots if spot_type in by_type):
        return OccupancyState.OPEN
    return OccupancyState.FULL


def _type_rank(spot_type: str) -> int:
    return SPOT_TYPES.index(spot_type) if spot_type in SPOT_TYPES else len(SPOT_TYPES)


class GarageService:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self, *, name: str, address: str, timezone: str, currency: str, capacity: int, actor: str
    ) -> Garage:
        """The garage and its default rate, in one transaction."""

        async def work(unit: UnitOfWork) -> Garage:
            garage = await unit.garages.create(
                name=name, address=address, timezone=timezone, currency=currency, capacity=capacity
            )
            await unit.rates.create(garage.id)
            return garage

        return await self._db.transaction(work, actor=actor)

    async def get(self, garage_id: str) -> Garage:
        return await live_garage(self._db.garages, garage_id)

    async def list(self, *, limit: int, cursor: str | None) -> Page[Garage]:
        return await self._db.garages.list_live(limit=limit, cursor=cursor)

    async def update(self, garage_id: str, changes: dict[str, Any], *, actor: str) -> Garage:
        """`changes`: model field names (name, address, timezone, currency, capacity) to new values."""

        async def work(unit: UnitOfWork) -> Garage:
            before = await live_garage(unit.garages, garage_id)
            if not changes:
                return before
            capacity = changes.get("capacity")
            if capacity is not None and capacity < before.capacity:
                live_spots = await unit.spots.count_live(garage_id)
                if capacity < live_spots:
                    raise Conflict(
                        f"The garage has {live_spots} spots; capacity cannot go below that",
                        code="CAPACITY_EXCEEDED",
                        details={"capacity": capacity, "liveSpots": live_spots},
                    )
            return await unit.garages.update(before, changes)

        return await self._db.transaction(work, actor=actor)

    async def delete(self, garage_id: str, *, actor: str) -> None:
        """Soft-deletes the garage and its spots (history keeps referring to them)."""

        async def work(unit: UnitOfWork) -> None:
            garages = unit.garages
            before = await live_garage(garages, garage_id)
            active = await garages.count_active_sessions(garage_id)
            if active:
                raise Conflict(
                    f"The garage has {active} active sessions",
                    code="HAS_ACTIVE_SESSIONS",
                    details={"activeSessions": active},
                )
            await garages.soft_delete(before, datetime.now(UTC))

        await self._db.transaction(work, actor=actor)

    async def occupancy(self, garage_id: str) -> Occupancy:
        garage = await live_garage(self._db.garages, garage_id)
        return occupancy_of(await self._db.spots.counts(garage_id), closed=garage.closed)

    async def rate(self, garage_id: str) -> Rate:
        garage = await live_garage(self._db.garages, garage_id)
        rate = await self._db.rates.get(garage_id)
        if rate is None:  # every new garage gets a row; imported data may lack one: the defaults apply
            return default_rate(garage_id, garage.createdAt)
        return rate

    async def put_rate(
        self,
        garage_id: str,
        values: RateTerms,
        *,
        vehicle_type_rates: Mapping[VehicleType, VehicleTypeRate] = NO_VEHICLE_TYPE_RATES,
        flat_rates: Sequence[FlatRate] = (),
        actor: str,
    ) -> Rate:
        """Replaces the whole rate: tariffs not given are removed (API-operations.md "Precise points")."""
        problems = flat_rate_problems(flat_rates)
        if problems:
            raise ValidationFailed("The flat rates are not valid", details={"fields": problems})

        async def work(unit: UnitOfWork) -> Rate:
            await live_garage(unit.garages, garage_id)
            return await unit.rates.put(garage_id, values, vehicle_type_rates=vehicle_type_rates, flat_rates=flat_rates)

        return await self._db.transaction(work, actor=actor)


MAX_FLAT_RATES = 20
"""The most flat rates one rate may hold (routes declare it): each is tried against every stay, and
a garage runs a few (early bird, evening, weekend)."""


def flat_rate_problems(flat_rates: Sequence[FlatRate]) -> dict[str, str]:
    """What makes flat rates unusable, by the request's field path: an entry window that does not
    end after it starts (it would match no entry), a name used twice (the quote names the flat rate
    it charged, so it must say which)."""
    problems: dict[str, str] = {}
    seen: set[str] = set()
    for index, flat in enumerate(flat_rates):
        if flat.entry_from >= flat.entry_to:
            problems[f"flatRates.{index}.entryTo"] = "must be after entryFrom"
        if flat.name in seen:
            problems[f"flatRates.{index}.name"] = f"{flat.name!r} names an earlier flat rate too"
        seen.add(flat.name)
    return problems


async def live_garage(garages: GarageRepository, garage_id: str) -> Garage:
    return found(await garages.get_live(garage_id), f"garage {garage_id}")
