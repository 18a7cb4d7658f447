"""The fee rule of API.md ("Fee rule"), as pure functions: check-out and quote both use it.

minutes = whole minutes from start to end, rounded up; within the grace period nothing is due;
otherwise every full day costs the daily maximum and the rest of the last day is charged per
started increment, capped at the daily maximum. A lost ticket costs at least the lost-ticket fee.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from garage.vocabulary import RateTerms

MINUTES_PER_DAY = 1440
_MICROSECONDS_PER_MINUTE = 60_000_000


@dataclass(frozen=True)
class Breakdown:
    grace_applied: bool
    days: int
    days_cents: int
    rest_minutes: int
    increments: int
    increment_cents: int
    rest_cents: int
    lost_ticket: bool
    lost_ticket_fee_cents: int
    lost_ticket_surcharge_cents: int


@dataclass(frozen=True)
class Fee:
    fee_cents: int
    minutes: int
    breakdown: Breakdown


def billable_minutes(start: datetime, end: datetime) -> int:
    """Whole minutes from start to end, any started minute counting (0 when end <= start).
    Integer microseconds, so no float rounding decides a boundary."""
    elapsed = end - start
    microseconds = (elapsed.days * 86_400 + elapsed.seconds) * 1_000_000 + elapsed.microseconds
    if microseconds <= 0:
        return 0
    return -(-microseconds // _MICROSECONDS_PER_MINUTE)


def increment_cents(rate: RateTerms) -> int:
    """round_half_up(hourlyRateCents * incrementMinutes / 60), in integers: floor(x + 1/2)."""
    return (2 * rate.hourly_rate_cents * rate.increment_minutes + 60) // 120


def fee_for_minutes(minutes: int, rate: RateTerms, *, lost_ticket: bool = False) -> Fee:
    per_increment = increment_cents(rate)
    grace_applied = minutes <= rate.grace_minutes
    if grace_applied:
        days = rest = increments = days_cents = rest_cents = 0
    else:
        days, rest = divmod(minutes, MINUTES_PER_DAY)
        increments = -(-rest // rate.increment_minutes)
        days_cents = days * rate.daily_max_cents
        rest_cents = min(rate.daily_max_cents, increments * per_increment)
    fee = days_cents + rest_cents
    total = max(fee, rate.lost_ticket_fee_cents) if lost_ticket else fee
    return Fee(
        fee_cents=total,
        minutes=minutes,
        breakdown=Breakdown(
            grace_applied=grace_applied,
            days=days,
            days_cents=days_cents,
            rest_minutes=rest,
            increments=increments,
            increment_cents=per_increment,
            rest_cents=rest_cents,
            lost_ticket=lost_ticket,
            lost_ticket_fee_cents=rate.lost_ticket_fee_cents,
            lost_ticket_surcharge_cents=total - fee,
        ),
    )


def fee_between(start: datetime, end: datetime, rate: RateTerms, *, lost_ticket: bool = False) -> Fee:
    return fee_for_minutes(billable_minutes(start, end), rate, lost_ticket=lost_ticket)
