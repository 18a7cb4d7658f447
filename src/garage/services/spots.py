"""Spots: bulk creation within a garage's capacity, (garage, level, number) unique among live
spots, status changes by hand (never OCCUPIED: only check-in/out set that), soft delete."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from garage.errors import Conflict, UniqueViolation, found
from garage.repositories.pagination import Page
from garage.repositories.records import Spot
from garage.repositories.spots import NewSpot, SpotRepository
from garage.repositories.unit_of_work import Database, UnitOfWork
from garage.services.garages import live_garage
from garage.services.spot_numbers import spot_sort_key
from garage.vocabulary import SpotStatus, SpotType

MAX_BULK = 5000
# A bulk of MAX_BULK spots is two statements, but on a busy machine they may outlast the default 5 s.
BULK_TIMEOUT = timedelta(seconds=60)


@dataclass(frozen=True)
class SpotDraft:
    level: int
    number: str
    type: SpotType
    status: SpotStatus = SpotStatus.AVAILABLE


class SpotService:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, garage_id: str, drafts: Sequence[SpotDraft], *, actor: str) -> list[Spot]:
        """All of `drafts` or nothing: one createMany and one bulk audit insert in one transaction."""
        _refuse_repeats(drafts)
        wanted = {(draft.level, draft.number) for draft in drafts}

        async def work(unit: UnitOfWork) -> list[Spot]:
            garage = await live_garage(unit.garages, garage_id)
            spots = unit.spots
            live = await spots.count_live(garage_id)
            if live + len(drafts) > garage.capacity:
                raise Conflict(
                    f"The garage holds at most {garage.capacity} spots and has {live}; {len(drafts)} more do not fit",
                    code="CAPACITY_EXCEEDED",
                    details={"capacity": garage.capacity, "liveSpots": live, "requested": len(drafts)},
                )
            taken = [
                spot
                for spot in await spots.live_with_numbers(garage_id, [draft.number for draft in drafts])
                if (spot.level, spot.number) in wanted
            ]
            if taken:
                raise _duplicates([(spot.level, spot.number) for spot in taken])
            return await spots.create_many(
                garage_id,
                [
                    NewSpot(
                        level=d.level, number=d.number, sort_key=spot_sort_key(d.number), type=d.type, status=d.status
                    )
                    for d in drafts
                ],
            )

        try:
            return await self._db.transaction(work, actor=actor, timeout=BULK_TIMEOUT)
        except UniqueViolation as error:
            # the live (garageId, level, number) partial unique index: a concurrent request won
            raise _duplicates(sorted(wanted)) from error

    async def get(self, spot_id: str) -> Spot:
        return await _live_spot(self._db.spots, spot_id)

    async def list(
        self,
        garage_id: str,
        *,
        level: int | None,
        spot_type: str | None,
        status: str | None,
        limit: int,
        cursor: str | None,
    ) -> Page[Spot]:
        await live_garage(self._db.garages, garage_id)
        return await self._db.spots.list_live(
            garage_id, level=level, spot_type=spot_type, status=status, limit=limit, cursor=cursor
        )

    async def update(self, spot_id: str, changes: dict[str, Any], *, actor: str) -> Spot:
        """`changes`: any of level, number, type, status (never OCCUPIED; callers check roles).

        The status of an OCCUPIED spot belongs to its session: changing it by hand is 409
        SPOT_NOT_AVAILABLE (check the vehicle out instead)."""
        # the (level, number) the latest attempt asked for: what a unique violation is about
        wanted: list[tuple[int, str]] = []

        async def work(unit: UnitOfWork) -> Spot:
            spots = unit.spots
            before = await _live_spot(spots, spot_id)
            status = changes.get("status")
            if status is not None and status != before.status and before.status == SpotStatus.OCCUPIED:
                raise Conflict(
                    "The spot is occupied by an active session; check the vehicle out to free it",
                    code="SPOT_NOT_AVAILABLE",
                    details={"status": before.status},
                )
            row = {name: value for name, value in changes.items() if getattr(before, name) != value}
            if not row:
                return before
            level, number = row.get("level", before.level), row.get("number", before.number)
            wanted[:] = [(level, number)]
            if "level" in row or "number" in row:
                await _refuse_taken(spots, before.garageId, level, number)
                row["sortKey"] = spot_sort_key(number)
            return await spots.update(before, row)

        try:
            return await self._db.transaction(work, actor=actor)
        except UniqueViolation as error:
            raise _duplicates(wanted) from error

    async def delete(self, spot_id: str, *, actor: str) -> None:
        async def work(unit: UnitOfWork) -> None:
            spots = unit.spots
            before = await _live_spot(spots, spot_id)
            if await spots.count_active_sessions(spot_id):
                raise Conflict(
                    "A vehicle is parked on this spot", code="HAS_ACTIVE_SESSIONS", details={"activeSessions": 1}
                )
            await spots.soft_delete(before, datetime.now(UTC))

        await self._db.transaction(work, actor=actor)


def _refuse_repeats(drafts: Sequence[SpotDraft]) -> None:
    """One body naming the same (level, number) twice is refused before the database is asked."""
    repeated = [key for key, seen in Counter((d.level, d.number) for d in drafts).items() if seen > 1]
    if repeated:
        raise _duplicates(repeated, message="The request names a spot more than once")


async def _refuse_taken(spots: SpotRepository, garage_id: str, level: int, number: str) -> None:
    if any(spot.level == level for spot in await spots.live_with_numbers(garage_id, [number])):
        raise _duplicates([(level, number)])


def _duplicates(
    keys: Sequence[tuple[int, str]], *, message: str = "A live spot with this level and number exists"
) -> Conflict:
    return Conflict(
        message,
        code="DUPLICATE_SPOT",
        details={"spots": [{"level": level, "number": number} for level, number in sorted(keys)]},
    )


async def _live_spot(spots: SpotRepository, spot_id: str) -> Spot:
    return found(await spots.get_live(spot_id), f"spot {spot_id}")
