"""The parking flow: check-in, quote, check-out (by session or ticket), and reading sessions,
tickets and payments; refunds.

Round trips are what a check-in or check-out costs (each ~1 ms through the client and the engine;
SQLite's own work is microseconds), and the write lock is what every worker process queues for:
- Reads that need no lock happen first, outside any transaction and together (asyncio.gather).
- Every write of one operation, with the audit rows the repositories record for it, goes as ONE
  transactional batch (`Database.batch`, or `UnitOfWork.batched` inside check-in's transaction):
  the engine runs it in one SQLite transaction, all or nothing, in one request.
- Check-out needs no interactive transaction: its batch completes the session only if it is still
  ACTIVE (the guard is in the UPDATE's WHERE: a stale read fails the whole batch), so SQLite's
  write lock is held only while the engine runs that one batch.
- Check-in picks "the first fitting spot" inside an interactive transaction (BEGIN IMMEDIATE), so
  simultaneous check-ins in every worker process queue for the pick instead of all picking the
  same spot: begin, pick, batch, commit are the round trips under the lock. (An optimistic pick
  outside the lock, guarded in the batch, was measured: with two workers, check-ins kept losing
  the race for the same spot and some ran out of attempts with a false GARAGE_FULL.)
- A check-in whose batch failed because a concurrent request changed what it read outside the
  lock (the plate or the vehicle's ACTIVE session appeared) starts again from its reads, which
  then give the contract's 409.
The partial unique indexes (one ACTIVE session per spot and per vehicle, one live vehicle per
plate) are the last line of defence; their violations map to the contract's 409 codes.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from garage.errors import Conflict, NotFound, RecordMissing, UniqueViolation, ValidationFailed, found
from garage.repositories.pagination import Page
from garage.repositories.payments import PaymentRepository
from garage.repositories.rates import flat_rates_of, terms_of, vehicle_type_rates_of
from garage.repositories.records import Garage, ParkingSession, Payment, Spot, Ticket, Vehicle
from garage.repositories.rows import at_db_precision, now_ms
from garage.repositories.sessions import SessionRepository
from garage.repositories.spots import SpotRepository
from garage.repositories.unit_of_work import Database, UnitOfWork
from garage.repositories.vehicles import VehicleRepository
from garage.security.crypto import FieldCipher
from garage.services import pricing
from garage.services.garages import live_garage
from garage.services.tickets import new_ticket_code, normalise_ticket_code
from garage.vocabulary import (
    DEFAULT_RATE,
    HANDICAP_VEHICLES,
    PAYMENT_REFERENCE,
    SPOT_PREFERENCE,
    PaymentMethod,
    PermitStatus,
    SessionStatus,
    SpotStatus,
    SpotType,
    ValidatorKind,
    VehicleType,
)

log = logging.getLogger(__name__)
CLOCK_SKEW = timedelta(seconds=5)
# Check-ins wait behind each other (and behind other workers) for the write lock up to the
# client's wait limit (GARAGE_DB_WAIT_SECONDS, garage/db/__init__.py), then 503. Once started, a busy
# machine may need more than the default 5 s to finish one.
TX_LIMITS: dict[str, Any] = {"timeout": timedelta(seconds=15)}
# Attempts of a check-in whose batch lost a race to a request that changed what it read outside
# the lock (module docstring); each lost race means another request succeeded.
_CHECK_IN_ATTEMPTS = 5
# Attempts of a check-out whose session gained a validation or changed permit between its read and its
# batch (each such change is a rare, single event: a second attempt normally succeeds).
_CHECK_OUT_ATTEMPTS = 3


def spot_accepts(spot_type: str, vehicle_type: VehicleType) -> bool:
    """Whether a spot asked for by id can take the vehicle (API.md, Clarifications: "Spot fit")."""
    if spot_type == SpotType.HANDICAP:
        return vehicle_type in HANDICAP_VEHICLES
    return spot_type in SPOT_PREFERENCE[vehicle_type]


@dataclass(frozen=True)
class CheckedIn:
    session: ParkingSession
    ticket: Ticket
    spot: Spot


@dataclass(frozen=True)
class CheckedOut:
    session: ParkingSession
    payment: Payment
    ticket: Ticket


@dataclass(frozen=True)
class Exit:
    """How a vehicle leaves (check-out by session, ticket or plate): the payment method, its
    reference (sensitive: sealed before it is stored), a lost ticket, a back-dated exit time."""

    payment_method: PaymentMethod
    reference: str | None = None
    lost_ticket: bool = False
    at: datetime | None = None


@dataclass(frozen=True)
class Voided:
    session: ParkingSession
    ticket: Ticket


class ParkingService:
    def __init__(self, db: Database, cipher: FieldCipher) -> None:
        self._db = db
        self._cipher = cipher

    # ---- check-in -------------------------------------------------------------------------
    async def check_in(
        self,
        garage_id: str,
        *,
        license_plate: str,
        vehicle_type: VehicleType | None,
        spot_id: str | None,
        at: datetime | None,
        actor: str,
    ) -> CheckedIn:
        """`license_plate` is normalised. Raises NotFound, ValidationFailed or Conflict
        (GARAGE_CLOSED, VEHICLE_DENIED, VEHICLE_ALREADY_PARKED, GARAGE_FULL, SPOT_NOT_AVAILABLE,
        SPOT_INCOMPATIBLE); a failed check-in writes nothing.

        Round trips: the garage, the vehicle (with its latest session) and the deny list read together;
        then, under the write lock, the spot picked, the covering permit read and every write as one
        batch (module docstring)."""
        now = now_ms()
        if at is not None and at > now + CLOCK_SKEW:
            raise _invalid("at", "must not be in the future")
        start = now if at is None else at_db_precision(min(at, now))
        for attempt in range(1, _CHECK_IN_ATTEMPTS + 1):
            garage, vehicle, denied = await asyncio.gather(
                live_garage(self._db.garages, garage_id),
                self._db.vehicles.live_by_plate_with_latest_session(license_plate),
                self._db.denied_plates.get(garage_id, license_plate),
            )
            # in the contract's order (API-operations.md, "Precise points"): closed, denied, then the vehicle's
            # own conflicts, then the spot's
            if garage.closed:
                raise Conflict(f"Garage {garage.name} is closed to check-ins", code="GARAGE_CLOSED")
            if denied is not None:
                raise Conflict(f"Vehicle {license_plate} may not enter: {denied.reason}", code="VEHICLE_DENIED")
            parked_as = _vehicle_may_enter(vehicle, license_plate, vehicle_type, start)

            # Awaited within this attempt (transaction() below), so the loop variables it reads (B023) are this
            # attempt's own.
            async def occupy(unit: UnitOfWork) -> CheckedIn:
                try:
                    spot = await self._choose_spot(unit.spots, garage.id, spot_id, parked_as)  # noqa: B023
                except Conflict:
                    await _refuse_if_parked_meanwhile(unit.vehicles, license_plate)
                    raise
                # Under the write lock, like the permits service's update of the ACTIVE session it covers: a
                # permit committed at any moment is seen either here or by that update, never by neither.
                permit = await unit.permits.covering(garage.id, license_plate, start)  # noqa: B023
                permit_id = permit.id if permit is not None else None
                return await self._occupy(unit, spot, vehicle, license_plate, parked_as, permit_id, start)  # noqa: B023

            try:
                return await self._db.transaction(occupy, actor=actor, **TX_LIMITS)
            except (RecordMissing, UniqueViolation) as error:
                if attempt == _CHECK_IN_ATTEMPTS:
                    raise _check_in_conflict(error, by_spot_id=spot_id is not None) from error
                log.info("check-in of %s lost a race (%s); reading again", license_plate, type(error).__name__)
        raise AssertionError("unreachable")

    @staticmethod
    async def _occupy(
        unit: UnitOfWork,
        spot: Spot,
        vehicle: Vehicle | None,
        plate: str,
        parked_as: VehicleType,
        permit_id: str | None,
        start: datetime,
    ) -> CheckedIn:
        """Every write of the check-in as ONE batch in the unit's transaction; the repositories
        record its audit (the vehicle's CREATE if it is new, CHECK_IN, the spot's UPDATE)."""
        now = now_ms()
        async with unit.batched() as batch:
            if vehicle is None:
                vehicle = batch.vehicles.queue_create(license_plate=plate, type=parked_as, now=now)
            session = batch.sessions.queue_start(
                spot=spot,
                vehicle_id=vehicle.id,
                license_plate=plate,
                vehicle_type=parked_as,
                permit_id=permit_id,
                start_time=start,
                ticket_code=new_ticket_code(),
                now=now,
            )
            occupied = batch.spots.queue_occupy(spot, session_id=session.id, now=now)
        assert session.ticket is not None  # started with its ticket
        return CheckedIn(session=session, ticket=session.ticket, spot=occupied)

    @staticmethod
    async def _choose_spot(
        spots: SpotRepository, garage_id: str, spot_id: str | None, vehicle_type: VehicleType
    ) -> Spot:
        if spot_id is None:
            spot = await spots.first_available(garage_id, list(SPOT_PREFERENCE[vehicle_type]))
            if spot is None:
                raise Conflict(f"No free spot fits a {vehicle_type}", code="GARAGE_FULL")
            return spot
        spot = await spots.get_live(spot_id)
        if spot is None or spot.garageId != garage_id:
            raise NotFound(f"No spot {spot_id} in garage {garage_id}")
        if not spot_accepts(spot.type, vehicle_type):
            raise Conflict(f"A {spot.type} spot does not take a {vehicle_type}", code="SPOT_INCOMPATIBLE")
        if spot.status != SpotStatus.AVAILABLE:
            raise Conflict(f"Spot {spot.number} is {spot.status}", code="SPOT_NOT_AVAILABLE")
        return spot

    # ---- quote and check-out -------------------------------------------------------------
    async def quote(self, session_id: str, *, at: datetime | None, lost_ticket: bool) -> tuple[pricing.Quote, datetime]:
        """What check-out would charge at `at` (default now); writes nothing. `at` may lie in the
        future (a pay station can quote a planned exit) but not before the session started."""
        session = await _session(self._db.sessions, session_id, with_garage_and_rate=True)
        return self._quote(session, at=at, lost_ticket=lost_ticket)

    async def quote_plate(
        self, garage_id: str, license_plate: str, *, at: datetime | None, lost_ticket: bool
    ) -> tuple[ParkingSession, pricing.Quote, datetime]:
        """`quote` for the plate's ACTIVE session in the garage (cameras that read only the plate)."""
        session = await self._active_by_plate(garage_id, license_plate)
        fee, end = self._quote(session, at=at, lost_ticket=lost_ticket)
        return session, fee, end

    def _quote(
        self, session: ParkingSession, *, at: datetime | None, lost_ticket: bool
    ) -> tuple[pricing.Quote, datetime]:
        _require_active(session)
        end = now_ms() if at is None else at
        if end < session.startTime - CLOCK_SKEW:
            raise _invalid("at", "is before the session started")
        end = max(end, session.startTime)
        return _fee(session, end, lost_ticket=lost_ticket), end

    async def check_out(self, session_id: str, leaving: Exit, *, actor: str) -> CheckedOut:
        session = await _session(self._db.sessions, session_id, with_garage_and_rate=True)
        return await self._complete(session, leaving, actor)

    async def check_out_ticket(self, code: str, leaving: Exit, *, actor: str) -> CheckedOut:
        session = await _session_of_ticket(self._db.sessions, code, with_garage_and_rate=True)
        return await self._complete(session, leaving, actor)

    async def check_out_plate(self, garage_id: str, license_plate: str, leaving: Exit, *, actor: str) -> CheckedOut:
        """Exit by plate: check-out of the plate's ACTIVE session in the garage (404 when there is none)."""
        session = await self._active_by_plate(garage_id, license_plate)
        return await self._complete(session, leaving, actor)

    async def _active_by_plate(self, garage_id: str, license_plate: str) -> ParkingSession:
        garage, session = await asyncio.gather(
            live_garage(self._db.garages, garage_id),
            self._db.sessions.active_by_plate(garage_id, license_plate, with_garage_and_rate=True),
        )
        return found(session, f"ACTIVE session of {license_plate} in garage {garage.name}")

    async def void(self, session_id: str, *, reason: str, actor: str) -> Voided:
        """ACTIVE -> VOIDED now: no fee, no payment, the ticket VOID, the spot freed, in ONE batch
        guarded like check-out's (module docstring): of a void and a check-out racing, one wins and
        the other gets SESSION_NOT_ACTIVE."""
        session = await _session(self._db.sessions, session_id, with_garage_and_rate=True)
        _require_active(session)
        assert session.spot is not None  # read with it
        now = now_ms()
        try:
            async with self._db.batch(actor=actor) as unit:
                voided = unit.sessions.queue_void(session, reason=reason, end_time=max(now, session.startTime), now=now)
                unit.spots.queue_release(session.spot, session_id=session.id, now=now)
        except (RecordMissing, UniqueViolation) as error:
            raise _not_active() from error
        assert voided.ticket is not None  # voided with its ticket
        return Voided(session=voided, ticket=voided.ticket)

    async def _complete(self, session: ParkingSession, leaving: Exit, actor: str) -> CheckedOut:
        """Ends `session` (read with its ticket, garage, rate, permit and validation). A batch that
        finds the session changed since it was read (RecordMissing: a validation or a permit change
        committed in between) is priced again from a fresh read; one that finds it ended, or whose
        payment already exists (Payment.sessionId is unique), answers SESSION_NOT_ACTIVE."""
        sealed_reference = self._cipher.encrypt_optional(leaving.reference, PAYMENT_REFERENCE)
        for attempt in range(1, _CHECK_OUT_ATTEMPTS + 1):
            try:
                done = await self._complete_once(session, leaving, sealed_reference, actor)
                return CheckedOut(done.session, reveal_payment(self._cipher, done.payment), done.ticket)
            except UniqueViolation as error:
                raise _not_active() from error
            except RecordMissing as error:
                session = await _session(self._db.sessions, session.id, with_garage_and_rate=True)
                if session.status != SessionStatus.ACTIVE or attempt == _CHECK_OUT_ATTEMPTS:
                    raise _not_active() from error
                log.info("check-out of %s found it changed since it was read; pricing it again", session.id)
        raise AssertionError("unreachable")

    async def _complete_once(
        self, session: ParkingSession, leaving: Exit, sealed_reference: str | None, actor: str
    ) -> CheckedOut:
        """ONE batch of writes: no interactive transaction (module docstring). The batch completes
        the session only if it is still as it was priced (the guard is in the UPDATE's WHERE:
        SessionRepository.queue_complete); otherwise it fails whole."""
        _require_active(session)
        # every session has a garage, a ticket and a spot (read with them for check-out)
        assert session.garage is not None and session.ticket is not None and session.spot is not None
        end = _end_time(leaving.at, session.startTime)
        # the rate in force when the check-out is processed (API.md, Clarifications)
        fee = _fee(session, end, lost_ticket=leaving.lost_ticket)
        now = now_ms()
        async with self._db.batch(actor=actor) as unit:
            payment = unit.payments.queue_create(
                session_id=session.id,
                garage_id=session.garageId,
                amount_cents=fee.fee_cents,
                currency=session.garage.currency,
                method=leaving.payment_method,
                reference=sealed_reference,
                discount_cents=fee.discount_cents,
                created_at=end,
                now=now,
            )
            completed = unit.sessions.queue_complete(
                session,
                end_time=end,
                fee_cents=fee.fee_cents,
                minutes=fee.minutes,
                lost_ticket=leaving.lost_ticket,
                payment=payment,
                now=now,
            )
            unit.spots.queue_release(session.spot, session_id=session.id, now=now)
        assert completed.ticket is not None  # completed with its ticket
        return CheckedOut(session=completed, payment=payment, ticket=completed.ticket)

    # ---- reading ---------------------------------------------------------------------------
    async def session(self, session_id: str) -> ParkingSession:
        return await _session(self._db.sessions, session_id)

    async def sessions(
        self,
        *,
        garage_id: str | None,
        status: SessionStatus | None,
        license_plate: str | None,
        plate_contains: str | None = None,
        since: datetime | None,
        until: datetime | None,
        limit: int,
        cursor: str | None,
    ) -> Page[ParkingSession]:
        return await self._db.sessions.list(
            garage_id=garage_id,
            status=status,
            license_plate=license_plate,
            plate_contains=plate_contains,
            since=since,
            until=until,
            limit=limit,
            cursor=cursor,
        )

    async def ticket(self, code: str) -> tuple[Ticket, ParkingSession]:
        session = await _session_of_ticket(self._db.sessions, code)
        assert session.ticket is not None  # found through it
        return session.ticket, session


class PaymentService:
    def __init__(self, db: Database, cipher: FieldCipher) -> None:
        self._db = db
        self._cipher = cipher

    async def get(self, payment_id: str) -> Payment:
        return reveal_payment(self._cipher, await _payment(self._db.payments, payment_id))

    async def list(
        self, *, garage_id: str | None, since: datetime | None, until: datetime | None, limit: int, cursor: str | None
    ) -> Page[Payment]:
        page = await self._db.payments.list(garage_id=garage_id, since=since, until=until, limit=limit, cursor=cursor)
        return Page(items=[reveal_payment(self._cipher, p) for p in page.items], next_after_id=page.next_after_id)

    async def refund(self, payment_id: str, *, actor: str) -> Payment:
        """COMPLETED -> REFUNDED. Refunding twice is 409 PAYMENT_ALREADY_REFUNDED (a retry must
        not look like a second refund)."""

        async def refund(unit: UnitOfWork) -> Payment:
            before = await _payment(unit.payments, payment_id)
            refunded = await unit.payments.refund(before)
            if refunded is None:
                raise Conflict("The payment is already refunded", code="PAYMENT_ALREADY_REFUNDED")
            return refunded

        return reveal_payment(self._cipher, await self._db.transaction(refund, actor=actor))


def reveal_payment(cipher: FieldCipher, payment: Payment) -> Payment:
    return payment.model_copy(update={"reference": cipher.decrypt_optional(payment.reference, PAYMENT_REFERENCE)})


def _end_time(at: datetime | None, start: datetime) -> datetime:
    """Check-out time: `at` (back-dated gates) or now; never in the future, never before the
    start; within CLOCK_SKEW of either bound it is clamped to that bound."""
    now = now_ms()
    if at is None:
        return max(now, start)
    if at > now + CLOCK_SKEW:
        raise _invalid("at", "must not be in the future")
    if at < start - CLOCK_SKEW:
        raise _invalid("at", f"is before the session started ({start.isoformat()})")
    return at_db_precision(max(start, min(at, now)))


def _fee(session: ParkingSession, end: datetime, *, lost_ticket: bool) -> pricing.Quote:
    """The complete fee rule (services/pricing.py) for `session` (read with its garage, rate, permit
    and validation) ending at `end`."""
    assert session.garage is not None  # read with it
    stay = pricing.Stay(start=session.startTime, end=end, vehicle_type=VehicleType(session.vehicleType))
    validation = session.validation
    discount = pricing.Discount(ValidatorKind(validation.kind), validation.value) if validation is not None else None
    return pricing.complete_fee(
        stay, _tariff(session.garage), permit=_permit_cover(session), validation=discount, lost_ticket=lost_ticket
    )


def _tariff(garage: Garage) -> pricing.Tariff:
    """The garage's rate (read with it) as the fee rule reads it, in the garage's timezone."""
    if garage.rate is None:  # garages get a rate row at creation; imported data may lack one
        return pricing.Tariff(terms=DEFAULT_RATE, timezone=garage.timezone)
    return pricing.Tariff(
        terms=terms_of(garage.rate),
        vehicle_type_rates=vehicle_type_rates_of(garage.rate),
        flat_rates=flat_rates_of(garage.rate),
        timezone=garage.timezone,
    )


def _permit_cover(session: ParkingSession) -> pricing.PermitCover | None:
    """The session's permit (read with it) if it still covers the session: the permits service keeps
    permitId current while the session is ACTIVE; the status and window are checked again here."""
    permit = session.permit
    if permit is None or permit.status != PermitStatus.ACTIVE:
        return None
    if not permit.validFrom <= session.startTime < permit.validTo:
        return None
    return pricing.PermitCover(permit_id=permit.id, valid_to=permit.validTo)


def _vehicle_may_enter(
    vehicle: Vehicle | None, plate: str, vehicle_type: VehicleType | None, start: datetime
) -> VehicleType:
    """The type the vehicle parks as, or why it may not check in (read with its latest session)."""
    if vehicle is None:
        if vehicle_type is None:
            raise _invalid("vehicleType", "is required for a plate seen for the first time")
        return vehicle_type
    latest = vehicle.sessions[0] if vehicle.sessions else None
    if latest is not None and latest.status == SessionStatus.ACTIVE:
        raise _already_parked(plate)
    if latest is not None and latest.endTime is not None and start < latest.endTime:
        raise _invalid("at", f"is before this vehicle's last check-out ({latest.endTime.isoformat()})")
    # a known plate keeps its stored type, whatever the gate says (API.md, Clarifications)
    return VehicleType(vehicle.type)


async def _refuse_if_parked_meanwhile(vehicles: VehicleRepository, plate: str) -> None:
    """Under the write lock, when no spot could be had: if the plate was checked in since it was
    read outside the lock, the spot it lacks is probably the one that vehicle took. The contract
    answers such a loser VEHICLE_ALREADY_PARKED, not GARAGE_FULL or SPOT_NOT_AVAILABLE, so the
    plate is read again here (only on this path: a successful check-in pays no extra round trip)."""
    vehicle = await vehicles.live_by_plate_with_latest_session(plate)
    if vehicle is not None and vehicle.sessions and vehicle.sessions[0].status == SessionStatus.ACTIVE:
        raise _already_parked(plate)


async def _session(
    sessions: SessionRepository, session_id: str, *, with_garage_and_rate: bool = False
) -> ParkingSession:
    return found(await sessions.get(session_id, with_garage_and_rate=with_garage_and_rate), f"session {session_id}")


async def _session_of_ticket(
    sessions: SessionRepository, code: str, *, with_garage_and_rate: bool = False
) -> ParkingSession:
    found_session = await sessions.by_ticket_code(
        normalise_ticket_code(code), with_garage_and_rate=with_garage_and_rate
    )
    return found(found_session, f"ticket {code}")


async def _payment(payments: PaymentRepository, payment_id: str) -> Payment:
    return found(await payments.get(payment_id), f"payment {payment_id}")


def _require_active(session: ParkingSession) -> None:
    if session.status != SessionStatus.ACTIVE:
        raise _not_active()


def _not_active() -> Conflict:
    return Conflict("The session has already ended", code="SESSION_NOT_ACTIVE")


def _already_parked(plate: str) -> Conflict:
    return Conflict(f"Vehicle {plate} is already parked (it has an ACTIVE session)", code="VEHICLE_ALREADY_PARKED")


def _invalid(field: str, problem: str) -> ValidationFailed:
    return ValidationFailed(f"{field} {problem}", details={"fields": {field: problem}})


def _check_in_conflict(error: RecordMissing | UniqueViolation, *, by_spot_id: bool) -> Conflict:
    """What a check-in that kept losing races is told. The spot's guarded UPDATE matched nothing
    or a partial unique index refused a spot's second ACTIVE session: someone took the spot. A
    live plate or an ACTIVE session of the vehicle: someone checked the same vehicle in first."""
    if isinstance(error, RecordMissing) or error.involves("spotId"):
        if by_spot_id:
            return Conflict("The spot was just taken", code="SPOT_NOT_AVAILABLE")
        return Conflict("The spot picked was just taken; no other free spot fits", code="GARAGE_FULL")
    return Conflict("The vehicle was just checked in by another request", code="VEHICLE_ALREADY_PARKED")
