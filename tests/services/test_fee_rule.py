"""The complete fee rule (API-operations.md "The fee rule, complete", "Tariffs", "Precise points").

Every expected value is worked out by hand in its comment, never by calling the code under test.
The default rate is 300 c/h in 15 min increments (75 c each), 10 min grace, 2500 daily max, 5000
for a lost ticket. Times are written in UTC; the comments give the garage's local reading. Dates:
2026-01-05 is a Monday; US DST starts 2026-03-08 (02:00 EST -> 03:00 EDT) and ends 2026-11-01
(02:00 EDT -> 01:00 EST); UK DST starts 2026-03-29 (01:00 GMT -> 02:00 BST) and ends 2026-10-25
(02:00 BST -> 01:00 GMT).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, time, timedelta
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from garage.services.pricing import (
    Breakdown,
    Discount,
    PermitCover,
    Quote,
    Stay,
    Tariff,
    billable_minutes,
    complete_fee,
    fee_between,
)
from garage.vocabulary import (
    DEFAULT_RATE,
    VALIDATOR_VALUE_RANGES,
    FlatRate,
    RateTerms,
    ValidatorKind,
    VehicleType,
    VehicleTypeRate,
    Weekday,
)

CAR = VehicleType.CAR
WORKDAYS = frozenset({Weekday.MON, Weekday.TUE, Weekday.WED, Weekday.THU, Weekday.FRI})
EVERY_DAY = frozenset(Weekday)

EARLY = FlatRate("Early bird", WORKDAYS, time(6, 0), time(8, 0), time(19, 0), 1200)
EVENING = FlatRate("Evening", EVERY_DAY, time(17, 0), time(23, 0), time(6, 0), 800)

PLAIN = Tariff(DEFAULT_RATE)
FLATS = Tariff(DEFAULT_RATE, flat_rates=(EARLY, EVENING))
OVERRIDES = Tariff(
    DEFAULT_RATE,
    vehicle_type_rates=MappingProxyType(
        {
            VehicleType.MOTORCYCLE: VehicleTypeRate(hourly_rate_cents=100, daily_max_cents=1000),
            VehicleType.VAN: VehicleTypeRate(hourly_rate_cents=600),  # daily max stays 2500
            VehicleType.TRUCK: VehicleTypeRate(daily_max_cents=5000),  # hourly stays 300
        }
    ),
)
NY = "America/New_York"
NY_EVENING = Tariff(DEFAULT_RATE, flat_rates=(EVENING,), timezone=NY)
LONDON_EVENING = Tariff(DEFAULT_RATE, flat_rates=(EVENING,), timezone="Europe/London")
NY_LATE_GAP = Tariff(
    DEFAULT_RATE, flat_rates=(FlatRate("Late", EVERY_DAY, time(20), time(23), time(2, 30), 600),), timezone=NY
)
NY_LATE_TWICE = Tariff(
    DEFAULT_RATE, flat_rates=(FlatRate("Late", EVERY_DAY, time(20), time(23), time(1, 30), 600),), timezone=NY
)
NY_SMALL_HOURS = Tariff(
    DEFAULT_RATE, flat_rates=(FlatRate("Small hours", EVERY_DAY, time(2, 30), time(5), time(12), 500),), timezone=NY
)
NY_NIGHT = Tariff(
    DEFAULT_RATE, flat_rates=(FlatRate("Night", EVERY_DAY, time(0), time(1, 30), time(12), 400),), timezone=NY
)
NY_FRIDAY_NIGHT = Tariff(
    DEFAULT_RATE,
    flat_rates=(FlatRate("Friday night", frozenset({Weekday.FRI}), time(17), time(23), time(6), 700),),
    timezone=NY,
)
DAWN = Tariff(DEFAULT_RATE, flat_rates=(FlatRate("Dawn", WORKDAYS, time(5), time(8), time(6), 100),))
# 250 c/h in whole hours, no grace: one hour is exactly 250
HOURLY_250 = Tariff(RateTerms(250, 60, 0, 5000, 5000))


def utc(month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, second, micro, tzinfo=UTC)


@dataclass(frozen=True)
class Row:
    start: datetime
    end: datetime
    fee: int
    tariff: Tariff = PLAIN
    vehicle: VehicleType = CAR
    permit: PermitCover | None = None
    validation: Discount | None = None
    lost: bool = False
    discount: int = 0
    flat: str | None = None
    more: dict[str, Any] = field(default_factory=dict)  # further breakdown fields to check


def permit_to(valid_to: datetime) -> PermitCover:
    return PermitCover("permit-1", valid_to)


def off(kind: ValidatorKind, value: int = 0) -> Discount:
    return Discount(kind, value)


FREE, AMOUNT, PERCENT, FULL = (
    ValidatorKind.FREE_MINUTES,
    ValidatorKind.AMOUNT_OFF,
    ValidatorKind.PERCENT_OFF,
    ValidatorKind.FULL,
)

ROWS = {
    # --- step 1: permits -------------------------------------------------------------------------
    "permit covers the whole stay": Row(
        utc(1, 5, 8),
        utc(1, 5, 12),
        0,
        permit=permit_to(utc(1, 5, 13)),
        more={"permit_id": "permit-1", "permit_covered_minutes": 240, "chargeable_minutes": 0},
    ),  # 08:00-12:00 all inside the permit: 240 covered minutes, nothing due
    "permit covers the whole stay, lost ticket": Row(
        utc(1, 5, 8),
        utc(1, 5, 12),
        0,
        permit=permit_to(utc(1, 5, 13)),
        lost=True,
        more={"lost_ticket_surcharge_cents": 0},
    ),  # steps 2-5 skipped: no lost-ticket fee
    "permit covers the whole stay, validation shows nothing off": Row(
        utc(1, 5, 8),
        utc(1, 5, 12),
        0,
        permit=permit_to(utc(1, 5, 13)),
        validation=off(FULL),
    ),
    "stay ends exactly at validTo": Row(
        utc(1, 5, 8),
        utc(1, 5, 10),
        0,
        permit=permit_to(utc(1, 5, 10)),
        more={"permit_covered_minutes": 120},
    ),  # "ended by then" includes validTo itself
    "permit ends mid-stay": Row(
        utc(1, 5, 8),
        utc(1, 5, 11),
        300,
        permit=permit_to(utc(1, 5, 10)),
        more={"permit_covered_minutes": 120, "chargeable_minutes": 60, "standard_fee_cents": 300},
    ),  # chargeable 10:00-11:00 = 60 min = 4 increments = 300; covered 08:00-10:00 = 120
    "permit ends mid-stay, rest inside grace": Row(
        utc(1, 5, 8),
        utc(1, 5, 10, 10),
        0,
        permit=permit_to(utc(1, 5, 10)),
        more={"grace_applied": True},
    ),  # 10 chargeable minutes <= grace 10
    "permit ends mid-stay, rest just past grace": Row(
        utc(1, 5, 8),
        utc(1, 5, 10, 10, 0, 1000),
        75,
        permit=permit_to(utc(1, 5, 10)),
        more={"chargeable_minutes": 11},
    ),  # 10 min + 1 ms -> 11 minutes -> 1 increment
    "permit covered minutes round up": Row(
        utc(1, 5, 8),
        utc(1, 5, 9),
        150,
        permit=permit_to(utc(1, 5, 8, 30, 0, 1)),
        more={"permit_covered_minutes": 31, "chargeable_minutes": 30},
    ),  # covered 30 min + 1 us -> 31; chargeable 29 min 59.999999 s -> 30 = 2 increments = 150
    "lost ticket with a permit ending mid-stay": Row(
        utc(1, 5, 8),
        utc(1, 5, 11),
        300,
        permit=permit_to(utc(1, 5, 10)),
        lost=True,
        more={"lost_ticket": True, "lost_ticket_surcharge_cents": 0},
    ),  # 60 chargeable minutes = 300; no lost-ticket minimum for permit-covered sessions
    "permit before an early-bird stay: the flat rate still applies": Row(
        utc(1, 5, 7, 10),
        utc(1, 5, 18),
        1200,
        tariff=FLATS,
        permit=permit_to(utc(1, 5, 8)),
        flat="Early bird",
        more={"permit_covered_minutes": 50, "chargeable_minutes": 600, "standard_fee_cents": 2500},
    ),  # Mon 07:10-18:00; chargeable 08:00-18:00 = 600 min = 40 * 75 = 3000 -> 2500; flat 1200
    "permit leaves less than the flat rate": Row(
        utc(1, 5, 7, 10),
        utc(1, 5, 18),
        600,
        tariff=FLATS,
        permit=permit_to(utc(1, 5, 16)),
        more={"permit_covered_minutes": 530, "flat_rate_cents": None},
    ),  # chargeable 16:00-18:00 = 120 min = 8 * 75 = 600 < 1200; covered 07:10-16:00 = 530
    # --- step 2: minutes, FREE_MINUTES, vehicle types --------------------------------------------------
    "free minutes": Row(
        utc(1, 5, 8),
        utc(1, 5, 9, 1),
        225,
        validation=off(FREE, 30),
        discount=150,
        more={"chargeable_minutes": 61, "billed_minutes": 31},
    ),  # 61 - 30 = 31 min = 3 increments = 225; without: 5 increments = 375; 375 - 225 = 150
    "free minutes push the stay into grace": Row(
        utc(1, 5, 8),
        utc(1, 5, 8, 40),
        0,
        validation=off(FREE, 30),
        discount=225,
        more={"grace_applied": True},
    ),  # 40 - 30 = 10 <= grace; without: 40 min = 3 increments = 225
    "free minutes beyond the stay": Row(
        utc(1, 5, 8),
        utc(1, 5, 8, 20),
        0,
        validation=off(FREE, 60),
        discount=150,
        more={"billed_minutes": 0},
    ),  # 20 - 60 -> 0, not below; without: 20 min = 2 increments = 150
    "motorcycle override": Row(
        utc(1, 5, 8),
        utc(1, 5, 13),
        500,
        tariff=OVERRIDES,
        vehicle=VehicleType.MOTORCYCLE,
        more={"increment_cents": 25, "hourly_rate_cents": 100, "daily_max_cents": 1000},
    ),  # 100 c/h -> 25 per increment; 300 min = 20 increments = 500
    "motorcycle override hits its daily max": Row(
        utc(1, 5, 8),
        utc(1, 5, 20),
        1000,
        tariff=OVERRIDES,
        vehicle=VehicleType.MOTORCYCLE,
    ),  # 720 min = 48 * 25 = 1200 -> capped at 1000
    "motorcycle override over a day": Row(
        utc(1, 5, 8),
        utc(1, 6, 9),
        1100,
        tariff=OVERRIDES,
        vehicle=VehicleType.MOTORCYCLE,
        more={"days": 1, "days_cents": 1000, "rest_cents": 100},
    ),  # 1500 min = 1 day (1000) + 60 min = 4 * 25 = 100
    "car under the same tariff keeps the garage's figures": Row(
        utc(1, 5, 8),
        utc(1, 6, 9),
        2800,
        tariff=OVERRIDES,
    ),  # 1 day 2500 + 4 * 75 = 300
    "van: hourly override only": Row(
        utc(1, 5, 8),
        utc(1, 5, 9),
        600,
        tariff=OVERRIDES,
        vehicle=VehicleType.VAN,
        more={"increment_cents": 150},
    ),  # 600 c/h -> 150 per increment; 4 increments = 600
    "van: daily max not overridden": Row(
        utc(1, 5, 8),
        utc(1, 5, 13),
        2500,
        tariff=OVERRIDES,
        vehicle=VehicleType.VAN,
    ),  # 20 * 150 = 3000 -> garage's 2500
    "truck: daily max override only": Row(
        utc(1, 5, 8),
        utc(1, 5, 18),
        3000,
        tariff=OVERRIDES,
        vehicle=VehicleType.TRUCK,
    ),  # 600 min = 40 * 75 = 3000, under the truck's 5000
    # --- step 3: flat rates --------------------------------------------------------------------------
    "early bird": Row(
        utc(1, 5, 7, 10),
        utc(1, 5, 18),
        1200,
        tariff=FLATS,
        flat="Early bird",
        more={"standard_fee_cents": 2500, "flat_rate_cents": 1200, "fee_before_validation_cents": 1200},
    ),  # Mon 07:10-18:00 = 650 min = 44 * 75 -> 2500; flat 1200
    "early bird out exactly at exitBy": Row(
        utc(1, 5, 7, 10),
        utc(1, 5, 19),
        1200,
        tariff=FLATS,
        flat="Early bird",
    ),  # "no later than" 19:00
    "early bird out just after exitBy": Row(
        utc(1, 5, 7, 10),
        utc(1, 5, 19, 0, 0, 1000),
        2500,
        tariff=FLATS,
    ),  # 19:00:00.001 > 19:00: standard, capped 2500
    "entry at 07:59:59 is before 08:00": Row(
        utc(1, 5, 7, 59, 59),
        utc(1, 5, 17),
        1200,
        tariff=FLATS,
        flat="Early bird",
    ),  # 541 min -> 2500; the flat rate applies
    "entry at 08:00 is not before 08:00": Row(
        utc(1, 5, 8),
        utc(1, 5, 17),
        2500,
        tariff=FLATS,
    ),  # [06:00, 08:00) excludes 08:00; 540 min = 36 * 75 = 2700 -> 2500
    "entry at exactly entryFrom": Row(
        utc(1, 5, 6),
        utc(1, 5, 17),
        1200,
        tariff=FLATS,
        flat="Early bird",
    ),
    "entry a second before entryFrom": Row(
        utc(1, 5, 5, 59, 59),
        utc(1, 5, 17),
        2500,
        tariff=FLATS,
    ),
    "early bird not on a Saturday": Row(
        utc(1, 10, 7, 10),
        utc(1, 10, 17),
        2500,
        tariff=FLATS,
    ),  # 2026-01-10 is a Saturday; 590 min = 40 * 75 -> 2500
    "evening across midnight": Row(
        utc(1, 5, 17, 30),
        utc(1, 6, 5, 59),
        800,
        tariff=FLATS,
        flat="Evening",
    ),  # Mon 17:30 - Tue 05:59 = 749 min -> 2500; exitBy 06:00 the next day
    "evening out exactly at 06:00 the next day": Row(
        utc(1, 5, 17, 30),
        utc(1, 6, 6),
        800,
        tariff=FLATS,
        flat="Evening",
    ),
    "evening out after 06:00 the next day": Row(
        utc(1, 5, 17, 30),
        utc(1, 6, 6, 1),
        2500,
        tariff=FLATS,
    ),  # 751 min -> 2500
    "evening: entry at entryTo is too late": Row(
        utc(1, 5, 23),
        utc(1, 6, 5),
        1800,
        tariff=FLATS,
    ),  # [17:00, 23:00) excludes 23:00; 360 min = 24 * 75 = 1800
    "short evening stay: the standard fee is cheaper": Row(
        utc(1, 5, 18),
        utc(1, 5, 19),
        300,
        tariff=FLATS,
        more={"flat_rate_cents": None},
    ),  # 60 min = 300 < 800: no flat rate named
    "the cheapest applying flat rate wins": Row(
        utc(1, 5, 7),
        utc(1, 5, 17),
        900,
        tariff=Tariff(DEFAULT_RATE, flat_rates=(EARLY, FlatRate("Cheaper", WORKDAYS, time(7), time(9), time(18), 900))),
        flat="Cheaper",
    ),
    "equal flat rates: the first listed": Row(
        utc(1, 5, 7),
        utc(1, 5, 17),
        1200,
        tariff=Tariff(DEFAULT_RATE, flat_rates=(EARLY, FlatRate("Twin", WORKDAYS, time(7), time(9), time(18), 1200))),
        flat="Early bird",
    ),
    "entry exactly at exitBy: the next day's exitBy": Row(
        utc(1, 5, 6),
        utc(1, 6, 5),
        100,
        tariff=DAWN,
        flat="Dawn",
    ),  # entry Mon 06:00 = exitBy: the stay may last until Tue 06:00; 23 h -> 2500; flat 100
    "entry before exitBy: the same day's exitBy": Row(
        utc(1, 5, 5, 30),
        utc(1, 5, 6, 30),
        300,
        tariff=DAWN,
    ),  # entry 05:30, out 06:30 > 06:00 the same day: 60 min = 300
    # --- step 4: validations ---------------------------------------------------------------------------
    "percent off rounds half up (56.25 -> 56)": Row(
        utc(1, 5, 8),
        utc(1, 5, 9, 1),
        319,
        validation=off(PERCENT, 15),
        discount=56,
        more={"fee_before_validation_cents": 375},
    ),  # 61 min = 375; 375 * 15 / 100 = 56.25 -> 56; 375 - 56 = 319
    "percent off, exact (250 * 10%)": Row(
        utc(1, 5, 8),
        utc(1, 5, 9),
        225,
        tariff=HOURLY_250,
        validation=off(PERCENT, 10),
        discount=25,
    ),  # 1 h = 250; 25 off
    "percent off rounds half up (37.5 -> 38)": Row(
        utc(1, 5, 8),
        utc(1, 5, 8, 11),
        37,
        validation=off(PERCENT, 50),
        discount=38,
    ),  # 11 min = 75; 37.5 -> 38 off; 37 left
    "percent off 100": Row(utc(1, 5, 8), utc(1, 5, 8, 11), 0, validation=off(PERCENT, 100), discount=75),
    "amount off": Row(
        utc(1, 5, 8),
        utc(1, 5, 9, 1),
        275,
        validation=off(AMOUNT, 100),
        discount=100,
    ),  # 375 - 100
    "amount off beyond the fee": Row(
        utc(1, 5, 8),
        utc(1, 5, 9, 1),
        0,
        validation=off(AMOUNT, 500),
        discount=375,
    ),  # 375 - 500 -> 0: what came off is 375, not 500
    "full": Row(utc(1, 5, 8), utc(1, 5, 20), 0, validation=off(FULL), discount=2500),  # 720 min -> 2500 -> 0
    "validation of a flat-rate fee": Row(
        utc(1, 5, 7, 10),
        utc(1, 5, 18),
        600,
        tariff=FLATS,
        validation=off(PERCENT, 50),
        discount=600,
        flat="Early bird",
    ),  # 1200 - 50%
    "free minutes under a flat rate take nothing off": Row(
        utc(1, 5, 7, 10),
        utc(1, 5, 18),
        1200,
        tariff=FLATS,
        validation=off(FREE, 60),
        discount=0,
        flat="Early bird",
        more={"billed_minutes": 590, "standard_fee_cents": 2500},
    ),  # 650 - 60 = 590 min = 40 * 75 -> 2500; still min(2500, 1200) = 1200 either way
    "free minutes bring the standard fee under the flat rate": Row(
        utc(1, 5, 7, 10),
        utc(1, 5, 12, 10),
        900,
        tariff=FLATS,
        validation=off(FREE, 120),
        discount=300,
    ),  # 300 min = 1500 -> flat 1200; with: 180 min = 12 * 75 = 900 < 1200; 1200 - 900 = 300
    "validation on a fee inside grace": Row(
        utc(1, 5, 8),
        utc(1, 5, 8, 5),
        0,
        validation=off(AMOUNT, 100),
        discount=0,
    ),
    # --- step 5: lost ticket ---------------------------------------------------------------------------
    "lost ticket": Row(
        utc(1, 5, 8),
        utc(1, 5, 9, 1),
        5000,
        lost=True,
        more={"lost_ticket_surcharge_cents": 4625},
    ),  # max(375, 5000)
    "lost ticket inside grace": Row(utc(1, 5, 8), utc(1, 5, 8, 5), 5000, lost=True),
    "lost ticket after a validation": Row(
        utc(1, 5, 8),
        utc(1, 7, 8, 1),
        5000,
        validation=off(PERCENT, 10),
        lost=True,
        discount=508,
        more={"lost_ticket_surcharge_cents": 433},
    ),  # 2881 min = 5075; 507.5 -> 508 off = 4567; max(4567, 5000) = 5000, 433 added
    "lost ticket below the validated fee": Row(
        utc(1, 5, 8),
        utc(1, 8, 8),
        6500,
        validation=off(AMOUNT, 1000),
        lost=True,
        discount=1000,
    ),  # 3 days = 7500 - 1000 = 6500 > 5000
    "lost ticket with a full validation": Row(
        utc(1, 5, 8),
        utc(1, 5, 20),
        5000,
        validation=off(FULL),
        lost=True,
        discount=2500,
    ),  # max(0, 5000): the minimum applies after the validation
    "lost ticket and a flat rate": Row(
        utc(1, 5, 7, 10),
        utc(1, 5, 18),
        5000,
        tariff=FLATS,
        lost=True,
        flat="Early bird",
    ),
    # --- flat rates across DST changes ---------------------------------------------------------------
    # New York, spring forward (Sun 2026-03-08 02:00 EST -> 03:00 EDT)
    "NY spring: evening, out at 06:00 EDT": Row(
        utc(3, 8, 1),
        utc(3, 8, 10),
        800,
        tariff=NY_EVENING,
        flat="Evening",
    ),  # Sat 20:00 EST - Sun 06:00 EDT: 9 h of real time (540 min -> 2500); exitBy 06:00 EDT = 10:00 UTC
    "NY spring: evening, out at 06:30 EDT": Row(
        utc(3, 8, 1),
        utc(3, 8, 10, 30),
        2500,
        tariff=NY_EVENING,
    ),  # 06:30 EDT is past 06:00 EDT (reading 06:00 with the entry's EST offset would wrongly allow 07:00 EDT)
    # an exitBy in the gap (02:30 does not exist on 2026-03-08): the first instant after it, 03:00 EDT = 07:00 UTC
    "NY spring: exitBy 02:30 in the gap means 03:00 EDT": Row(
        utc(3, 8, 2),
        utc(3, 8, 7),
        600,
        tariff=NY_LATE_GAP,
        flat="Late",
    ),  # Sat 21:00 EST - Sun 03:00 EDT = 5 h = 300 min = 20 * 75 = 1500; flat 600
    "NY spring: out at 03:00:01 EDT misses the gap's exitBy": Row(
        utc(3, 8, 2),
        utc(3, 8, 7, 0, 1),
        1575,
        tariff=NY_LATE_GAP,
    ),  # 301 min = 21 * 75
    "NY spring: out at 03:15 EDT misses it too": Row(
        utc(3, 8, 2),
        utc(3, 8, 7, 15),
        1575,
        tariff=NY_LATE_GAP,
    ),  # 02:30 read with the EST offset would be 03:30 EDT; 315 min = 21 * 75
    # an entryFrom in the gap: 02:30 -> 03:00 EDT (07:00 UTC)
    "NY spring: entry at 03:00 EDT is inside [02:30, 05:00)": Row(
        utc(3, 8, 7),
        utc(3, 8, 15),
        500,
        tariff=NY_SMALL_HOURS,
        flat="Small hours",
    ),  # 03:00 - 11:00 EDT = 480 min -> 2500
    "NY spring: entry at 01:45 EST is before it": Row(
        utc(3, 8, 6, 45),
        utc(3, 8, 15),
        2475,
        tariff=NY_SMALL_HOURS,
    ),  # 02:30 read with the EDT offset would be 01:30 EST and let this in; 495 min = 33 * 75 = 2475
    # New York, fall back (Sun 2026-11-01 02:00 EDT -> 01:00 EST)
    "NY fall: evening, out at 05:30 EST": Row(
        utc(11, 1, 0),
        utc(11, 1, 10, 30),
        800,
        tariff=NY_EVENING,
        flat="Evening",
    ),  # Sat 20:00 EDT - Sun 05:30 EST = 10.5 h; exitBy 06:00 EST = 11:00 UTC (with EDT it would be 10:00)
    "NY fall: evening, out at 06:01 EST": Row(
        utc(11, 1, 0),
        utc(11, 1, 11, 1),
        2500,
        tariff=NY_EVENING,
    ),
    # 01:30 occurs twice on 2026-11-01: its first occurrence, 01:30 EDT = 05:30 UTC
    "NY fall: exitBy 01:30 is the first 01:30": Row(
        utc(11, 1, 1),
        utc(11, 1, 5, 30),
        600,
        tariff=NY_LATE_TWICE,
        flat="Late",
    ),  # Sat 21:00 EDT - Sun 01:30 EDT = 270 min = 18 * 75 = 1350; flat 600
    "NY fall: out at the second 01:15 is after the first 01:30": Row(
        utc(11, 1, 1),
        utc(11, 1, 6, 15),
        1575,
        tariff=NY_LATE_TWICE,
    ),  # 01:15 EST = 06:15 UTC; 315 min = 21 * 75
    "NY fall: entry at the first 01:15 is before entryTo 01:30": Row(
        utc(11, 1, 5, 15),
        utc(11, 1, 13),
        400,
        tariff=NY_NIGHT,
        flat="Night",
    ),  # 01:15 EDT - 08:00 EST = 465 min = 31 * 75 = 2325; flat 400
    "NY fall: entry at the second 01:15 is not": Row(
        utc(11, 1, 6, 15),
        utc(11, 1, 13),
        2025,
        tariff=NY_NIGHT,
    ),  # 01:15 EST is after 01:30 EDT on the local clock; 405 min = 27 * 75 = 2025
    "NY: the entry's weekday is the local one": Row(
        utc(1, 10, 3),
        utc(1, 10, 10),
        700,
        tariff=NY_FRIDAY_NIGHT,
        flat="Friday night",
    ),  # Sat 03:00 UTC is Fri 22:00 EST; out Sat 05:00 EST; 420 min = 28 * 75 = 2100
    # London, spring forward (Sun 2026-03-29 01:00 GMT -> 02:00 BST)
    "London spring: evening, out at 06:00 BST": Row(
        utc(3, 28, 20),
        utc(3, 29, 5),
        800,
        tariff=LONDON_EVENING,
        flat="Evening",
    ),  # Sat 20:00 GMT - Sun 06:00 BST = 9 h -> 2500
    "London spring: evening, out at 06:30 BST": Row(
        utc(3, 28, 20),
        utc(3, 29, 5, 30),
        2500,
        tariff=LONDON_EVENING,
    ),
    # London, fall back (Sun 2026-10-25 02:00 BST -> 01:00 GMT)
    "London fall: evening, out at 05:30 GMT": Row(
        utc(10, 24, 19),
        utc(10, 25, 5, 30),
        800,
        tariff=LONDON_EVENING,
        flat="Evening",
    ),  # Sat 20:00 BST - Sun 05:30 GMT = 10.5 h; exitBy 06:00 GMT = 06:00 UTC (with BST it would be 05:00)
    "London fall: evening, out at 06:00:01 GMT": Row(
        utc(10, 24, 19),
        utc(10, 25, 6, 0, 1),
        2500,
        tariff=LONDON_EVENING,
    ),
}


@pytest.mark.parametrize("row", ROWS.values(), ids=ROWS.keys())
def test_fee_rule_table(row: Row) -> None:
    quote = complete_fee(
        Stay(row.start, row.end, row.vehicle),
        row.tariff,
        permit=row.permit,
        validation=row.validation,
        lost_ticket=row.lost,
    )
    assert quote.fee_cents == row.fee
    assert quote.discount_cents == row.discount
    assert quote.breakdown.flat_rate == row.flat
    for name, expected in row.more.items():
        assert getattr(quote.breakdown, name) == expected, name
    if row.validation is None:
        assert quote.breakdown.validation is None
    else:
        applied = quote.breakdown.validation
        assert applied is not None
        assert (applied.kind, applied.value, applied.discount_cents) == (
            row.validation.kind,
            row.validation.value,
            row.discount,
        )
    assert quote.breakdown.permit_id == (row.permit.permit_id if row.permit else None)
    assert quote.breakdown.lost_ticket is row.lost


def test_minutes_are_the_whole_stay_even_under_a_permit() -> None:
    # 08:00-11:00 with the permit ending at 10:00: the quote's minutes are all 180
    quote = complete_fee(
        Stay(utc(1, 5, 8), utc(1, 5, 11), CAR),
        PLAIN,
        permit=permit_to(utc(1, 5, 10)),
        validation=None,
        lost_ticket=False,
    )
    assert (quote.minutes, quote.breakdown.chargeable_minutes) == (180, 60)


# --- properties ----------------------------------------------------------------------------------------

# Around the DST changes the table uses, and a plain winter day; stays of up to three days.
_BASES = [utc(1, 5), utc(3, 7, 12), utc(3, 28, 12), utc(10, 24, 12), utc(10, 31, 12)]
ZONES = ["UTC", "America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kolkata"]


@st.composite
def stays(draw: st.DrawFn) -> Stay:
    # in minutes plus a sub-minute part: hypothesis favours small integers, and microseconds alone
    # would make nearly every stay a minute long; mostly a day or less, which flat rates can apply to
    start = draw(st.sampled_from(_BASES)) + timedelta(
        minutes=draw(st.integers(0, 2 * 1440)), microseconds=draw(st.integers(0, 59_999_999))
    )
    hours = draw(st.sampled_from([2, 12, 24, 72]))
    end = start + timedelta(minutes=draw(st.integers(0, hours * 60)), microseconds=draw(st.integers(0, 59_999_999)))
    return Stay(start, end, draw(st.sampled_from(list(VehicleType))))


rate_terms = st.builds(
    RateTerms,
    hourly_rate_cents=st.integers(0, 10_000),
    increment_minutes=st.integers(1, 1440),
    grace_minutes=st.integers(0, 60) | st.integers(0, 1440),
    daily_max_cents=st.integers(0, 100_000),
    lost_ticket_fee_cents=st.integers(0, 100_000),
)
wall_times = st.builds(time, st.integers(0, 23), st.sampled_from([0, 1, 15, 30, 59]))


@st.composite
def flat_rates(draw: st.DrawFn) -> FlatRate:
    # half of them open all day on every day, so that they often apply to the drawn stay
    if draw(st.booleans()):
        entry_from, entry_to, days = time(0), time(23, 59), frozenset(Weekday)
    else:
        entry_from, entry_to = sorted(draw(st.lists(wall_times, min_size=2, max_size=2, unique=True)))
        days = frozenset(draw(st.sets(st.sampled_from(list(Weekday)), min_size=1)))
    return FlatRate(
        name=draw(st.text(min_size=1, max_size=8)),
        days=days,
        entry_from=entry_from,
        entry_to=entry_to,
        exit_by=draw(wall_times),
        amount_cents=draw(st.integers(0, 3000) | st.integers(0, 100_000)),
    )


overrides = st.builds(
    VehicleTypeRate,
    hourly_rate_cents=st.none() | st.integers(0, 10_000),
    daily_max_cents=st.none() | st.integers(0, 100_000),
)
tariffs = st.builds(
    Tariff,
    terms=rate_terms,
    vehicle_type_rates=st.dictionaries(st.sampled_from(list(VehicleType)), overrides).map(MappingProxyType),
    flat_rates=st.lists(flat_rates(), max_size=3).map(tuple),
    timezone=st.sampled_from(ZONES),
)


@st.composite
def discounts(draw: st.DrawFn) -> Discount:
    kind = draw(st.sampled_from(list(ValidatorKind)))
    low, high = VALIDATOR_VALUE_RANGES[kind]
    return Discount(kind, draw(st.integers(low, high)))


@st.composite
def permits(draw: st.DrawFn, stay: Stay) -> PermitCover:
    # a permit valid at the stay's start, ending within the stay (the interesting case) or after it
    within = max(1, billable_minutes(stay.start, stay.end) * 60_000_000)
    span = draw(st.sampled_from([within, 4 * 86_400_000_000]))
    return PermitCover("permit", stay.start + timedelta(microseconds=draw(st.integers(1, span))))


_OLD_FIELDS = [f.name for f in fields(Breakdown)]


@given(stays(), rate_terms, st.booleans())
def test_without_the_new_parts_it_is_api_md_fee_rule(stay: Stay, terms: RateTerms, lost: bool) -> None:
    quote = complete_fee(stay, Tariff(terms), permit=None, validation=None, lost_ticket=lost)
    fee = fee_between(stay.start, stay.end, terms, lost_ticket=lost)
    assert (quote.fee_cents, quote.minutes, quote.discount_cents) == (fee.fee_cents, fee.minutes, 0)
    assert [getattr(quote.breakdown, name) for name in _OLD_FIELDS] == [
        getattr(fee.breakdown, name) for name in _OLD_FIELDS
    ]


def _quote(stay: Stay, tariff: Tariff, permit: PermitCover | None, validation: Discount | None, lost: bool) -> Quote:
    return complete_fee(stay, tariff, permit=permit, validation=validation, lost_ticket=lost)


@given(st.data(), stays(), tariffs, st.none() | discounts(), st.booleans(), st.booleans())
def test_never_negative(
    data: st.DataObject, stay: Stay, tariff: Tariff, validation: Discount | None, holder: bool, lost: bool
) -> None:
    permit = data.draw(permits(stay)) if holder else None
    quote = _quote(stay, tariff, permit, validation, lost)
    assert quote.fee_cents >= 0
    assert quote.discount_cents >= 0
    assert quote.breakdown.lost_ticket_surcharge_cents >= 0


@given(st.data(), stays(), tariffs, discounts(), st.booleans(), st.booleans())
def test_a_validation_never_raises_the_fee(
    data: st.DataObject, stay: Stay, tariff: Tariff, validation: Discount, holder: bool, lost: bool
) -> None:
    permit = data.draw(permits(stay)) if holder else None
    with_it = _quote(stay, tariff, permit, validation, lost)
    without = _quote(stay, tariff, permit, None, lost)
    assert with_it.fee_cents <= without.fee_cents
    if not lost:  # the lost-ticket minimum can swallow part of the discount, not add to the fee
        assert without.fee_cents - with_it.fee_cents == with_it.discount_cents


@given(st.data(), stays(), tariffs, st.none() | discounts())
def test_a_permit_holder_never_pays_more(
    data: st.DataObject, stay: Stay, tariff: Tariff, validation: Discount | None
) -> None:
    permit = data.draw(permits(stay))
    assert (
        _quote(stay, tariff, permit, validation, False).fee_cents
        <= _quote(stay, tariff, None, validation, False).fee_cents
    )
