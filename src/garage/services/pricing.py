"""The fee rule as pure functions: check-out and quote both use it.

API.md's rule ("Fee rule", `fee_between`): minutes = whole minutes from start to end, rounded up;
within the grace period nothing is due; otherwise every full day costs the daily maximum and the
rest of the last day is charged per started increment, capped at the daily maximum. A lost ticket
costs at least the lost-ticket fee.

The complete rule (API-operations.md "The fee rule, complete", `complete_fee`) adds permits,
vehicle-type overrides, flat rates and merchant validations around it, and equals API.md's rule
when none of them is present.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

from garage.vocabulary import FlatRate, RateTerms, ValidatorKind, VehicleType, VehicleTypeRate, Weekday

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


# --- the complete fee rule (API-operations.md "The fee rule, complete") ---------------------------


@dataclass(frozen=True)
class Tariff:
    """Everything of a garage's rate the complete rule reads: the terms, their per vehicle type
    overrides, the flat rates (in the rate's order, which breaks ties) and the garage's IANA
    timezone, in which the flat rates' wall times are read."""

    terms: RateTerms
    vehicle_type_rates: Mapping[VehicleType, VehicleTypeRate] = field(default_factory=lambda: MappingProxyType({}))
    flat_rates: tuple[FlatRate, ...] = ()
    timezone: str = "UTC"


@dataclass(frozen=True)
class Stay:
    """A session's stay, in aware datetimes: a naive one would be read in the host's zone."""

    start: datetime
    end: datetime
    vehicle_type: VehicleType

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a stay's start and end must be aware datetimes")


@dataclass(frozen=True)
class PermitCover:
    """The permit covering a session (it was valid at the session's start): free until `valid_to`."""

    permit_id: str
    valid_to: datetime


@dataclass(frozen=True)
class Discount:
    """A merchant's validation of the session; `value` as VALIDATOR_VALUE_RANGES defines it."""

    kind: ValidatorKind
    value: int


@dataclass(frozen=True)
class AppliedValidation:
    """The breakdown's `validation`: discount_cents is the fee through step 4 without it minus with it."""

    kind: ValidatorKind
    value: int
    discount_cents: int


@dataclass(frozen=True)
class QuoteBreakdown(Breakdown):
    """API.md's breakdown, its fields computed on the billed minutes with the vehicle type's figures,
    then what the complete rule adds (the API's four first). When a permit covers the whole stay,
    steps 2-5 do not run: the standard part is all zeros and grace_applied is False."""

    permit_id: str | None
    permit_covered_minutes: int
    flat_rate: str | None
    validation: AppliedValidation | None
    hourly_rate_cents: int  # after the vehicle type's override
    daily_max_cents: int  # after the vehicle type's override
    chargeable_minutes: int  # step 1: the chargeable stay's whole minutes, rounded up
    billed_minutes: int  # step 2: chargeable_minutes less FREE_MINUTES, not below 0
    standard_fee_cents: int  # step 2
    flat_rate_cents: int | None  # the amount of `flat_rate`
    fee_before_validation_cents: int  # after step 3


@dataclass(frozen=True)
class Quote:
    fee_cents: int
    minutes: int  # the whole stay's, as in API.md's quote (not only the chargeable part)
    discount_cents: int
    breakdown: QuoteBreakdown


def complete_fee(
    stay: Stay, tariff: Tariff, *, permit: PermitCover | None, validation: Discount | None, lost_ticket: bool
) -> Quote:
    """The fee of `stay` (API-operations.md "The fee rule, complete"):

    1. Chargeable stay: the whole stay, or for a permit-covered session the part after the permit's
       validTo; a stay that ended by validTo costs 0 and steps 2-5 are skipped.
    2. minutes = the chargeable stay's whole minutes, rounded up, less a FREE_MINUTES validation
       (not below 0); the standard fee is API.md's formula on them (grace included) with the vehicle
       type's hourlyRateCents/dailyMaxCents where the tariff overrides them.
    3. fee = min(standard fee, the amount of every flat rate applying to the WHOLE stay, entered at
       its start), permit-covered or not. The cheapest flat rate wins, the first listed among equal
       ones; it is named in the breakdown only when it is below the standard fee.
    4. Validation: AMOUNT_OFF subtracts its value (not below 0); PERCENT_OFF subtracts
       round_half_up(fee * value / 100); FULL makes the fee 0. discount_cents = the fee through
       step 4 without the validation minus with it, so FREE_MINUTES counts too.
    5. Lost ticket: fee = max(fee, lostTicketFeeCents), except for permit-covered sessions.

    `minutes` is the whole stay's. Without permit, validation, overrides and flat rates the result
    equals `fee_between`.
    """
    terms = _terms_for(tariff, stay.vehicle_type)
    covered = billable_minutes(stay.start, min(stay.end, permit.valid_to)) if permit else 0
    if permit is not None and stay.end <= permit.valid_to:
        return _covered_by_permit(stay, terms, permit, covered, validation, lost_ticket)

    chargeable = billable_minutes(max(stay.start, permit.valid_to) if permit else stay.start, stay.end)
    flat = _cheapest_flat_rate(stay, tariff)

    def through_step_3(free_minutes: int) -> tuple[Fee, FlatRate | None]:
        standard = fee_for_minutes(max(0, chargeable - free_minutes), terms)
        return standard, flat if flat is not None and flat.amount_cents < standard.fee_cents else None

    free = validation.value if validation is not None and validation.kind == ValidatorKind.FREE_MINUTES else 0
    standard, charged = through_step_3(free)
    before_validation = charged.amount_cents if charged else standard.fee_cents
    fee = before_validation
    applied = None
    if validation is not None:
        fee = _discounted(before_validation, validation)
        standard_undiscounted, charged_undiscounted = through_step_3(0)
        undiscounted = charged_undiscounted.amount_cents if charged_undiscounted else standard_undiscounted.fee_cents
        applied = AppliedValidation(validation.kind, validation.value, undiscounted - fee)
    total = max(fee, terms.lost_ticket_fee_cents) if lost_ticket and permit is None else fee
    b = standard.breakdown
    return Quote(
        fee_cents=total,
        minutes=billable_minutes(stay.start, stay.end),
        discount_cents=applied.discount_cents if applied else 0,
        breakdown=QuoteBreakdown(
            grace_applied=b.grace_applied,
            days=b.days,
            days_cents=b.days_cents,
            rest_minutes=b.rest_minutes,
            increments=b.increments,
            increment_cents=b.increment_cents,
            rest_cents=b.rest_cents,
            lost_ticket=lost_ticket,
            lost_ticket_fee_cents=terms.lost_ticket_fee_cents,
            lost_ticket_surcharge_cents=total - fee,
            permit_id=permit.permit_id if permit else None,
            permit_covered_minutes=covered,
            flat_rate=charged.name if charged else None,
            validation=applied,
            hourly_rate_cents=terms.hourly_rate_cents,
            daily_max_cents=terms.daily_max_cents,
            chargeable_minutes=chargeable,
            billed_minutes=standard.minutes,
            standard_fee_cents=standard.fee_cents,
            flat_rate_cents=charged.amount_cents if charged else None,
            fee_before_validation_cents=before_validation,
        ),
    )


def _covered_by_permit(
    stay: Stay, terms: RateTerms, permit: PermitCover, covered: int, validation: Discount | None, lost_ticket: bool
) -> Quote:
    """Step 1's early exit: the stay ended within the permit, so nothing is due, lost ticket or not;
    a validation presented all the same shows with nothing taken off."""
    return Quote(
        fee_cents=0,
        minutes=billable_minutes(stay.start, stay.end),
        discount_cents=0,
        breakdown=QuoteBreakdown(
            grace_applied=False,
            days=0,
            days_cents=0,
            rest_minutes=0,
            increments=0,
            increment_cents=increment_cents(terms),
            rest_cents=0,
            lost_ticket=lost_ticket,
            lost_ticket_fee_cents=terms.lost_ticket_fee_cents,
            lost_ticket_surcharge_cents=0,
            permit_id=permit.permit_id,
            permit_covered_minutes=covered,
            flat_rate=None,
            validation=AppliedValidation(validation.kind, validation.value, 0) if validation else None,
            hourly_rate_cents=terms.hourly_rate_cents,
            daily_max_cents=terms.daily_max_cents,
            chargeable_minutes=0,
            billed_minutes=0,
            standard_fee_cents=0,
            flat_rate_cents=None,
            fee_before_validation_cents=0,
        ),
    )


def _terms_for(tariff: Tariff, vehicle_type: VehicleType) -> RateTerms:
    override = tariff.vehicle_type_rates.get(vehicle_type)
    if override is None:
        return tariff.terms
    return replace(
        tariff.terms,
        hourly_rate_cents=(
            tariff.terms.hourly_rate_cents if override.hourly_rate_cents is None else override.hourly_rate_cents
        ),
        daily_max_cents=tariff.terms.daily_max_cents if override.daily_max_cents is None else override.daily_max_cents,
    )


def _discounted(fee: int, validation: Discount) -> int:
    """Step 4 (FREE_MINUTES already acted in step 2). PERCENT_OFF's discount is
    round_half_up(fee * value / 100) in integers, floor(x + 1/2), like increment_cents."""
    match validation.kind:
        case ValidatorKind.AMOUNT_OFF:
            return max(0, fee - validation.value)
        case ValidatorKind.PERCENT_OFF:
            return fee - (2 * fee * validation.value + 100) // 200
        case ValidatorKind.FULL:
            return 0
        case ValidatorKind.FREE_MINUTES:
            return fee


def _cheapest_flat_rate(stay: Stay, tariff: Tariff) -> FlatRate | None:
    """The cheapest flat rate applying to the whole stay; min() keeps the first of equal ones."""
    if not tariff.flat_rates:
        return None
    zone = ZoneInfo(tariff.timezone)
    applying = [flat for flat in tariff.flat_rates if _applies(flat, stay, zone)]
    return min(applying, key=lambda flat: flat.amount_cents) if applying else None


def _applies(flat: FlatRate, stay: Stay, zone: ZoneInfo) -> bool:
    """Entered on one of its days within [entryFrom, entryTo) and out by the first exitBy strictly
    after the entry, all local. The wall times become instants on the entry's local day
    (`_instant`), so the comparisons follow the local clock through DST changes: 01:15 of the
    repeated hour's second pass comes after its first pass's 01:30."""
    day = stay.start.astimezone(zone).date()
    if Weekday.of(day) not in flat.days:
        return False
    if not _instant(day, flat.entry_from, zone) <= stay.start < _instant(day, flat.entry_to, zone):
        return False
    exit_by = _instant(day, flat.exit_by, zone)
    if exit_by <= stay.start:
        exit_by = _instant(day + timedelta(days=1), flat.exit_by, zone)
    return stay.end <= exit_by


def _instant(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The instant `wall` names on local `day`: its first occurrence when the clock shows it twice
    (fold=0), and when the clock skips it (a DST gap), the first instant after the gap."""
    local = datetime.combine(day, wall, tzinfo=zone)  # fold=0: the first occurrence
    instant = local.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == local.replace(tzinfo=None):
        return instant
    # In a gap fold=0 reads the wall time with the offset before the change and fold=1 with the
    # one after, so the change lies between the two; bisect to it in whole POSIX seconds (the
    # timezone database's resolution).
    after_offset = instant.astimezone(zone).utcoffset()
    earlier, later = math.floor(local.replace(fold=1).timestamp()), math.ceil(instant.timestamp())
    while later - earlier > 1:
        middle = (earlier + later) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == after_offset:
            later = middle
        else:
            earlier = middle
    return datetime.fromtimestamp(later, UTC)
