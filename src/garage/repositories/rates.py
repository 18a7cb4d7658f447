"""A garage's rate (one row per garage, created with the garage, replaced by PUT)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from prisma import Prisma
from prisma.models import Rate
from prisma.types import RateCreateWithoutRelationsInput

from garage.db import insert_rows


@dataclass(frozen=True)
class RateValues:
    hourly_rate_cents: int = 300
    increment_minutes: int = 15
    grace_minutes: int = 10
    daily_max_cents: int = 2500
    lost_ticket_fee_cents: int = 5000

    def as_row(self) -> dict[str, int]:
        return {
            "hourlyRateCents": self.hourly_rate_cents,
            "incrementMinutes": self.increment_minutes,
            "graceMinutes": self.grace_minutes,
            "dailyMaxCents": self.daily_max_cents,
            "lostTicketFeeCents": self.lost_ticket_fee_cents,
        }


DEFAULT_RATE = RateValues()
"""What a new garage gets (API.md: 300, 15, 10, 2500, 5000)."""


class RateRepository:
    def __init__(self, db: Prisma) -> None:
        self._db = db

    async def get(self, garage_id: str) -> Rate | None:
        return await self._db.rate.find_unique(where={"garageId": garage_id})

    async def create(self, garage_id: str, values: RateValues = DEFAULT_RATE) -> Rate:
        return await self._db.rate.create(data={"garageId": garage_id, **values.as_row()})  # type: ignore[typeddict-item]

    async def put(self, garage_id: str, values: RateValues) -> Rate:
        """Replaces the garage's rate (creates it when the garage has none, e.g. imported data)."""
        row = values.as_row()
        return await self._db.rate.upsert(
            where={"garageId": garage_id},
            data={"create": {"garageId": garage_id, **row}, "update": row},  # type: ignore[typeddict-item]
        )

    async def insert_many(self, rows: Sequence[RateCreateWithoutRelationsInput]) -> int:
        """Bulk import: ONE createMany."""
        return await insert_rows(self._db, "Rate", rows)
