"""The parking flow: check-in, quote, check-out (by session or ticket), and reading sessions,
tickets and payments; refunds.

Check-in and check-out each run in ONE interactive transaction (garage.db.transaction: retried
whole on a transient failure, see garage/retry.py). The engine begins every
interactive transaction with BEGIN IMMEDIATE, so it holds SQLite's write lock from its first
statement: the checks inside ("is the spot free?", "is the vehicle parked?") and the writes that
depend on them are serialised across every worker process. The partial unique indexes (one
ACTIVE session per spot and per vehicle, one live vehicle per plate) are the last line of defence;
their violations map to the contract's 409 codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from prisma import Prisma
from prisma.errors import UniqueViolationError
from prisma.models import ParkingSession, Payment, Spot, Ticket

from garage.db import transaction
from garage.errors import Conflict, NotFound, found, ValidationFailed
from garage.repositories.audit import AuditRepository
from garage.repositories.garages import GarageRepository
from garage.repositories.pagination import Page
from garage.repositories.payments import PaymentRepository
from garage.repositories.rates import RateRepository
from garage.repositories.sessions import SessionRepository
from garage.repositories.spots import SpotRepository
from garage.repositories.tickets import TicketRepository
from garage.repositories.vehicles import VehicleRepository
from garage.security.crypto import FieldCipher
from garage.services import pricing
from garage.services.garages import live_garage
from garage.services.tickets import new_ticket_code, normalise_ticket_code
from garage.services.vehicles import audit_view as vehicle_audit_view

# API.md, Clarifications ("Spot fit"): the spot types a vehicle may be given, in preference order.
SPOT_PREFERENCE: dict[str, tuple[str, ...]] = {
    "MOTORCYCLE": ("MOTORCYCLE", "COMPACT", "STANDARD", "LARGE"),
    "CAR": ("COMPACT", "STANDARD", "LARGE"),
    "EV": ("EV", "COMPACT", "STANDARD", "LARGE"),
    "VAN": ("LARGE",),
    "TRUCK": ("LARGE",),
}
# HANDICAP spots are never picked automatically; asked for by spotId they take these vehicles.
HANDICAP_VEHICLES = frozenset({"MOTORCYCLE", "CAR", "EV"})
CLOCK_SKEW = timedelta(seconds=5)
REFERENCE_FIELD = "Payment.reference"
# Check-in/out wait behind each other (and behind other workers) for the write lock: give a burst
# of simultaneous gates time to queue instead of failing after the client's 2 s default.
TX_LIMITS: dict[str, Any] = {"max_wait": timedelta(seconds=15), "timeout": timedelta(seconds=15)}
_CODE_ATTEMPTS = 5


def spot_accepts(spot_type: str, vehicle_type: str) -> bool:
    """Whether a spot asked for by id can take the vehicle."""
    if spot_type == "HANDICAP":
        return vehicle_type in HANDICAP_VEHICLES
    return spot_type in SPOT_PREFERENCE[vehicle_type]


def now_ms() -> datetime:
    """Now, at the millisecond precision the database keeps (so responses match stored values)."""
    now = datetime.now(timezone.utc)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


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


class ParkingService:
    def __init__(self, db: Prisma, cipher: FieldCipher) -> None:
        self._db = db
        self._cipher = cipher

    # ---- check-in -------------------------------------------------------------------------
    async def check_in(
        self, garage_id: str, *, license_plate: str, vehicle_type: str | None, spot_id: str | None,
        at: datetime | None, actor: str,
    ) -> CheckedIn:
        """`license_plate` is normalised. Raises NotFound, ValidationFailed or Conflict
        (GARAGE_FULL, SPOT_NOT_AVAILABLE, SPOT_INCOMPATIBLE, VEHICLE_ALREADY_PARKED); a failed
        check-in writes nothing (the transaction rolls back, the new vehicle with it)."""
        now = now_ms()
        if at is not None and at > now + CLOCK_SKEW:
            raise _invalid("at", "must not be in the future")
        start = now if at is None else min(at, now)
        try:
            return await transaction(
                self._db, lambda tx: self._check_in(tx, garage_id, license_plate, vehicle_type, spot_id, start, actor),
                **TX_LIMITS,
            )
        except UniqueViolationError as error:
            raise _check_in_conflict(error, by_spot_id=spot_id is not None) from error

    async def _check_in(
        self, tx: Prisma, garage_id: str, plate: str, vehicle_type: str | None, spot_id: str | None,
        start: datetime, actor: str,
    ) -> CheckedIn:
        await live_garage(GarageRepository(tx), garage_id)
        vehicles, sessions, spots = VehicleRepository(tx), SessionRepository(tx), SpotRepository(tx)
        audit = AuditRepository(tx)
        vehicle = await vehicles.live_by_plate(plate)
        if vehicle is None:
            if vehicle_type is None:
                raise _invalid("vehicleType", "is required for a plate seen for the first time")
            parked_as = vehicle_type
        else:
            # a known plate keeps its stored type, whatever the gate says (API.md, Clarifications)
            parked_as = vehicle.type
            if await sessions.active_for_vehicle(vehicle.id) is not None:
                raise _already_parked(plate)
            last_exit = await sessions.latest_end_for_vehicle(vehicle.id)
            if last_exit is not None and start < last_exit:
                raise _invalid("at", f"is before this vehicle's last check-out ({last_exit.isoformat()})")

        spot = await self._choose_spot(spots, garage_id, spot_id, parked_as)
        if vehicle is None:
            vehicle = await vehicles.create(license_plate=plate, type=parked_as)
            await audit.record(actor=actor, action="CREATE", entity="Vehicle", entity_id=vehicle.id,
                               after=vehicle_audit_view(vehicle))
        session = await sessions.create(
            garage_id=garage_id, spot_id=spot.id, vehicle_id=vehicle.id, license_plate=plate, start_time=start
        )
        ticket = await TicketRepository(tx).create(
            code=await _unused_code(TicketRepository(tx)), session_id=session.id, issued_at=start
        )
        occupied = await spots.set_status(spot.id, "OCCUPIED")
        await audit.record(actor=actor, action="CHECK_IN", entity="Session", entity_id=session.id,
                           after={**_session_view(session), "ticketCode": ticket.code})
        await audit.record(actor=actor, action="UPDATE", entity="Spot", entity_id=spot.id,
                           before={"status": spot.status}, after={"status": occupied.status, "sessionId": session.id})
        return CheckedIn(session=session.model_copy(update={"ticket": ticket}), ticket=ticket, spot=occupied)

    @staticmethod
    async def _choose_spot(spots: SpotRepository, garage_id: str, spot_id: str | None, vehicle_type: str) -> Spot:
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
        if spot.status != "AVAILABLE":
            raise Conflict(f"Spot {spot.number} is {spot.status}", code="SPOT_NOT_AVAILABLE")
        return spot

    # ---- quote and check-out -------------------------------------------------------------
    async def quote(self, session_id: str, *, at: datetime | None, lost_ticket: bool) -> tuple[pricing.Fee, datetime]:
        """What check-out would charge at `at` (default now); writes nothing. `at` may lie in the
        future (a pay station can quote a planned exit) but not before the session started."""
        session = await _session(SessionRepository(self._db), session_id)
        _require_active(session)
        end = now_ms() if at is None else at
        if end < session.startTime - CLOCK_SKEW:
            raise _invalid("at", "is before the session started")
        end = max(end, session.startTime)
        rate = await _rate_terms(self._db, session.garageId)
        return pricing.fee_between(session.startTime, end, rate, lost_ticket=lost_ticket), end

    async def check_out(
        self, session_id: str, *, payment_method: str, reference: str | None, lost_ticket: bool,
        at: datetime | None, actor: str,
    ) -> CheckedOut:
        sealed = self._cipher.encrypt_optional(reference, REFERENCE_FIELD)
        try:
            result = await transaction(
                self._db, lambda tx: self._check_out(tx, session_id, payment_method, sealed, lost_ticket, at, actor),
                **TX_LIMITS,
            )
        except UniqueViolationError as error:
            # Payment.sessionId is unique: a second payment for one session means it already ended
            raise _not_active() from error
        return self._revealed(result)

    async def check_out_ticket(
        self, code: str, *, payment_method: str, reference: str | None, lost_ticket: bool,
        at: datetime | None, actor: str,
    ) -> CheckedOut:
        sealed = self._cipher.encrypt_optional(reference, REFERENCE_FIELD)
        async def by_ticket(tx: Prisma) -> CheckedOut:
            ticket = await _ticket(TicketRepository(tx), code)
            return await self._check_out(tx, ticket.sessionId, payment_method, sealed, lost_ticket, at, actor)

        try:
            result = await transaction(self._db, by_ticket, **TX_LIMITS)
        except UniqueViolationError as error:
            raise _not_active() from error
        return self._revealed(result)

    async def _check_out(
        self, tx: Prisma, session_id: str, method: str, sealed_reference: str | None, lost_ticket: bool,
        at: datetime | None, actor: str,
    ) -> CheckedOut:
        sessions = SessionRepository(tx)
        session = await _session(sessions, session_id, with_garage=True)
        assert session.garage is not None
        _require_active(session)
        end = _end_time(at, session.startTime)
        # the rate in force when the check-out is processed (API.md, Clarifications)
        fee = pricing.fee_between(session.startTime, end, await _rate_terms(tx, session.garageId), lost_ticket=lost_ticket)
        if not await sessions.complete(session_id, end_time=end, fee_cents=fee.fee_cents):
            raise _not_active()
        payment = await PaymentRepository(tx).create(
            session_id=session_id, garage_id=session.garageId, amount_cents=fee.fee_cents,
            currency=session.garage.currency, method=method, reference=sealed_reference, created_at=end,
        )
        ticket = await TicketRepository(tx).set_status(session_id, "LOST" if lost_ticket else "PAID")
        assert ticket is not None
        spot = await SpotRepository(tx).set_status(session.spotId, "AVAILABLE")
        completed = await _session(sessions, session_id)
        audit = AuditRepository(tx)
        await audit.record(actor=actor, action="CHECK_OUT", entity="Session", entity_id=session_id,
                           before=_session_view(session),
                           after={**_session_view(completed), "ticketStatus": ticket.status, "minutes": fee.minutes})
        await audit.record(actor=actor, action="CREATE", entity="Payment", entity_id=payment.id,
                           after=payment_audit_view(payment))
        await audit.record(actor=actor, action="UPDATE", entity="Spot", entity_id=spot.id,
                           before={"status": "OCCUPIED", "sessionId": session_id}, after={"status": spot.status})
        return CheckedOut(session=completed, payment=payment, ticket=ticket)

    def _revealed(self, result: CheckedOut) -> CheckedOut:
        return CheckedOut(session=result.session, payment=reveal_payment(self._cipher, result.payment), ticket=result.ticket)

    # ---- reading ---------------------------------------------------------------------------
    async def session(self, session_id: str) -> ParkingSession:
        return await _session(SessionRepository(self._db), session_id)

    async def sessions(
        self, *, garage_id: str | None, status: str | None, license_plate: str | None, since: datetime | None,
        until: datetime | None, limit: int, cursor: str | None,
    ) -> Page[ParkingSession]:
        return await SessionRepository(self._db).list(
            garage_id=garage_id, status=status, license_plate=license_plate, since=since, until=until,
            limit=limit, cursor=cursor,
        )

    async def ticket(self, code: str) -> tuple[Ticket, ParkingSession]:
        ticket = await _ticket(TicketRepository(self._db), code)
        return ticket, await _session(SessionRepository(self._db), ticket.sessionId)


class PaymentService:
    def __init__(self, db: Prisma, cipher: FieldCipher) -> None:
        self._db = db
        self._cipher = cipher

    async def get(self, payment_id: str) -> Payment:
        return reveal_payment(self._cipher, await _payment(PaymentRepository(self._db), payment_id))

    async def list(
        self, *, garage_id: str | None, since: datetime | None, until: datetime | None, limit: int, cursor: str | None
    ) -> Page[Payment]:
        page = await PaymentRepository(self._db).list(garage_id=garage_id, since=since, until=until, limit=limit, cursor=cursor)
        return Page(items=[reveal_payment(self._cipher, p) for p in page.items], next_after_id=page.next_after_id)

    async def refund(self, payment_id: str, *, actor: str) -> Payment:
        """COMPLETED -> REFUNDED. Refunding twice is 409 PAYMENT_ALREADY_REFUNDED (a retry must
        not look like a second refund)."""
        async def refund(tx: Prisma) -> Payment:
            payments = PaymentRepository(tx)
            before = await _payment(payments, payment_id)
            if not await payments.refund(payment_id):
                raise Conflict("The payment is already refunded", code="PAYMENT_ALREADY_REFUNDED")
            after = await _payment(payments, payment_id)
            await AuditRepository(tx).record(actor=actor, action="REFUND", entity="Payment", entity_id=payment_id,
                                             before=payment_audit_view(before), after=payment_audit_view(after))
            return after

        return reveal_payment(self._cipher, await transaction(self._db, refund))


def reveal_payment(cipher: FieldCipher, payment: Payment) -> Payment:
    return payment.model_copy(update={"reference": cipher.decrypt_optional(payment.reference, REFERENCE_FIELD)})


def payment_audit_view(payment: Payment) -> dict[str, Any]:
    """The audit log keeps whether a reference was given, never the reference."""
    view = payment.model_dump(mode="json", exclude={"session", "garage"})
    view["reference"] = "(set)" if payment.reference is not None else None
    return view


def _session_view(session: ParkingSession) -> dict[str, Any]:
    return session.model_dump(mode="json", exclude={"garage", "spot", "vehicle", "ticket", "payment"})


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
    return max(start, min(at, now))


async def _rate_terms(db: Prisma, garage_id: str) -> pricing.RateTerms:
    rate = await RateRepository(db).get(garage_id)
    if rate is None:  # garages get a rate row at creation; imported data may lack one
        return pricing.DEFAULT_RATE
    return pricing.RateTerms(
        hourly_rate_cents=rate.hourlyRateCents, increment_minutes=rate.incrementMinutes,
        grace_minutes=rate.graceMinutes, daily_max_cents=rate.dailyMaxCents,
        lost_ticket_fee_cents=rate.lostTicketFeeCents,
    )


async def _unused_code(tickets: TicketRepository) -> str:
    for _ in range(_CODE_ATTEMPTS):
        code = new_ticket_code()
        if not await tickets.code_taken(code):
            return code
    raise RuntimeError("no unused ticket code found")  # 2^50 codes: effectively unreachable


async def _session(sessions: SessionRepository, session_id: str, *, with_garage: bool = False) -> ParkingSession:
    return found(await sessions.get(session_id, with_garage=with_garage), f"session {session_id}")


async def _ticket(tickets: TicketRepository, code: str) -> Ticket:
    return found(await tickets.by_code(normalise_ticket_code(code)), f"ticket {code}")


async def _payment(payments: PaymentRepository, payment_id: str) -> Payment:
    return found(await payments.get(payment_id), f"payment {payment_id}")


def _require_active(session: ParkingSession) -> None:
    if session.status != "ACTIVE":
        raise _not_active()


def _not_active() -> Conflict:
    return Conflict("The session has already ended", code="SESSION_NOT_ACTIVE")


def _already_parked(plate: str) -> Conflict:
    return Conflict(f"Vehicle {plate} is already parked (it has an ACTIVE session)", code="VEHICLE_ALREADY_PARKED")


def _invalid(field: str, problem: str) -> ValidationFailed:
    return ValidationFailed(f"{field} {problem}", details={"fields": {field: problem}})


def _check_in_conflict(error: UniqueViolationError, *, by_spot_id: bool) -> Conflict:
    """Which partial unique index refused the check-in. A live plate or an ACTIVE session of the
    vehicle: someone checked the same vehicle in first. A spot's ACTIVE session: someone took it."""
    text = f"{error} {error.meta}"
    if "spotId" in text:
        if by_spot_id:
            return Conflict("The spot was just taken", code="SPOT_NOT_AVAILABLE")
        return Conflict("The spot picked was just taken; no other free spot fits", code="GARAGE_FULL")
    return Conflict("The vehicle was just checked in by another request", code="VEHICLE_ALREADY_PARKED")
