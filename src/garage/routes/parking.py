"""The parking flow over HTTP: check-in, quote, check-out (by session or by ticket code)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from garage.routes.endpoint import Call, Router
from garage.routes.models import ApiModel, IdText, InstantIn, LicensePlate, RequestModel, Timestamp
from garage.routes.payments import PaymentOut
from garage.routes.sessions import SessionOut, TicketOut
from garage.routes.spots import SpotOut
from garage.services import pricing
from garage.services.parking import CheckedOut, Exit
from garage.vocabulary import PaymentMethod, Role, ValidatorKind, VehicleType

ROUTER = Router()
"""This module's endpoints (listed in routes/api.py)."""


class CheckInIn(RequestModel):
    """A vehicle arriving at a garage's entry."""

    model_config = ConfigDict(
        title="CheckInRequest",
        json_schema_extra={
            "examples": [{"licensePlate": "AB-12 CD", "vehicleType": "CAR"}],
        },
    )

    license_plate: LicensePlate
    vehicle_type: VehicleType | None = Field(
        None, description="Required when the plate is new; a known plate keeps its stored type"
    )
    spot_id: IdText | None = Field(None, description="Park on this spot (the only way to a HANDICAP spot)")
    at: InstantIn | None = Field(
        None,
        description="Back-dates the entry (offline gates): any past time from "
        "1970 on, not before the vehicle's last exit; never in the future "
        "(up to 5 s ahead is taken as now)",
    )


class CheckOutIn(RequestModel):
    """A vehicle leaving: how the fee is paid."""

    model_config = ConfigDict(
        title="CheckOutRequest",
        json_schema_extra={"examples": [{"paymentMethod": "CARD", "reference": "card-txn-4711"}]},
    )

    payment_method: PaymentMethod
    reference: str | None = Field(None, min_length=1, max_length=100, description="Sensitive: encrypted at rest")
    lost_ticket: bool = Field(
        False, description="Charge at least the garage's lost-ticket fee; the ticket becomes LOST"
    )
    at: InstantIn | None = Field(
        None,
        description="Back-dates the exit: >= the session's startTime and not in the "
        "future (5 s clock skew tolerated, clamped to those bounds)",
    )

    def leaving(self) -> Exit:
        return Exit(
            payment_method=self.payment_method, reference=self.reference, lost_ticket=self.lost_ticket, at=self.at
        )


class QuoteQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    at: InstantIn | None = Field(
        None, description="Exit time to price (default now; may be in the future, not before the session started)"
    )
    lost_ticket: bool = Field(False, alias="lostTicket", description="Price it as a lost ticket")


class CheckInOut(ApiModel, title="CheckInResult"):
    """The session opened, its ticket and the spot taken."""

    session: SessionOut
    ticket: TicketOut
    spot: SpotOut


class CheckOutOut(ApiModel, title="CheckOutResult"):
    """The session ended, its payment and its ticket (PAID, or LOST)."""

    session: SessionOut
    payment: PaymentOut
    ticket: TicketOut


class AppliedValidationOut(ApiModel, title="AppliedValidation"):
    """The session's validation as the fee rule applied it."""

    kind: ValidatorKind
    value: int
    discount_cents: int = Field(description="The fee through step 4 without the validation minus with it")


class BreakdownOut(ApiModel, title="FeeBreakdown"):
    """How the fee was computed (API-operations.md, "The fee rule, complete"). The API.md fields below
    are computed on the billed minutes (the chargeable stay less FREE_MINUTES) with the vehicle type's
    hourly rate and daily maximum; when a permit covers the whole stay they are all zero."""

    grace_applied: bool = Field(description="minutes <= graceMinutes: nothing is due")
    days: int = Field(description="Whole days (minutes // 1440), each charged dailyMaxCents")
    days_cents: int
    rest_minutes: int = Field(description="minutes % 1440")
    increments: int = Field(description="ceil(restMinutes / incrementMinutes)")
    increment_cents: int = Field(description="round_half_up(hourlyRateCents * incrementMinutes / 60)")
    rest_cents: int = Field(description="min(dailyMaxCents, increments * incrementCents)")
    lost_ticket: bool
    lost_ticket_fee_cents: int
    lost_ticket_surcharge_cents: int = Field(description="What the lost-ticket minimum added")
    permit_id: str | None = Field(description="The permit covering the session, or null")
    permit_covered_minutes: int = Field(
        description="Whole minutes (rounded up) from startTime to the earlier of the exit and the permit's validTo"
    )
    flat_rate: str | None = Field(description="The name of the flat rate charged, or null")
    validation: AppliedValidationOut | None
    hourly_rate_cents: int = Field(description="The hourly rate used (the vehicle type's override, if any)")
    daily_max_cents: int = Field(description="The daily maximum used (the vehicle type's override, if any)")
    chargeable_minutes: int = Field(description="Step 1: the chargeable stay (after the permit) in whole minutes")
    billed_minutes: int = Field(description="Step 2: chargeableMinutes less FREE_MINUTES, not below 0")
    standard_fee_cents: int = Field(description="Step 2: API.md's formula on billedMinutes")
    flat_rate_cents: int | None = Field(description="The amount of flatRate, or null")
    fee_before_validation_cents: int = Field(description="After step 3 (the cheapest applicable flat rate)")


class QuoteOut(ApiModel, title="Quote"):
    """What check-out would charge at `at`."""

    session_id: str
    at: Timestamp = Field(description="The exit time priced")
    fee_cents: int
    minutes: int = Field(description="Whole minutes from startTime to at, rounded up")
    discount_cents: int = Field(description="What the session's validation takes off (as the payment will show)")
    breakdown: BreakdownOut


class PlateCheckOutIn(CheckOutIn):
    """A vehicle leaving, known by its plate (exit cameras, attendants): how the fee is paid."""

    model_config = ConfigDict(
        title="PlateCheckOutRequest",
        json_schema_extra={"examples": [{"licensePlate": "AB12CD", "paymentMethod": "CARD"}]},
    )

    license_plate: LicensePlate


class PlateQuoteQuery(QuoteQuery):
    license_plate: LicensePlate = Field(alias="licensePlate", description="The plate whose ACTIVE session to price")


class VoidIn(RequestModel):
    """Why an ACTIVE session is ended without a fee (e.g. the car left through an open gate)."""

    model_config = ConfigDict(
        title="VoidRequest", json_schema_extra={"examples": [{"reason": "Left through the open barrier"}]}
    )

    reason: str = Field(min_length=1, max_length=200)


class VoidOut(ApiModel, title="VoidResult"):
    """The session VOIDED (no fee, no payment) and its ticket VOID."""

    session: SessionOut
    ticket: TicketOut


_CHECK_IN_ERRORS = (
    "NOT_FOUND",
    "GARAGE_CLOSED",
    "VEHICLE_DENIED",
    "GARAGE_FULL",
    "SPOT_NOT_AVAILABLE",
    "SPOT_INCOMPATIBLE",
    "VEHICLE_ALREADY_PARKED",
)


@ROUTER.endpoint(
    "POST",
    "/garages/{id}/check-in",
    role=Role.OPERATOR,
    summary="Check a vehicle in: picks (or takes the given) spot, opens a session, issues a ticket",
    tag="parking",
    body=CheckInIn,
    response=CheckInOut,
    status=201,
    errors=_CHECK_IN_ERRORS,
    operation_id="checkIn",
)
async def check_in(call: Call[CheckInIn, None]) -> CheckInOut:
    body = call.body
    result = await call.services.parking.check_in(
        call.path("id"),
        license_plate=body.license_plate,
        vehicle_type=body.vehicle_type,
        spot_id=body.spot_id,
        at=body.at,
        actor=call.principal.key_id,
    )
    return CheckInOut(
        session=SessionOut.model_validate(result.session),
        ticket=TicketOut.model_validate(result.ticket),
        spot=SpotOut.model_validate(result.spot),
    )


@ROUTER.endpoint(
    "GET",
    "/sessions/{id}/quote",
    role=Role.VIEWER,
    summary="What check-out would charge (writes nothing)",
    tag="parking",
    query=QuoteQuery,
    response=QuoteOut,
    errors=("NOT_FOUND", "SESSION_NOT_ACTIVE"),
    operation_id="getQuote",
)
async def quote(call: Call[None, QuoteQuery]) -> QuoteOut:
    session_id = call.path("id")
    fee, at = await call.services.parking.quote(session_id, at=call.query.at, lost_ticket=call.query.lost_ticket)
    return _quoted(session_id, fee, at)


@ROUTER.endpoint(
    "GET",
    "/garages/{id}/quote",
    role=Role.VIEWER,
    summary="What check-out of the plate's ACTIVE session in this garage would charge (writes nothing)",
    tag="parking",
    query=PlateQuoteQuery,
    response=QuoteOut,
    errors=("NOT_FOUND", "SESSION_NOT_ACTIVE"),
    operation_id="getQuoteByPlate",
)
async def quote_plate(call: Call[None, PlateQuoteQuery]) -> QuoteOut:
    q = call.query
    session, fee, at = await call.services.parking.quote_plate(
        call.path("id"), q.license_plate, at=q.at, lost_ticket=q.lost_ticket
    )
    return _quoted(session.id, fee, at)


def _quoted(session_id: str, fee: pricing.Quote, at: datetime) -> QuoteOut:
    return QuoteOut(
        session_id=session_id,
        at=at,
        fee_cents=fee.fee_cents,
        minutes=fee.minutes,
        discount_cents=fee.discount_cents,
        breakdown=BreakdownOut.model_validate(fee.breakdown),
    )


@ROUTER.endpoint(
    "POST",
    "/sessions/{id}/check-out",
    role=Role.OPERATOR,
    summary="Check out: ends the session, charges the fee, records the payment, frees the spot",
    tag="parking",
    body=CheckOutIn,
    response=CheckOutOut,
    errors=("NOT_FOUND", "SESSION_NOT_ACTIVE"),
    operation_id="checkOut",
)
async def check_out(call: Call[CheckOutIn, None]) -> CheckOutOut:
    result = await call.services.parking.check_out(call.path("id"), call.body.leaving(), actor=call.principal.key_id)
    return _checked_out(result)


@ROUTER.endpoint(
    "POST",
    "/tickets/{code}/check-out",
    role=Role.OPERATOR,
    summary="Check out by ticket code (case-insensitive), for pay stations that only know the ticket",
    tag="parking",
    body=CheckOutIn,
    response=CheckOutOut,
    errors=("NOT_FOUND", "SESSION_NOT_ACTIVE"),
    operation_id="checkOutByTicket",
)
async def check_out_ticket(call: Call[CheckOutIn, None]) -> CheckOutOut:
    result = await call.services.parking.check_out_ticket(
        call.path("code"), call.body.leaving(), actor=call.principal.key_id
    )
    return _checked_out(result)


@ROUTER.endpoint(
    "POST",
    "/garages/{id}/check-out",
    role=Role.OPERATOR,
    summary="Exit by plate: check-out of the plate's ACTIVE session in this garage",
    tag="parking",
    body=PlateCheckOutIn,
    response=CheckOutOut,
    errors=("NOT_FOUND", "SESSION_NOT_ACTIVE"),
    operation_id="checkOutByPlate",
)
async def check_out_plate(call: Call[PlateCheckOutIn, None]) -> CheckOutOut:
    result = await call.services.parking.check_out_plate(
        call.path("id"), call.body.license_plate, call.body.leaving(), actor=call.principal.key_id
    )
    return _checked_out(result)


@ROUTER.endpoint(
    "POST",
    "/sessions/{id}/void",
    role=Role.ADMIN,
    summary="Void an ACTIVE session: it ends now without fee or payment, its ticket VOID, its spot freed",
    tag="parking",
    body=VoidIn,
    response=VoidOut,
    errors=("NOT_FOUND", "SESSION_NOT_ACTIVE"),
    operation_id="voidSession",
)
async def void_session(call: Call[VoidIn, None]) -> VoidOut:
    result = await call.services.parking.void(call.path("id"), reason=call.body.reason, actor=call.principal.key_id)
    return VoidOut(session=SessionOut.model_validate(result.session), ticket=TicketOut.model_validate(result.ticket))


def _checked_out(result: CheckedOut) -> CheckOutOut:
    return CheckOutOut(
        session=SessionOut.model_validate(result.session),
        payment=PaymentOut.model_validate(result.payment),
        ticket=TicketOut.model_validate(result.ticket),
    )
