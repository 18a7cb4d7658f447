"""A garage's rate (one row per garage, created with the garage, replaced by PUT); its terms and
defaults are garage.vocabulary.RateTerms / DEFAULT_RATE."""

from __future__ import annotations

from collections.abc import Sequence

from prisma.models import Rate
from prisma.types import RateCreateWithoutRelationsInput

from garage.db import insert_rows
from garage.repositories.base import Repository
from garage.vocabulary import DEFAULT_RATE, AuditAction, AuditEntity, RateTerms


def terms_of(row: Rate) -> RateTerms:
    """A Rate row as the fee rule reads it."""
    return RateTerms(
        hourly_rate_cents=row.hourlyRateCents,
        increment_minutes=row.incrementMinutes,
        grace_minutes=row.graceMinutes,
        daily_max_cents=row.dailyMaxCents,
        lost_ticket_fee_cents=row.lostTicketFeeCents,
    )


class RateRepository(Repository):
    async def get(self, garage_id: str) -> Rate | None:
        return await self._db.rate.find_unique(where={"garageId": garage_id})

    async def create(self, garage_id: str, values: RateTerms = DEFAULT_RATE) -> Rate:
        rate = await self._writing().rate.create(data={"garageId": garage_id, **values.as_row()})  # type: ignore[typeddict-item]
        self._record(AuditAction.CREATE, AuditEntity.RATE, garage_id, after=rate)
        return rate

    async def put(self, garage_id: str, values: RateTerms) -> Rate:
        """Replaces the garage's rate (creates it when the garage has none, e.g. imported data)."""
        before = await self.get(garage_id)
        row = values.as_row()
        after = await self._writing().rate.upsert(
            where={"garageId": garage_id},
            data={"create": {"garageId": garage_id, **row}, "update": row},  # type: ignore[typeddict-item]
        )
        action = AuditAction.CREATE if before is None else AuditAction.UPDATE
        self._record(action, AuditEntity.RATE, garage_id, before=before, after=after)
        return after

    async def insert_many(self, rows: Sequence[RateCreateWithoutRelationsInput]) -> int:
        """Bulk import: ONE createMany."""
        self._covered_by_job()
        return await insert_rows(self._writing(), "Rate", rows)
