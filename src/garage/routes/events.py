"""/events: the event log's catch-up list (API-operations.md "Events")."""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.responses import Response, StreamingResponse

from garage.repositories.events import event_id
from garage.repositories.records import Event
from garage.routes.endpoint import Call, Router
from garage.routes.models import ApiModel, IdText, Timestamp
from garage.services.events import event_stream
from garage.vocabulary import EventType, Role

ROUTER = Router()
"""This module's endpoints (listed in routes/api.py)."""

DATA = (
    "What changed, by type: session.started {session, spot}; session.completed {session, payment}; "
    "session.voided {session}; spot.changed {spot}; occupancy.changed {garageId, total, available, occupied, "
    "reserved, maintenance, state}; payment.refunded {payment}; validation.created {validation}; "
    "permit.changed {permit}. Records carry their fields as stored, encrypted ones left out."
)


class EventOut(ApiModel, title="Event"):
    """One change, recorded in the same transaction as the change."""

    id: str = Field(description="Sorts in commit order, as text too")
    type: EventType
    garage_id: str | None
    occurred_at: Timestamp
    data: dict[str, Any] = Field(description=DATA)

    @classmethod
    def of(cls, event: Event) -> EventOut:
        return cls(
            id=event_id(event.seq),
            type=EventType(event.type),
            garage_id=event.garageId,
            occurred_at=event.occurredAt,
            data=json.loads(event.data),
        )


class EventList(ApiModel, title="EventList"):
    """Events after `after`, oldest first."""

    items: list[EventOut]
    next_cursor: str | None = Field(description="Pass as `after` for the next page; null when no more now")


class EventFilter(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    garage_id: IdText | None = Field(None, alias="garageId", description="Only this garage's events")
    types: str | None = Field(None, max_length=400, description="Comma-separated event types (default: all)")

    @field_validator("types")
    @classmethod
    def _known_types(cls, value: str | None) -> str | None:
        if value is None:
            return None
        for name in value.split(","):
            if name not in EventType.__members__.values():
                raise ValueError(f"unknown event type {name!r}: one of {', '.join(EventType)}")
        return value

    @property
    def type_list(self) -> list[str] | None:
        return self.types.split(",") if self.types else None


class EventQuery(EventFilter):
    after: str | None = Field(None, max_length=40, description="An event id: the events after it")
    limit: int = Field(100, ge=1, le=1000, description="Events per page")


class EventStreamQuery(EventFilter):
    after: str | None = Field(
        None, max_length=40, description="Resume after this event id (the Last-Event-ID header, when sent, wins)"
    )


@ROUTER.endpoint(
    "GET",
    "/events",
    role=Role.VIEWER,
    summary="Events after `after`, oldest first (410 EVENTS_EXPIRED when those were deleted: start over)",
    tag="events",
    query=EventQuery,
    response=EventList,
    errors=("EVENTS_EXPIRED",),
    operation_id="listEvents",
)
async def list_events(call: Call[None, EventQuery]) -> EventList:
    q = call.query
    page = await call.services.events.after(q.after, garage_id=q.garage_id, types=q.type_list, limit=q.limit)
    return EventList(items=[EventOut.of(event) for event in page.items], next_cursor=page.next_after)


def sse_frame(event: Event) -> bytes:
    """An event as Server-Sent Events lines. Every stream of the process gets the same Event object
    from the watcher: the frame is built once per event, not once per stream."""
    return _frame(event.seq, event.type, event.garageId, event.occurredAt, event.data)


@functools.lru_cache(maxsize=4096)
def _frame(seq: int, type: str, garage_id: str | None, occurred_at: datetime, data: str) -> bytes:
    out = EventOut(
        id=event_id(seq), type=EventType(type), garage_id=garage_id, occurred_at=occurred_at, data=json.loads(data)
    )
    return f"id: {out.id}\nevent: {out.type}\ndata: {out.model_dump_json(by_alias=True)}\n\n".encode()


@ROUTER.endpoint(
    "GET",
    "/events/stream",
    role=Role.VIEWER,
    summary="Server-Sent Events: every event as it commits, in any worker (resume with Last-Event-ID)",
    tag="events",
    query=EventStreamQuery,
    response=EventOut,
    event_stream=True,
    errors=("EVENTS_EXPIRED",),
    operation_id="streamEvents",
)
async def stream_events(call: Call[None, EventStreamQuery]) -> Response:
    q = call.query
    after = call.request.headers.get("last-event-id") or q.after
    services = call.services
    if after is not None:  # a bad or expired id is answered before the stream starts
        after_seq = await services.events.resume_point(after)
    else:  # from now on: from the log's end as it is before the client hears the stream is open
        after_seq = await services.events.newest_seq()
    # subscribed before the first byte goes out: whatever commits once the client sees the stream open reaches it
    subscription = await services.event_watcher.subscribe()
    events = event_stream(services.events, subscription, after_seq, garage_id=q.garage_id, types=q.type_list)

    async def body() -> AsyncIterator[bytes]:
        try:
            yield b": connected\n\n"
            async for event in events:
                if event is None:
                    yield b": keep-alive\n\n"
                    continue
                yield sse_frame(event)
        finally:  # also when the client left before the events began
            services.event_watcher.unsubscribe(subscription)

    return StreamingResponse(
        body(),
        media_type="text/event-stream; charset=utf-8",
        # no caching, and no buffering by a proxy in front (nginx): each event goes out as it comes
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
