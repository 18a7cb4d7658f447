"""/sessions and /tickets/{code}: reading parking sessions and tickets."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, ConfigDict, Field, model_validator

from garage.repositories.records import ParkingSession
from garage.routes.endpoint import Call, Router
from garage.routes.models import (
    ApiModel,
    IdText,
    InstantIn,
    ListQuery,
    ListResponse,
    PlateSearch,
    Timestamp,
    list_response,
)
from garage.services.plates import normalise_plate
from garage.vocabulary import Role, SessionStatus, TicketStatus, VehicleType

ROUTER = Router()
"""This module's endpoints (listed in routes/api.py)."""


class SessionOut(ApiModel, title="Session"):
    """A vehicle's stay on a spot: ACTIVE from check-in until check-out (COMPLETED) or a void (VOIDED)."""

    id: str
    garage_id: str
    spot_id: str
    vehicle_id: str
    license_plate: str
    vehicle_type: VehicleType = Field(description="The vehicle's type at check-in: it picks the rate's override")
    ticket_code: str | None = Field(description="The session's ticket (null only for imported sessions without one)")
    status: SessionStatus
    start_time: Timestamp
    end_time: Timestamp | None = Field(description="Null while ACTIVE; the void's time for a VOIDED session")
    fee_cents: int | None = Field(description="Null while ACTIVE, and for a VOIDED session")
    permit_id: str | None = Field(
        description="The permit covering the session (an ACTIVE permit of its garage and plate valid at startTime)"
    )
    void_reason: str | None = Field(description="Why an admin voided the session (VOIDED only)")

    @model_validator(mode="before")
    @classmethod
    def _from_row(cls, data: Any) -> Any:
        # the ticket code lives on the session's ticket (read with it, no extra query)
        if isinstance(data, ParkingSession):
            return {
                **data.model_dump(exclude={"ticket", "garage", "spot", "vehicle", "payment", "permit", "validation"}),
                "ticketCode": data.ticket.code if data.ticket is not None else None,
            }
        return data


class TicketOut(ApiModel, title="Ticket"):
    """A session's ticket: the code a pay station can check out by."""

    code: str = Field(description="8 or more characters, upper case, no 0/O/1/I; looked up case-insensitively")
    session_id: str
    issued_at: Timestamp
    status: TicketStatus


class TicketWithSessionOut(ApiModel, title="TicketWithSession"):
    """A ticket and its session."""

    ticket: TicketOut
    session: SessionOut


class SessionList(ListResponse[SessionOut]):
    """A page of sessions."""


class SessionQuery(ListQuery):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    garage_id: IdText | None = Field(None, alias="garageId", description="Only sessions in this garage")
    status: SessionStatus | None = Field(None, description="Only sessions with this status")
    plate: Annotated[str, Field(max_length=100), AfterValidator(normalise_plate)] | None = Field(
        None, description="Exact plate as recorded at check-in (normalised before matching)"
    )
    q: PlateSearch | None = None
    since: InstantIn | None = Field(None, alias="from", description="startTime >= from")
    until: InstantIn | None = Field(None, alias="to", description="startTime < to")


@ROUTER.endpoint(
    "GET",
    "/sessions",
    role=Role.VIEWER,
    summary="List sessions, newest startTime first (filters: garage, status, exact plate, part of a plate, dates)",
    tag="sessions",
    query=SessionQuery,
    response=SessionList,
    operation_id="listSessions",
)
async def list_sessions(call: Call[None, SessionQuery]) -> dict[str, object]:
    q = call.query
    page = await call.services.parking.sessions(
        garage_id=q.garage_id,
        status=q.status,
        license_plate=q.plate,
        plate_contains=q.q,
        since=q.since,
        until=q.until,
        limit=q.limit,
        cursor=q.after_id,
    )
    return list_response(page, SessionOut)


@ROUTER.endpoint(
    "GET",
    "/sessions/{id}",
    role=Role.VIEWER,
    summary="A session",
    tag="sessions",
    response=SessionOut,
    errors=("NOT_FOUND",),
    operation_id="getSession",
)
async def get_session(call: Call[None, None]) -> SessionOut:
    return SessionOut.model_validate(await call.services.parking.session(call.path("id")))


@ROUTER.endpoint(
    "GET",
    "/tickets/{code}",
    role=Role.VIEWER,
    admits_validator=True,
    summary="A ticket and its session (code case-insensitive)",
    tag="sessions",
    response=TicketWithSessionOut,
    errors=("NOT_FOUND",),
    operation_id="getTicket",
)
async def get_ticket(call: Call[None, None]) -> TicketWithSessionOut:
    ticket, session = await call.services.parking.ticket(call.path("code"))
    return TicketWithSessionOut(ticket=TicketOut.model_validate(ticket), session=SessionOut.model_validate(session))
