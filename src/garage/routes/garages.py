"""/garages: garages (admin writes), their occupancy and their rate."""

from __future__ import annotations

import functools
import re
import zoneinfo
from datetime import time
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from garage.repositories.rates import flat_rates_of, vehicle_type_rates_of, wall_time
from garage.repositories.records import Rate
from garage.routes.endpoint import Call, Router
from garage.routes.models import ApiModel, ListQuery, ListResponse, RequestModel, Timestamp, list_response
from garage.services.garages import MAX_FLAT_RATES, Occupancy, StatusTotals
from garage.vocabulary import FlatRate, OccupancyState, RateTerms, Role, SpotType, VehicleType, VehicleTypeRate, Weekday

ROUTER = Router()
"""This module's endpoints (listed in routes/api.py)."""


def _printable(value: str) -> str:
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise ValueError("must not contain control characters")
    return value


Name = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_printable)]
"""Names and addresses: 1 to 200 characters (trimmed)."""

ShortText = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_printable)]
"""Every other string: 1 to 100 characters (trimmed)."""


# Names the system's zone database holds that are not IANA zones a garage could be in.
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})


@functools.cache
def _zone_names() -> frozenset[str]:
    # read once per process: available_timezones() walks the zone database on every call
    return frozenset(zoneinfo.available_timezones() - _NOT_ZONES | {"UTC"})


def _iana_zone(value: str) -> str:
    if value not in _zone_names():
        raise ValueError("must be an IANA time zone name, e.g. Europe/Berlin or UTC")
    return value


TimeZoneName = Annotated[
    str,
    Field(max_length=100, examples=["Europe/Berlin"], description="An IANA time zone name"),
    AfterValidator(_iana_zone),
]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. USD", examples=["USD"])]
Capacity = Annotated[int, Field(strict=True, ge=1, le=100_000, description="The most spots the garage may hold")]
Cents = Annotated[int, Field(strict=True, ge=0, le=1_000_000_000)]
Minutes = Annotated[int, Field(strict=True, ge=0, le=525_600)]


class PatchModel(RequestModel):
    """PATCH bodies: fields left out stay as they are; an explicit null is refused (no field here may be null)."""

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # runs only for fields the client sent (defaults are not validated)
        if value is None:
            raise ValueError("may not be null; leave the field out to keep its value")
        return value

    def changes(self) -> dict[str, Any]:
        """The fields the client sent, by model (camelCase) name."""
        return {(self.model_fields[name].alias or name): getattr(self, name) for name in self.model_fields_set}


class GarageOut(ApiModel, title="Garage"):
    """A garage."""

    id: str
    name: str
    address: str
    timezone: str
    currency: str
    capacity: int = Field(description="The most spots the garage may hold")
    closed: bool = Field(description="Closed to check-ins (409 GARAGE_CLOSED); check-outs and the rest go on")
    created_at: Timestamp
    updated_at: Timestamp


class GarageList(ListResponse[GarageOut]):
    """A page of garages, newest first."""


class CreateGarageIn(RequestModel):
    """A new garage; it gets the default rate."""

    model_config = ConfigDict(
        title="CreateGarageRequest",
        json_schema_extra={
            "examples": [
                {"name": "Main Street", "address": "1 Main Street", "timezone": "Europe/Berlin", "capacity": 120}
            ]
        },
    )

    name: Name
    address: Name
    timezone: TimeZoneName = "UTC"
    currency: Currency = "USD"
    capacity: Capacity


class UpdateGarageIn(PatchModel):
    """The fields to change; fields left out keep their value."""

    model_config = ConfigDict(
        title="UpdateGarageRequest", json_schema_extra={"examples": [{"name": "Main Street North", "capacity": 150}]}
    )

    name: Name | None = None
    address: Name | None = None
    timezone: TimeZoneName | None = None
    currency: Currency | None = None
    capacity: Capacity | None = None
    closed: bool | None = Field(None, description="Close the garage to check-ins, or open it again")


class StatusTotalsOut(ApiModel):
    total: int = Field(description="Live spots")
    available: int
    occupied: int
    reserved: int
    maintenance: int


class LevelTotalsOut(StatusTotalsOut, title="LevelOccupancy"):
    """The spots of one level, by status."""

    level: int


class TypeTotalsOut(StatusTotalsOut, title="TypeOccupancy"):
    """The spots of one type, by status."""

    type: SpotType


class OccupancyOut(StatusTotalsOut, title="Occupancy"):
    """A garage's live spots by status: overall, per level (ascending) and per type, and what its
    signs show."""

    state: OccupancyState = Field(
        description="CLOSED when the garage is closed, else FULL when no AVAILABLE spot takes a CAR "
        "(COMPACT, STANDARD or LARGE), else OPEN"
    )
    by_level: list[LevelTotalsOut]
    by_type: list[TypeTotalsOut]

    @classmethod
    def of(cls, occupancy: Occupancy) -> OccupancyOut:
        return cls(
            **_totals(occupancy.totals),
            state=occupancy.state,
            by_level=[LevelTotalsOut(level=level, **_totals(totals)) for level, totals in occupancy.by_level.items()],
            by_type=[
                TypeTotalsOut(type=SpotType(name), **_totals(totals)) for name, totals in occupancy.by_type.items()
            ],
        )


def _totals(totals: StatusTotals) -> dict[str, int]:
    return {
        "total": totals.total,
        "available": totals.available,
        "occupied": totals.occupied,
        "reserved": totals.reserved,
        "maintenance": totals.maintenance,
    }


_HH_MM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


def _hh_mm(value: Any) -> Any:
    if isinstance(value, time):  # a model built in Python, not from a request
        return value
    if not isinstance(value, str) or not re.fullmatch(_HH_MM, value):
        raise ValueError('must be a wall time "HH:MM" from 00:00 to 23:59')
    return time.fromisoformat(value)


WallTime = Annotated[
    time,
    BeforeValidator(_hh_mm),
    PlainSerializer(wall_time, return_type=str),
    WithJsonSchema({"type": "string", "pattern": _HH_MM, "examples": ["07:00"]}),
]
"""A flat rate's time of day, "HH:MM", in the garage's timezone."""


class VehicleTypeRateOut(ApiModel, title="VehicleTypeRate"):
    """A vehicle type's own figures; null keeps the garage's."""

    hourly_rate_cents: int | None
    daily_max_cents: int | None


class FlatRateOut(ApiModel, title="FlatRate"):
    """A fixed price for a stay entering on one of `days` in [entryFrom, entryTo) and leaving by the
    first `exitBy` after its entry, in the garage's timezone (early bird, evening rates)."""

    name: str
    days: list[Weekday] = Field(description="In week order, Monday first")
    entry_from: WallTime
    entry_to: WallTime
    exit_by: WallTime
    amount_cents: int


class RateOut(ApiModel, title="Rate"):
    """What parking in a garage costs (the fee rule: API.md, "Fee rule"; API-operations.md "Tariffs")."""

    garage_id: str
    hourly_rate_cents: int
    increment_minutes: int
    grace_minutes: int
    daily_max_cents: int
    lost_ticket_fee_cents: int
    vehicle_type_rates: dict[VehicleType, VehicleTypeRateOut] = Field(
        description="Per vehicle type overrides of hourlyRateCents and dailyMaxCents (by the session's vehicle type)"
    )
    flat_rates: list[FlatRateOut] = Field(description="Flat rates, in the order they were put")

    @classmethod
    def of(cls, rate: Rate) -> RateOut:
        return cls(
            garage_id=rate.garageId,
            hourly_rate_cents=rate.hourlyRateCents,
            increment_minutes=rate.incrementMinutes,
            grace_minutes=rate.graceMinutes,
            daily_max_cents=rate.dailyMaxCents,
            lost_ticket_fee_cents=rate.lostTicketFeeCents,
            vehicle_type_rates={
                vehicle_type: VehicleTypeRateOut(
                    hourly_rate_cents=override.hourly_rate_cents, daily_max_cents=override.daily_max_cents
                )
                for vehicle_type, override in vehicle_type_rates_of(rate).items()
            },
            flat_rates=[
                FlatRateOut(
                    name=flat.name,
                    days=[day for day in Weekday if day in flat.days],
                    entry_from=flat.entry_from,
                    entry_to=flat.entry_to,
                    exit_by=flat.exit_by,
                    amount_cents=flat.amount_cents,
                )
                for flat in flat_rates_of(rate)
            ],
        )


class VehicleTypeRateIn(RequestModel):
    """A vehicle type's own figures: at least one; one left out (or null) keeps the garage's."""

    model_config = ConfigDict(title="VehicleTypeRateRequest")

    hourly_rate_cents: Cents | None = None
    daily_max_cents: Cents | None = None

    @model_validator(mode="after")
    def _overrides_something(self) -> VehicleTypeRateIn:
        if self.hourly_rate_cents is None and self.daily_max_cents is None:
            raise ValueError("must set hourlyRateCents, dailyMaxCents or both")
        return self


def _each_day_once(days: list[Weekday]) -> list[Weekday]:
    if len(set(days)) != len(days):
        raise ValueError("must name each day at most once")
    return days


class FlatRateIn(RequestModel):
    """A flat rate; `entryFrom` must be before `entryTo`, names unique within the rate."""

    model_config = ConfigDict(title="FlatRateRequest")

    name: ShortText
    days: Annotated[list[Weekday], Field(min_length=1, max_length=7), AfterValidator(_each_day_once)]
    entry_from: WallTime
    entry_to: WallTime
    exit_by: WallTime
    amount_cents: Cents

    def as_flat_rate(self) -> FlatRate:
        return FlatRate(
            name=self.name,
            days=frozenset(self.days),
            entry_from=self.entry_from,
            entry_to=self.entry_to,
            exit_by=self.exit_by,
            amount_cents=self.amount_cents,
        )


class PutRateIn(RequestModel):
    """A garage's whole rate."""

    model_config = ConfigDict(
        title="ReplaceRateRequest",
        json_schema_extra={
            "examples": [
                {
                    "hourlyRateCents": 300,
                    "incrementMinutes": 15,
                    "graceMinutes": 10,
                    "dailyMaxCents": 2500,
                    "lostTicketFeeCents": 5000,
                    "vehicleTypeRates": {"MOTORCYCLE": {"hourlyRateCents": 100, "dailyMaxCents": 1000}},
                    "flatRates": [
                        {
                            "name": "Early bird",
                            "days": ["MON", "TUE", "WED", "THU", "FRI"],
                            "entryFrom": "06:00",
                            "entryTo": "09:00",
                            "exitBy": "19:00",
                            "amountCents": 1200,
                        }
                    ],
                }
            ]
        },
    )

    hourly_rate_cents: Cents
    increment_minutes: Annotated[Minutes, Field(ge=1)]
    grace_minutes: Minutes
    daily_max_cents: Cents
    lost_ticket_fee_cents: Cents
    vehicle_type_rates: dict[VehicleType, VehicleTypeRateIn] = Field(
        default_factory=dict, description="Per vehicle type overrides; left out: none"
    )
    flat_rates: list[FlatRateIn] = Field(
        default_factory=list,
        max_length=MAX_FLAT_RATES,
        description=f"At most {MAX_FLAT_RATES}, names unique; left out: none",
    )


@ROUTER.endpoint(
    "GET",
    "/garages",
    role=Role.VIEWER,
    summary="List garages, newest first",
    tag="garages",
    query=ListQuery,
    response=GarageList,
    operation_id="listGarages",
)
async def list_garages(call: Call[None, ListQuery]) -> dict[str, object]:
    page = await call.services.garages.list(limit=call.query.limit, cursor=call.query.after_id)
    return list_response(page, GarageOut)


@ROUTER.endpoint(
    "POST",
    "/garages",
    role=Role.ADMIN,
    summary="Create a garage (it gets the default rate)",
    tag="garages",
    body=CreateGarageIn,
    response=GarageOut,
    status=201,
    operation_id="createGarage",
)
async def create_garage(call: Call[CreateGarageIn, None]) -> GarageOut:
    body = call.body
    garage = await call.services.garages.create(
        name=body.name,
        address=body.address,
        timezone=body.timezone,
        currency=body.currency,
        capacity=body.capacity,
        actor=call.principal.key_id,
    )
    return GarageOut.model_validate(garage)


@ROUTER.endpoint(
    "GET",
    "/garages/{id}",
    role=Role.VIEWER,
    summary="A garage",
    tag="garages",
    response=GarageOut,
    errors=("NOT_FOUND",),
    operation_id="getGarage",
)
async def get_garage(call: Call[None, None]) -> GarageOut:
    return GarageOut.model_validate(await call.services.garages.get(call.path("id")))


@ROUTER.endpoint(
    "PATCH",
    "/garages/{id}",
    role=Role.ADMIN,
    tag="garages",
    body=UpdateGarageIn,
    response=GarageOut,
    summary="Change a garage (capacity may not go below its live spot count: 409 CAPACITY_EXCEEDED)",
    errors=("NOT_FOUND", "CAPACITY_EXCEEDED"),
    operation_id="updateGarage",
)
async def update_garage(call: Call[UpdateGarageIn, None]) -> GarageOut:
    garage = await call.services.garages.update(call.path("id"), call.body.changes(), actor=call.principal.key_id)
    return GarageOut.model_validate(garage)


@ROUTER.endpoint(
    "DELETE",
    "/garages/{id}",
    role=Role.ADMIN,
    tag="garages",
    status=204,
    summary="Soft-delete a garage and its spots (409 HAS_ACTIVE_SESSIONS while a vehicle is parked)",
    errors=("NOT_FOUND", "HAS_ACTIVE_SESSIONS"),
    operation_id="deleteGarage",
)
async def delete_garage(call: Call[None, None]) -> None:
    await call.services.garages.delete(call.path("id"), actor=call.principal.key_id)


@ROUTER.endpoint(
    "GET",
    "/garages/{id}/occupancy",
    role=Role.VIEWER,
    tag="garages",
    response=OccupancyOut,
    summary="Live spots by status: overall, per level (ascending) and per type",
    errors=("NOT_FOUND",),
    operation_id="getGarageOccupancy",
)
async def garage_occupancy(call: Call[None, None]) -> OccupancyOut:
    return OccupancyOut.of(await call.services.garages.occupancy(call.path("id")))


@ROUTER.endpoint(
    "GET",
    "/garages/{id}/rates",
    role=Role.VIEWER,
    summary="The garage's rate",
    tag="rates",
    response=RateOut,
    errors=("NOT_FOUND",),
    operation_id="getRate",
)
async def get_rate(call: Call[None, None]) -> RateOut:
    return RateOut.of(await call.services.garages.rate(call.path("id")))


@ROUTER.endpoint(
    "PUT",
    "/garages/{id}/rates",
    role=Role.ADMIN,
    summary="Replace the garage's whole rate (vehicleTypeRates or flatRates left out: none)",
    tag="rates",
    body=PutRateIn,
    response=RateOut,
    errors=("NOT_FOUND",),
    operation_id="replaceRate",
)
async def put_rate(call: Call[PutRateIn, None]) -> RateOut:
    body = call.body
    values = RateTerms(
        hourly_rate_cents=body.hourly_rate_cents,
        increment_minutes=body.increment_minutes,
        grace_minutes=body.grace_minutes,
        daily_max_cents=body.daily_max_cents,
        lost_ticket_fee_cents=body.lost_ticket_fee_cents,
    )
    rate = await call.services.garages.put_rate(
        call.path("id"),
        values,
        vehicle_type_rates={
            vehicle_type: VehicleTypeRate(
                hourly_rate_cents=override.hourly_rate_cents, daily_max_cents=override.daily_max_cents
            )
            for vehicle_type, override in body.vehicle_type_rates.items()
        },
        flat_rates=[flat.as_flat_rate() for flat in body.flat_rates],
        actor=call.principal.key_id,
    )
    return RateOut.of(rate)
