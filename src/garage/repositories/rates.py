"""A garage's rate (one row per garage, created with the garage, replaced by PUT); its terms and
defaults are garage.vocabulary.RateTerms / DEFAULT_RATE."""

from __future__ import annotations

from collections.abc import Sequence

from prisma import Prisma
from prisma.models import Rate
from prisma.types import RateCreateWithoutRelationsInput

from garage.db import insert_rows
from garage.vocabulary import DEFAULT_RATE, RateTerms


def terms_of(row: Rate) -> RateTerms:
    """A Rate row as the fee rule reads it."""
    return RateTerms(
        hourly_rate_cents=row.hourlyRateCents,
        increment_minutes=row.incrementMinutes,
        grace_minutes=row.graceMinutes,
        daily_max_cents=row.dailyMaxCents,
        lost_ticket_fee_cents=row.lostTicketFeeCents,
    )


class RateRepository:
    def __init__(self, db: Prisma) -> None:
        self._db = db

    async def get(self, garage_id: str) -> Rate | None:
        return await self._db.rate.find_unique(where={"garageId": garage_id})

    async def create(self, garage_id: str, values: RateTerms = DEFAULT_RATE) -> Rate:
        return await self._db.rate.create(data={"garageId": garage_id, **values.as_row()})  # type: ignore[typeddict-item]

    async def put(self, garage_id: str, values: RateTerms) -> Rate:
        """Replaces the garage's rate (creates it when the garage has none, e.g. imported data)."""
        row = values.as_row()
        return await self._db.rate.upsert(
            where={"garageId": garage_id},
            data={"create": {"garageId": garage_id, **row}, "update": row},  # type: ignore[typeddict-item]
        )

    async def insert_many(self, rows: Sequence[RateCreateWithoutRelationsInput]) -> int:
        """Bulk import: ONE createMany."""
        return await insert_rows(self._db, "Rate", rows)
