"""A garage's rate (one row per garage, created with the garage, replaced by PUT); its terms and
defaults are garage.vocabulary.RateTerms / DEFAULT_RATE. Its tariffs (API-operations.md "Tariffs")
are JSON text in two columns, written and read only here: `vehicle_type_rates_of` and
`flat_rates_of` give them to the fee rule as the vocabulary's VehicleTypeRate and FlatRate."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, time
from types import MappingProxyType
from typing import Any

from prisma.models import Rate
from prisma.types import RateCreateWithoutRelationsInput

from garage.db import insert_rows
from garage.repositories.base import Repository
from garage.vocabulary import (
    DEFAULT_RATE,
    AuditAction,
    AuditEntity,
    FlatRate,
    RateTerms,
    VehicleType,
    VehicleTypeRate,
    Weekday,
)

NO_VEHICLE_TYPE_RATES: Mapping[VehicleType, VehicleTypeRate] = MappingProxyType({})


def terms_of(row: Rate) -> RateTerms:
    """A Rate row as the fee rule reads it."""
    return RateTerms(
        hourly_rate_cents=row.hourlyRateCents,
        increment_minutes=row.incrementMinutes,
        grace_minutes=row.graceMinutes,
        daily_max_cents=row.dailyMaxCents,
        lost_ticket_fee_cents=row.lostTicketFeeCents,
    )


def vehicle_type_rates_of(row: Rate) -> dict[VehicleType, VehicleTypeRate]:
    """The rate's per vehicle type overrides, in the vocabulary's vehicle type order."""
    stored: dict[str, dict[str, int]] = json.loads(row.vehicleTypeRates)
    return {
        vehicle_type: VehicleTypeRate(
            hourly_rate_cents=stored[vehicle_type].get("hourlyRateCents"),
            daily_max_cents=stored[vehicle_type].get("dailyMaxCents"),
        )
        for vehicle_type in VehicleType
        if vehicle_type in stored
    }


def flat_rates_of(row: Rate) -> tuple[FlatRate, ...]:
    """The rate's flat rates, in the order they were put."""
    return tuple(
        FlatRate(
            name=item["name"],
            days=frozenset(Weekday(day) for day in item["days"]),
            entry_from=time.fromisoformat(item["entryFrom"]),
            entry_to=time.fromisoformat(item["entryTo"]),
            exit_by=time.fromisoformat(item["exitBy"]),
            amount_cents=item["amountCents"],
        )
        for item in json.loads(row.flatRates)
    )


def wall_time(value: time) -> str:
    """A flat rate's time as stored and as the API shows it: "HH:MM"."""
    return value.strftime("%H:%M")


def _vehicle_type_rates_json(rates: Mapping[VehicleType, VehicleTypeRate]) -> str:
    # only the figures an override sets: a missing one keeps the garage's
    return json.dumps(
        {
            str(vehicle_type): {
                name: cents
                for name, cents in (
                    ("hourlyRateCents", rates[vehicle_type].hourly_rate_cents),
                    ("dailyMaxCents", rates[vehicle_type].daily_max_cents),
                )
                if cents is not None
            }
            for vehicle_type in VehicleType
            if vehicle_type in rates
        },
        separators=(",", ":"),
    )


def _flat_rates_json(flat_rates: Sequence[FlatRate]) -> str:
    items: list[dict[str, Any]] = [
        {
            "name": flat.name,
            "days": [str(day) for day in Weekday if day in flat.days],
            "entryFrom": wall_time(flat.entry_from),
            "entryTo": wall_time(flat.entry_to),
            "exitBy": wall_time(flat.exit_by),
            "amountCents": flat.amount_cents,
        }
        for flat in flat_rates
    ]
    return json.dumps(items, separators=(",", ":"), ensure_ascii=False)


class RateRepository(Repository):
    async def get(self, garage_id: str) -> Rate | None:
        return await self._db.rate.find_unique(where={"garageId": garage_id})

    async def create(self, garage_id: str, values: RateTerms = DEFAULT_RATE) -> Rate:
        rate = await self._writing().rate.create(data={"garageId": garage_id, **values.as_row()})  # type: ignore[typeddict-item]
        self._record(AuditAction.CREATE, AuditEntity.RATE, garage_id, after=rate)
        return rate

    async def put(
        self,
        garage_id: str,
        values: RateTerms,
        *,
        vehicle_type_rates: Mapping[VehicleType, VehicleTypeRate] = NO_VEHICLE_TYPE_RATES,
        flat_rates: Sequence[FlatRate] = (),
    ) -> Rate:
        """Replaces the garage's whole rate, tariffs included (none given: none kept); creates it
        when the garage has none, e.g. imported data."""
        before = await self.get(garage_id)
        row: dict[str, Any] = {
            **values.as_row(),
            "vehicleTypeRates": _vehicle_type_rates_json(vehicle_type_rates),
            "flatRates": _flat_rates_json(flat_rates),
        }
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


def default_rate(garage_id: str, since: datetime) -> Rate:
    """The rate of a garage without a rate row (imported data may lack one): the defaults, no
    tariffs, as if created at `since`."""
    return Rate.model_validate(
        {
            "garageId": garage_id,
            "createdAt": since,
            "updatedAt": since,
            **DEFAULT_RATE.as_row(),
            "vehicleTypeRates": _vehicle_type_rates_json(NO_VEHICLE_TYPE_RATES),
            "flatRates": _flat_rates_json(()),
        }
    )
