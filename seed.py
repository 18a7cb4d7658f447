"""Development seed data: `prisma db seed` runs this file, and so does `prisma migrate reset` after
re-applying the migrations (prisma.config.ts, `migrations.seed`, with DATABASE_URL made absolute).
It can also be run by hand: `.venv/bin/python seed.py` (DATABASE_URL, else ./dev.db).

What it builds, all through the services layer (garage.services), so encryption, audit rows and
invariants are exactly those of the API (the audit actor is "seed"):
- 2 garages, 3 levels each, a few hundred spots of every type with numeric-aware numbers ("9" <
  "10" < "10A"), a few RESERVED and MAINTENANCE; one garage on default rates, one on its own rates;
- vehicles of every type, some with owner name/email/phone (encrypted at rest by the service);
- 4 weeks of back-dated history (check-in/check-out `at`): commuters on weekdays, visitors every
  day, a few overnight stays and a few drive-throughs inside the grace period; every payment
  method, a few lost tickets, two refunds; and vehicles parked right now (ACTIVE sessions);
- the operations of API-operations.md: tariffs (an early-bird and an evening flat rate in the
  garage's timezone, a cheaper motorcycle rate), monthly permits for some commuters (and one
  cancelled), merchants' validators in each garage with validations on some visitors' tickets, a
  plate on each deny list, and one void (a car that left through the open barrier).

Idempotent: when a seed garage (by its marker name) exists it says so and exits 0; other data in
the database is left alone (a plate that is taken already is replaced by another). A seed that
failed part-way leaves its garages behind and counts as done: start over with `prisma migrate
reset`. With GARAGE_ENV=production it writes nothing (and exits 0: `make run` seeds on every start).
Deterministic: random.Random(RANDOM_SEED) drives every choice (plates from a stream of their own),
times are relative to "now" (history must lie in the past); ids and ticket codes come from the
services and differ from run to run.
Progress: on a terminal, stderr shows a bar per phase (garages and spots, vehicles, visits,
refunds); nothing when stderr is not a terminal (`make run`, CI, a log file).
Size: a check-in plus its check-out costs about 27 engine round trips (40-60 ms on a 2-core
machine), so the history holds ~430 completed sessions to keep the whole seed near 20-25 s.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time as clock
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from garage.cli.progress import Bar, Phases, phase_bars
from garage.config import load_settings
from garage.config.settings import Environment
from garage.errors import Conflict
from garage.repositories.records import Garage, Spot
from garage.repositories.unit_of_work import connected
from garage.services.container import Services
from garage.services.parking import CheckedIn, Exit
from garage.services.plates import normalise_plate
from garage.services.spots import SpotDraft
from garage.vocabulary import (
    DEFAULT_RATE,
    FlatRate,
    PaymentMethod,
    PermitStatus,
    RateTerms,
    SpotStatus,
    SpotType,
    ValidatorKind,
    VehicleType,
    VehicleTypeRate,
    Weekday,
)

ACTOR = "seed"
RANDOM_SEED = 20261124
HISTORY_DAYS = 28
# The seed's garages carry this marker in their names: finding one means "already seeded".
MARKER = "(seed)"

# Per-level layout, in number order: accessible bays by the lifts, EV chargers, then by size;
# a motorcycle bay squeezed in after every 10th spot gets the next number with an "A" ("10A").
LevelLayout = tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class GarageSpec:
    name: str
    address: str
    timezone: str
    capacity: int
    layouts: tuple[LevelLayout, LevelLayout, LevelLayout]  # levels 1, 2, 3
    rate: RateTerms | None  # None: the defaults every new garage gets
    commuters: int  # regulars parking on weekdays
    visitor_pool: int  # other vehicles that come now and then
    visitors_per_day: tuple[int, int]  # (weekday, weekend)
    parked_now: int  # extra vehicles checked in over the last hours and still inside
    # (level, number) -> status for spots that are not AVAILABLE
    out_of_use: dict[tuple[int, str], str] = field(default_factory=dict)
    flat_rates: tuple[FlatRate, ...] = ()
    vehicle_type_rates: dict[VehicleType, VehicleTypeRate] = field(default_factory=dict)
    permit_holders: int = 0  # the first commuters hold a monthly permit
    validators: tuple[tuple[str, ValidatorKind, int], ...] = ()  # (merchant, kind, value)
    denied: tuple[tuple[str, str], ...] = ()  # (plate, reason)


WEEKDAYS = frozenset({Weekday.MON, Weekday.TUE, Weekday.WED, Weekday.THU, Weekday.FRI})
EVERY_DAY = frozenset(Weekday)


GARAGES = (
    GarageSpec(
        name=f"Harbourside Garage {MARKER}",
        address="12 Harbour Street, Boston, MA 02110",
        timezone="America/New_York",
        capacity=400,
        layouts=(
            (("HANDICAP", 6), ("EV", 12), ("COMPACT", 24), ("STANDARD", 50), ("LARGE", 12)),
            (("HANDICAP", 4), ("EV", 8), ("COMPACT", 26), ("STANDARD", 56), ("LARGE", 10)),
            (("HANDICAP", 2), ("EV", 4), ("COMPACT", 20), ("STANDARD", 50), ("LARGE", 20)),
        ),
        rate=None,
        commuters=6,
        visitor_pool=100,
        visitors_per_day=(5, 6),
        parked_now=12,
        out_of_use={(2, "33"): "MAINTENANCE", (2, "34"): "MAINTENANCE", (1, "20"): "RESERVED", (1, "21"): "RESERVED"},
        flat_rates=(
            FlatRate("Early bird", WEEKDAYS, time(6, 0), time(9, 0), time(19, 0), 1400),
            FlatRate("Evening", EVERY_DAY, time(17, 0), time(23, 0), time(6, 0), 900),
        ),
        vehicle_type_rates={VehicleType.MOTORCYCLE: VehicleTypeRate(hourly_rate_cents=150, daily_max_cents=1200)},
        permit_holders=3,
        validators=(
            ("Harbour Dental", ValidatorKind.FREE_MINUTES, 120),
            ("Cinema 6", ValidatorKind.PERCENT_OFF, 50),
        ),
        denied=(("BANNED1", "Unpaid fees from 2025; call the office"),),
    ),
    GarageSpec(
        name=f"Northgate Park & Ride {MARKER}",
        address="400 Northgate Avenue, Chicago, IL 60614",
        timezone="America/Chicago",
        capacity=300,
        layouts=(
            (("HANDICAP", 4), ("EV", 10), ("COMPACT", 16), ("STANDARD", 40), ("LARGE", 10)),
            (("HANDICAP", 2), ("EV", 6), ("COMPACT", 20), ("STANDARD", 44), ("LARGE", 8)),
            (("HANDICAP", 2), ("EV", 4), ("COMPACT", 16), ("STANDARD", 40), ("LARGE", 18)),
        ),
        rate=RateTerms(
            hourly_rate_cents=400,
            increment_minutes=30,
            grace_minutes=15,
            daily_max_cents=1800,
            lost_ticket_fee_cents=6000,
        ),
        commuters=5,
        visitor_pool=70,
        visitors_per_day=(3, 3),
        parked_now=8,
        out_of_use={(3, "60"): "MAINTENANCE", (1, "30"): "RESERVED"},
        flat_rates=(FlatRate("Commuter early bird", WEEKDAYS, time(5, 30), time(8, 30), time(18, 30), 1000),),
        permit_holders=2,
        validators=(
            ("Northgate Mall", ValidatorKind.AMOUNT_OFF, 300),
            ("City Library", ValidatorKind.FULL, 0),
        ),
        denied=(("STOLEN42", "Reported stolen: call the police desk"),),
    ),
)

VEHICLE_MIX = (("CAR", 62), ("EV", 14), ("MOTORCYCLE", 9), ("VAN", 10), ("TRUCK", 5))
COMMUTER_MIX = (("CAR", 70), ("EV", 25), ("MOTORCYCLE", 5))
PAYMENT_MIX = (("CARD", 50), ("CASH", 20), ("MOBILE", 20), ("VALIDATION", 10))
LOST_TICKETS = 3
REFUNDS = 2
VALIDATED_SHARE = 0.15  # visitors whose ticket a merchant validates before they leave
VOID_REASON = "Left through the open barrier during the power cut"
FIRST_NAMES = (
    "Ava",
    "Ben",
    "Chloe",
    "Daniel",
    "Elena",
    "Farah",
    "George",
    "Hana",
    "Ivan",
    "Julia",
    "Kofi",
    "Lena",
    "Marco",
    "Nadia",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sam",
    "Tariq",
    "Uma",
    "Victor",
    "Wen",
    "Yusuf",
    "Zoe",
)
LAST_NAMES = (
    "Anderson",
    "Brooks",
    "Chen",
    "Diaz",
    "Evans",
    "Fischer",
    "Garcia",
    "Hughes",
    "Ito",
    "Johnson",
    "Kowalski",
    "Lopez",
    "Murphy",
    "Nguyen",
    "Okafor",
    "Patel",
    "Quintero",
    "Rossi",
    "Smith",
    "Tanaka",
    "Usman",
    "Volkov",
    "Walsh",
    "Young",
    "Zhang",
)
AREA_CODES = ("617", "312", "773", "857", "708")


@dataclass
class SeedVehicle:
    plate: str
    type: str
    accessible: bool  # holds a disabled parking permit: asks for a HANDICAP spot when one is free
    free_at: datetime  # the simulation's "left the garage at"


@dataclass(frozen=True)
class Visit:
    """One planned session; `end` None: still parked (its planned exit lies after "now")."""

    garage: int
    vehicle: SeedVehicle
    start: datetime
    end: datetime | None


@dataclass
class Tally:
    spots: Counter[str] = field(default_factory=Counter)
    vehicles: Counter[str] = field(default_factory=Counter)
    owners: int = 0
    completed: int = 0
    active: int = 0
    skipped_full: int = 0
    methods: Counter[str] = field(default_factory=Counter)
    lost: int = 0
    refunded: int = 0
    revenue_cents: int = 0
    discount_cents: int = 0
    permits: int = 0
    validations: int = 0
    voided: int = 0
    denied: int = 0


def pick(rng: random.Random, mix: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([name for name, _ in mix], weights=[weight for _, weight in mix])[0]


# ---- spots ------------------------------------------------------------------------------------
def spot_drafts(spec: GarageSpec) -> list[SpotDraft]:
    drafts: list[SpotDraft] = []
    for level, layout in enumerate(spec.layouts, start=1):
        number = 0
        for spot_type, count in layout:
            for _ in range(count):
                number += 1
                drafts.append(_draft(spec, level, str(number), spot_type))
                if number % 10 == 0:
                    drafts.append(_draft(spec, level, f"{number}A", "MOTORCYCLE"))
    return drafts


def _draft(spec: GarageSpec, level: int, number: str, spot_type: str) -> SpotDraft:
    return SpotDraft(
        level=level,
        number=number,
        type=SpotType(spot_type),
        status=SpotStatus(spec.out_of_use.get((level, number), SpotStatus.AVAILABLE)),
    )


# ---- vehicles ---------------------------------------------------------------------------------
def plate_candidate(rng: random.Random, vehicle_type: str) -> str:
    def letter() -> str:
        return rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ")

    def digit() -> str:
        return str(rng.randint(0, 9))

    if vehicle_type == "MOTORCYCLE":
        raw = f"{digit()}{digit()}{letter()}{letter()}{digit()}"
    elif vehicle_type in ("VAN", "TRUCK"):
        raw = f"{letter()}{letter()} {digit()}{digit()}{digit()}{digit()}{digit()}"
    else:
        raw = rng.choice(
            (
                f"{digit()}{letter()}{letter()}{letter()}{digit()}{digit()}{digit()}",  # 7ABC123
                f"{letter()}{letter()}{letter()}-{digit()}{digit()}{digit()}{digit()}",  # ABC-1234
                f"{letter()}{letter()} {digit()}{digit()}{digit()}{digit()}",  # AB 1234
            )
        )
    return normalise_plate(raw)


def owner_details(rng: random.Random) -> dict[str, str | None]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    details: dict[str, str | None] = {"ownerName": f"{first} {last}"}
    if rng.random() < 0.85:
        details["ownerEmail"] = f"{first}.{last}{rng.randint(1, 99)}@example.com".lower()
    if rng.random() < 0.7:  # 555-01xx: numbers reserved for fiction
        details["ownerPhone"] = f"+1 {rng.choice(AREA_CODES)}-555-01{rng.randint(0, 99):02d}"
    return details


async def create_vehicle(
    services: Services,
    rng: random.Random,
    plates: random.Random,
    vehicle_type: str,
    *,
    with_owner: bool,
    accessible: bool,
    taken: set[str],
    tally: Tally,
) -> SeedVehicle:
    owner = owner_details(rng) if with_owner else {}
    while True:
        plate = plate_candidate(plates, vehicle_type)
        if plate in taken:
            continue
        taken.add(plate)
        try:
            await services.vehicles.create(license_plate=plate, type=vehicle_type, owner=owner, actor=ACTOR)
        except Conflict as error:
            if error.code != "DUPLICATE_PLATE":
                raise
            continue  # the plate belongs to data that was here before the seed: try another
        tally.vehicles[vehicle_type] += 1
        tally.owners += bool(owner)
        return SeedVehicle(
            plate=plate, type=vehicle_type, accessible=accessible, free_at=datetime.min.replace(tzinfo=UTC)
        )


# ---- the plan: who parks where and when --------------------------------------------------------
def local(day: date, hour: float, zone: ZoneInfo) -> datetime:
    minutes = round(hour * 60)
    moment = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=zone)
    return moment.astimezone(UTC)


def visitor_stay(rng: random.Random) -> tuple[float, timedelta]:
    """(arrival hour, length of stay) of a visitor."""
    kind = rng.random()
    if kind < 0.10:  # drives through, or drops someone off: inside the grace period
        return rng.uniform(8, 20), timedelta(minutes=rng.randint(3, 9))
    if kind < 0.72:  # shopping, appointments
        return rng.uniform(9, 19), timedelta(minutes=rng.randint(25, 240))
    if kind < 0.93:  # a working day, an event
        return rng.uniform(7, 14), timedelta(minutes=rng.randint(240, 600))
    return rng.uniform(17, 22), timedelta(minutes=rng.randint(12 * 60, 40 * 60))  # overnight, a trip


def plan_visits(
    rng: random.Random,
    index: int,
    spec: GarageSpec,
    commuters: list[SeedVehicle],
    visitors: list[SeedVehicle],
    now: datetime,
) -> list[Visit]:
    zone = ZoneInfo(spec.timezone)
    first_day = now.astimezone(zone).date() - timedelta(days=HISTORY_DAYS)
    window_start = now - timedelta(days=HISTORY_DAYS)
    arrivals: list[tuple[datetime, SeedVehicle | None, timedelta]] = []
    for offset in range(HISTORY_DAYS + 1):
        day = first_day + timedelta(days=offset)
        weekend = day.weekday() >= 5
        if not weekend:
            for commuter in commuters:
                if rng.random() < 0.85:
                    start = local(day, rng.uniform(7, 9.5), zone)
                    leave = local(day, rng.uniform(16.5, 19), zone)
                    arrivals.append((start, commuter, leave - start))
        for _ in range(rng.randint(max(0, spec.visitors_per_day[weekend] - 2), spec.visitors_per_day[weekend] + 2)):
            hour, stay = visitor_stay(rng)
            arrivals.append((local(day, hour, zone), None, stay))
    # cars that came in over the last hours and are still here (long stays): ACTIVE sessions
    for _ in range(spec.parked_now):
        arrivals.append((now - timedelta(minutes=rng.randint(20, 10 * 60)), None, timedelta(days=3)))

    visits: list[Visit] = []
    for start, regular, stay in sorted(arrivals, key=lambda arrival: arrival[0]):
        if not window_start <= start < now:
            continue
        if regular is None:  # a visitor: any vehicle of the pool that is not inside right now
            idle = [candidate for candidate in visitors if candidate.free_at <= start]
            if not idle:
                continue
            vehicle = rng.choice(idle)
        elif regular.free_at > start:
            continue
        else:
            vehicle = regular
        end = start + stay
        vehicle.free_at = end
        visits.append(Visit(garage=index, vehicle=vehicle, start=start, end=end if end < now else None))
    return visits


# ---- running the plan through the parking service ---------------------------------------------
@dataclass
class Parked:
    checked_in: CheckedIn
    handicap_spot: str | None


async def run_visits(
    services: Services,
    rng: random.Random,
    garages: list[Garage],
    handicap_spots: list[list[Spot]],
    visits: list[Visit],
    validators: list[list[str]],
    tally: Tally,
    progress: Bar,
) -> tuple[list[str], list[str]]:
    """Check-ins and check-outs in time order (so spot assignment sees the garage as it was),
    check-outs first at equal times; some visitors' tickets validated just before they leave.
    Returns the ids of payments with a fee (refund candidates) and of the sessions still ACTIVE."""
    events: list[tuple[datetime, int, int]] = []  # (time, 0 = out / 1 = in, visit index)
    for number, visit in enumerate(visits):
        events.append((visit.start, 1, number))
        if visit.end is not None:
            events.append((visit.end, 0, number))
    events.sort()
    completed = [number for number, visit in enumerate(visits) if visit.end is not None]
    lost = set(rng.sample(completed, min(LOST_TICKETS, len(completed))))
    parked: dict[int, Parked] = {}
    busy_handicap: set[str] = set()
    paid: list[str] = []
    for moment, kind, number in events:
        progress.advance(1)
        visit = visits[number]
        if kind == 1:
            spot_id = None
            if visit.vehicle.accessible:
                spot_id = next((s.id for s in handicap_spots[visit.garage] if s.id not in busy_handicap), None)
            try:
                checked_in = await services.parking.check_in(
                    garages[visit.garage].id,
                    license_plate=visit.vehicle.plate,
                    vehicle_type=VehicleType(visit.vehicle.type),
                    spot_id=spot_id,
                    at=moment,
                    actor=ACTOR,
                )
            except Conflict as error:
                if error.code != "GARAGE_FULL":
                    raise
                tally.skipped_full += 1
                continue
            parked[number] = Parked(checked_in, spot_id)
            if spot_id is not None:
                busy_handicap.add(spot_id)
            if visit.end is None:
                tally.active += 1
            continue
        stay = parked.pop(number, None)
        if stay is None:  # its check-in found the garage full
            continue
        method = pick(rng, PAYMENT_MIX)
        reference = payment_reference(rng, method)
        lost_ticket = number in lost
        if validators[visit.garage] and rng.random() < VALIDATED_SHARE:
            await services.validations.validate(
                stay.checked_in.ticket.code, rng.choice(validators[visit.garage]), bound_to=None, actor=ACTOR
            )
            tally.validations += 1
        if method in ("CASH", "VALIDATION") and not lost_ticket:
            # pay stations know the ticket, not the session
            leaving = Exit(payment_method=PaymentMethod(method), reference=reference, at=moment)
            result = await services.parking.check_out_ticket(stay.checked_in.ticket.code, leaving, actor=ACTOR)
        else:
            leaving = Exit(
                payment_method=PaymentMethod(method), reference=reference, lost_ticket=lost_ticket, at=moment
            )
            result = await services.parking.check_out(stay.checked_in.session.id, leaving, actor=ACTOR)
        if stay.handicap_spot is not None:
            busy_handicap.discard(stay.handicap_spot)
        tally.completed += 1
        tally.methods[method] += 1
        tally.lost += lost_ticket
        tally.revenue_cents += result.payment.amountCents
        tally.discount_cents += result.payment.discountCents
        if result.payment.amountCents > 0:
            paid.append(result.payment.id)
    return paid, [stay.checked_in.session.id for stay in parked.values()]


def payment_reference(rng: random.Random, method: str) -> str | None:
    if method == "CARD":
        return f"VISA ****{rng.randint(0, 9999):04d} auth {rng.randint(100000, 999999)}"
    if method == "MOBILE":
        return f"MPAY-{rng.randint(10**9, 10**10 - 1)}"
    if method == "VALIDATION":
        return rng.choice(("Harbour Dental", "Cinema 6", "City Library", "Northgate Mall"))
    return None


async def issue_permits(
    services: Services, garage: Garage, holders: list[SeedVehicle], now: datetime, tally: Tally
) -> None:
    """A monthly permit for each holder, covering the whole history and the weeks ahead; the first
    holder also has last year's pass, cancelled (history a permit list shows)."""
    for number, holder in enumerate(holders):
        name = f"{FIRST_NAMES[number * 7 % len(FIRST_NAMES)]} {LAST_NAMES[number * 5 % len(LAST_NAMES)]}"
        await services.permits.create(
            garage.id,
            license_plate=holder.plate,
            holder={"holderName": name, "holderEmail": f"{name.split()[0].lower()}@example.com"},
            valid_from=now - timedelta(days=HISTORY_DAYS + 2),
            valid_to=now + timedelta(days=30),
            actor=ACTOR,
        )
        tally.permits += 1
    if holders:
        lapsed = await services.permits.create(
            garage.id,
            license_plate=holders[0].plate,
            holder={"holderName": None, "holderEmail": None},
            valid_from=now - timedelta(days=HISTORY_DAYS + 400),
            valid_to=now - timedelta(days=HISTORY_DAYS + 30),
            actor=ACTOR,
        )
        await services.permits.update(lapsed.id, {"status": PermitStatus.CANCELLED}, actor=ACTOR)
        tally.permits += 1


# ---- main -------------------------------------------------------------------------------------
async def existing_seed(services: Services) -> list[Garage]:
    found: list[Garage] = []
    cursor: str | None = None
    while True:
        page = await services.garages.list(limit=200, cursor=cursor)
        found += [garage for garage in page.items if garage.name.endswith(MARKER)]
        if page.next_after_id is None:
            return found
        cursor = page.next_after_id


async def seed(services: Services, phases: Phases) -> Tally | None:
    already = await existing_seed(services)
    if already:
        names = ", ".join(sorted(garage.name for garage in already))
        print(
            f"Seed data is already there ({names}): nothing to do. "
            "To start over on a development database: prisma migrate reset"
        )
        return None

    rng = random.Random(RANDOM_SEED)
    # plates have their own stream: a plate taken by other data shifts the plates, not the plan
    plates = random.Random(RANDOM_SEED + 1)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    tally = Tally()
    garages: list[Garage] = []
    handicap_spots: list[list[Spot]] = []
    building = phases.start("garages and spots", len(GARAGES))
    for spec in GARAGES:
        garage = await services.garages.create(
            name=spec.name,
            address=spec.address,
            timezone=spec.timezone,
            currency="USD",
            capacity=spec.capacity,
            actor=ACTOR,
        )
        if spec.rate is not None or spec.flat_rates or spec.vehicle_type_rates:
            await services.garages.put_rate(
                garage.id,
                spec.rate or DEFAULT_RATE,
                vehicle_type_rates=spec.vehicle_type_rates,
                flat_rates=spec.flat_rates,
                actor=ACTOR,
            )
        for plate, reason in spec.denied:
            await services.denied_plates.put(garage.id, plate, reason, actor=ACTOR)
            tally.denied += 1
        spots = await services.spots.create(garage.id, spot_drafts(spec), actor=ACTOR)  # one bulk call
        tally.spots.update(spot.type for spot in spots)
        garages.append(garage)
        handicap_spots.append([s for s in spots if s.type == "HANDICAP" and s.status == "AVAILABLE"])
        building.advance(1)

    validators = [
        [
            (await services.validations.create_validator(garage.id, name=name, kind=kind, value=value, actor=ACTOR)).id
            for name, kind, value in spec.validators
        ]
        for garage, spec in zip(garages, GARAGES, strict=True)
    ]
    taken: set[str] = {plate for spec in GARAGES for plate, _ in spec.denied}
    visits: list[Visit] = []
    registering = phases.start("vehicles", sum(spec.commuters + spec.visitor_pool for spec in GARAGES))
    for index, spec in enumerate(GARAGES):
        commuters = [
            await create_vehicle(
                services,
                rng,
                plates,
                pick(rng, COMMUTER_MIX),
                with_owner=True,
                accessible=number == 0,
                taken=taken,
                tally=tally,
            )
            for number in range(spec.commuters)
        ]
        registering.advance(spec.commuters)
        await issue_permits(services, garages[index], commuters[: spec.permit_holders], now, tally)
        visitors = []
        for _ in range(spec.visitor_pool):
            vehicle_type = pick(rng, VEHICLE_MIX)
            visitors.append(
                await create_vehicle(
                    services,
                    rng,
                    plates,
                    vehicle_type,
                    with_owner=rng.random() < 0.3,
                    accessible=vehicle_type in ("CAR", "EV") and rng.random() < 0.06,
                    taken=taken,
                    tally=tally,
                )
            )
            registering.advance(1)
        visits += plan_visits(rng, index, spec, commuters, visitors, now)

    moves = sum(1 + (visit.end is not None) for visit in visits)  # a check-in, and a check-out when it ended
    paid, parked = await run_visits(
        services, rng, garages, handicap_spots, visits, validators, tally, phases.start("visits", moves)
    )
    if parked:  # the newest car still inside left through the open barrier: void its session
        await services.parking.void(parked[-1], reason=VOID_REASON, actor=ACTOR)
        tally.voided += 1
        tally.active -= 1
    refunds = rng.sample(paid, min(REFUNDS, len(paid)))
    refunding = phases.start("refunds", len(refunds))
    for payment_id in refunds:
        refunded = await services.payments.refund(payment_id, actor=ACTOR)
        tally.refunded += 1
        tally.revenue_cents -= refunded.amountCents
        refunding.advance(1)
    phases.finish()
    return tally


def summary(tally: Tally, seconds: float) -> str:
    spots = ", ".join(f"{name} {count}" for name, count in sorted(tally.spots.items()))
    vehicles = ", ".join(f"{name} {count}" for name, count in sorted(tally.vehicles.items()))
    methods = ", ".join(f"{name} {count}" for name, count in sorted(tally.methods.items()))
    lines = [
        f"Seeded in {seconds:.1f} s (audit actor {ACTOR!r}):",
        f"  garages:  {len(GARAGES)} ({'; '.join(spec.name for spec in GARAGES)}), 3 levels each",
        f"  spots:    {sum(tally.spots.values())} ({spots})",
        f"  vehicles: {sum(tally.vehicles.values())} ({vehicles}); {tally.owners} with owner details",
        f"  sessions: {tally.completed} completed over {HISTORY_DAYS} days, {tally.active} active now",
        f"  payments: {methods}; {tally.lost} lost tickets, {tally.refunded} refunded; "
        f"revenue ${tally.revenue_cents / 100:,.2f}",
        f"  operations: {tally.permits} permits, {tally.validations} validations "
        f"(${tally.discount_cents / 100:,.2f} off), {tally.voided} void, {tally.denied} denied plates, "
        f"{sum(len(spec.flat_rates) for spec in GARAGES)} flat rates",
    ]
    if tally.skipped_full:
        lines.append(f"  ({tally.skipped_full} planned check-ins found no fitting spot and were skipped)")
    return "\n".join(lines)


async def main() -> int:
    settings = load_settings()
    if settings.environment is Environment.PRODUCTION:
        # `make run` seeds on every start: in production that is a no-op, not a failure
        print("Not seeding: GARAGE_ENV=production (seed.py writes development data only)")
        return 0
    started = clock.perf_counter()
    try:
        async with connected(settings) as database:
            with phase_bars() as phases:
                tally = await seed(Services.build(settings, database), phases)
    except BaseException:
        print(
            "seed.py: the seed stopped part-way; on a development database start over with `prisma migrate reset`",
            file=sys.stderr,
        )
        raise
    if tally is not None:
        print(summary(tally, clock.perf_counter() - started))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
