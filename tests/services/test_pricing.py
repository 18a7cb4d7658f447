"""The fee rule (API.md, "Fee rule") at its boundaries. Every expected value below is worked out
by hand in its comment, not by calling the code under test."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime, timedelta

import pytest

from garage.services.pricing import (
    Breakdown,
    QuoteBreakdown,
    Stay,
    Tariff,
    billable_minutes,
    complete_fee,
    fee_between,
    fee_for_minutes,
    increment_cents,
)
from garage.vocabulary import DEFAULT_RATE, RateTerms, VehicleType

# Default rate: 300 c/h, 15 min increments, 10 min grace, 2500 daily max, 5000 lost ticket.
# incrementCents = 300 * 15 / 60 = 75.
DEFAULT_BOUNDARIES = [
    (0, False, 0),         # nothing parked
    (10, False, 0),        # last minute of grace
    (11, False, 75),       # first minute after grace: ceil(11/15) = 1 increment
    (15, False, 75),       # exactly one increment
    (16, False, 150),      # a started second increment
    (60, False, 300),      # one hour = the hourly rate
    (61, False, 375),      # 5 increments
    (495, False, 2475),    # 33 increments, just under the daily max
    (496, False, 2500),    # 34 * 75 = 2550 -> capped at 2500
    (1439, False, 2500),   # capped for the rest of the day
    (1440, False, 2500),   # 1 day, rest 0: 2500 + min(2500, 0)
    (1441, False, 2575),   # 1 day + 1 increment (grace counts on the total only)
    (1450, False, 2575),   # rest 10 is inside the first increment, not "grace"
    (2880, False, 5000),   # 2 days
    (2881, False, 5075),   # 2 days + 1 increment
    (2 * 1440 + 496, False, 7500),  # 2 days + a capped rest
    (0, True, 5000),       # lost ticket: max(0, 5000)
    (5, True, 5000),       # inside grace, still the lost-ticket fee
    (61, True, 5000),      # max(375, 5000)
    (2881, True, 5075),    # the fee is above the lost-ticket fee: max(5075, 5000)
]


@pytest.mark.parametrize(("minutes", "lost", "expected"), DEFAULT_BOUNDARIES)
def test_default_rate_boundaries(minutes: int, lost: bool, expected: int) -> None:
    fee = fee_for_minutes(minutes, DEFAULT_RATE, lost_ticket=lost)
    assert fee.fee_cents == expected
    assert fee.minutes == minutes


@pytest.mark.parametrize(
    ("hourly", "increment", "expected"),
    [
        (300, 15, 75),    # exact
        (250, 15, 63),    # 62.5 rounds half UP (banker's rounding would give 62)
        (350, 15, 88),    # 87.5 -> 88
        (1, 30, 1),       # 0.5 -> 1
        (1, 29, 0),       # 0.4833 -> 0
        (299, 20, 100),   # 99.67 -> 100
        (150, 1, 3),      # 2.5 -> 3
        (210, 10, 35),    # exact
        (0, 15, 0),       # a free garage
    ],
)
def test_increment_cents_rounds_half_up(hourly: int, increment: int, expected: int) -> None:
    rate = RateTerms(hourly_rate_cents=hourly, increment_minutes=increment, grace_minutes=0, daily_max_cents=10**9,
                     lost_ticket_fee_cents=0)
    assert increment_cents(rate) == expected


def test_other_rate_with_zero_grace_and_a_low_daily_max() -> None:
    # 250 c/h, 15 min -> 63 c per increment; no grace; daily max 200; lost 1000.
    rate = RateTerms(hourly_rate_cents=250, increment_minutes=15, grace_minutes=0, daily_max_cents=200,
                     lost_ticket_fee_cents=1000)
    assert fee_for_minutes(0, rate).fee_cents == 0       # 0 <= grace 0
    assert fee_for_minutes(1, rate).fee_cents == 63      # 1 increment
    assert fee_for_minutes(45, rate).fee_cents == 189    # 3 increments
    assert fee_for_minutes(46, rate).fee_cents == 200    # 4 * 63 = 252 -> capped at 200
    assert fee_for_minutes(1441, rate).fee_cents == 263  # 200 + 63
    assert fee_for_minutes(1441, rate, lost_ticket=True).fee_cents == 1000


def test_breakdown_explains_the_fee() -> None:
    fee = fee_for_minutes(1441, DEFAULT_RATE, lost_ticket=True)
    b = fee.breakdown
    assert (b.grace_applied, b.days, b.days_cents, b.rest_minutes, b.increments, b.increment_cents, b.rest_cents) == (
        False, 1, 2500, 1, 1, 75, 75)
    assert (b.lost_ticket, b.lost_ticket_fee_cents, b.lost_ticket_surcharge_cents) == (True, 5000, 2425)
    assert fee_for_minutes(3, DEFAULT_RATE).breakdown.grace_applied is True


T0 = datetime(2026, 1, 31, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("elapsed", "minutes"),
    [
        (timedelta(0), 0),
        (timedelta(microseconds=1), 1),        # any started minute counts
        (timedelta(seconds=59, microseconds=999_999), 1),
        (timedelta(seconds=60), 1),
        (timedelta(seconds=60, milliseconds=1), 2),
        (timedelta(minutes=10), 10),
        (timedelta(days=3, seconds=1), 3 * 1440 + 1),
        (timedelta(seconds=-30), 0),           # end before start: nothing
    ],
)
def test_billable_minutes_round_up(elapsed: timedelta, minutes: int) -> None:
    assert billable_minutes(T0, T0 + elapsed) == minutes


def test_fee_between_uses_rounded_up_minutes() -> None:
    assert fee_between(T0, T0 + timedelta(minutes=10), DEFAULT_RATE).fee_cents == 0             # grace
    assert fee_between(T0, T0 + timedelta(minutes=10, milliseconds=1), DEFAULT_RATE).fee_cents == 75  # 11 min


# --- the complete rule's types (its rows and properties are in test_fee_rule.py) ----------------------


def test_a_stay_refuses_naive_datetimes() -> None:
    # a naive time would be read in the host's zone when flat rates are matched
    with pytest.raises(ValueError, match="aware"):
        Stay(datetime(2026, 1, 5, 8), T0, VehicleType.CAR)
    with pytest.raises(ValueError, match="aware"):
        Stay(T0, datetime(2026, 1, 5, 8), VehicleType.CAR)


def test_the_complete_breakdown_starts_with_api_md_fields() -> None:
    # the quote route serialises the breakdown by field name: the old names come first, unchanged
    old = [f.name for f in fields(Breakdown)]
    assert old == ["grace_applied", "days", "days_cents", "rest_minutes", "increments", "increment_cents",
                   "rest_cents", "lost_ticket", "lost_ticket_fee_cents", "lost_ticket_surcharge_cents"]
    assert [f.name for f in fields(QuoteBreakdown)][: len(old)] == old
    assert [f.name for f in fields(QuoteBreakdown)][len(old) : len(old) + 4] == [
        "permit_id", "permit_covered_minutes", "flat_rate", "validation"]


def test_a_plain_complete_quote_explains_itself() -> None:
    # 1441 min at the default rate, lost ticket: 2500 + 75 = 2575, raised to 5000
    quote = complete_fee(Stay(T0, T0 + timedelta(minutes=1441), VehicleType.CAR), Tariff(DEFAULT_RATE),
                         permit=None, validation=None, lost_ticket=True)
    b = quote.breakdown
    assert (quote.fee_cents, quote.minutes, quote.discount_cents) == (5000, 1441, 0)
    assert (b.days, b.days_cents, b.rest_minutes, b.increments, b.rest_cents) == (1, 2500, 1, 1, 75)
    assert (b.lost_ticket_fee_cents, b.lost_ticket_surcharge_cents) == (5000, 2425)
    assert (b.permit_id, b.permit_covered_minutes, b.flat_rate, b.validation) == (None, 0, None, None)
    assert (b.hourly_rate_cents, b.daily_max_cents, b.chargeable_minutes, b.billed_minutes) == (300, 2500, 1441, 1441)
    assert (b.standard_fee_cents, b.flat_rate_cents, b.fee_before_validation_cents) == (2575, None, 2575)
