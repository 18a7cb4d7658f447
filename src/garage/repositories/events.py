"""The event log (outbox, API-operations.md "Events"): events are written by units of work with
the change they describe (repositories/unit_of_work.py), read here in commit order, and deleted
after the retention period (runtime/scheduler.py).

An event's id is its `seq` (SQLite assigns it in commit order: one writer at a time, AUTOINCREMENT
never reuses a number) written as a fixed-width decimal string, so ids sort as text too.

What an event carries of a record is `event_view`: its columns without relations, without what the
audit log omits and without encrypted fields at all (events reach every viewer and webhook). The
occupancy summary is computed in SQL when the change commits (`OCCUPANCY_SQL`), from the spots as
they are then, so concurrent changes cannot make it stale."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from garage.repositories.base import Repository
from garage.repositories.records import Event
from garage.repositories.rows import relations_of
from garage.vocabulary import (
    AUDIT_OMITTED,
    SENSITIVE_FIELDS,
    SPOT_PREFERENCE,
    EventType,
    OccupancyState,
    SpotStatus,
    VehicleType,
    format_timestamp,
)

ID_DIGITS = 16
_CAR_SPOT_TYPES = ", ".join(f"'{spot_type}'" for spot_type in SPOT_PREFERENCE[VehicleType.CAR])
_COUNTS = ",\n    ".join(f"'{status.lower()}', COALESCE(SUM(s.\"status\" = '{status}'), 0)" for status in SpotStatus)
# One occupancy.changed event of garage ? (2nd parameter) at ? (1st), from the spots as committed
# (what garages.occupancy_of and state_of say, in SQL). Built from the vocabulary's words only.
OCCUPANCY_SQL = f"""
INSERT INTO "Event" ("type", "garageId", "occurredAt", "data")
SELECT '{EventType.OCCUPANCY_CHANGED}', g."id", ?, json_object(
    'garageId', g."id",
    'total', COUNT(s."id"),
    {_COUNTS},
    'state', CASE
        WHEN g."closed" THEN '{OccupancyState.CLOSED}'
        WHEN COALESCE(SUM(s."status" = '{SpotStatus.AVAILABLE}' AND s."type" IN ({_CAR_SPOT_TYPES})), 0) > 0
            THEN '{OccupancyState.OPEN}'
        ELSE '{OccupancyState.FULL}' END)
FROM "Garage" g LEFT JOIN "Spot" s ON s."garageId" = g."id" AND s."deletedAt" IS NULL
WHERE g."id" = ?
GROUP BY g."id"
"""  # noqa: S608  # the vocabulary's constants, never input (the ids are parameters)


@dataclass(frozen=True)
class EventPage:
    items: list[Event]
    next_after: str | None  # the last item's id when more events follow now


@dataclass(frozen=True)
class PendingEvent:
    type: EventType
    garage_id: str | None
    data: Mapping[str, Any]


def event_id(seq: int) -> str:
    return str(seq).rjust(ID_DIGITS, "0")


def seq_of(event_id: str) -> int | None:
    """The seq of an id this API gave out, or None when `event_id` is not one."""
    if len(event_id) != ID_DIGITS or not (event_id.isascii() and event_id.isdigit()):
        return None
    return int(event_id)


def event_view(record: BaseModel, model: str | None = None) -> dict[str, Any]:
    name = model or type(record).__name__
    hidden = relations_of(name) | AUDIT_OMITTED.get(name, frozenset()) | set(SENSITIVE_FIELDS.get(name, {}))
    # times as the API writes them (not pydantic's microseconds), so an event's record reads like the resource
    view: dict[str, Any] = {
        name: format_timestamp(value) if isinstance(value, datetime) else value
        for name, value in record.model_dump(exclude=set(hidden)).items()
    }
    ticket = getattr(record, "ticket", None)
    if name == "ParkingSession":
        view["ticketCode"] = ticket.code if ticket is not None else None
    return view


def event_rows(events: Sequence[PendingEvent], at: datetime) -> list[dict[str, Any]]:
    return [
        {"type": str(event.type), "garageId": event.garage_id, "occurredAt": at, "data": json.dumps(event.data)}
        for event in events
    ]


class EventRepository(Repository):
    async def after(
        self, after_seq: int, *, garage_id: str | None, types: Sequence[str] | None, limit: int
    ) -> EventPage:
        """Events with seq greater than `after_seq`, oldest first."""
        where: dict[str, Any] = {"seq": {"gt": after_seq}}
        if garage_id is not None:
            where["garageId"] = garage_id
        if types:
            where["type"] = {"in": list(types)}
        rows = await self._db.event.find_many(where=where, order={"seq": "asc"}, take=limit + 1)  # type: ignore[arg-type]
        more = len(rows) > limit
        rows = rows[:limit]
        return EventPage(items=rows, next_after=event_id(rows[-1].seq) if more and rows else None)

    async def oldest_seq(self) -> int | None:
        oldest = await self._db.event.find_first(order={"seq": "asc"})
        return oldest.seq if oldest is not None else None

    async def newest_seq(self) -> int:
        newest = await self._db.event.find_first(order={"seq": "desc"})
        return newest.seq if newest is not None else 0

    async def delete_older_than(self, cutoff: datetime) -> int:
        """Retention: events that occurred before `cutoff` go, but never the newest one, so that
        SQLite never hands out an id again (the log's ids only grow)."""
        self._covered_by_job()
        newest = await self.newest_seq()
        return await self._writing().event.delete_many(where={"occurredAt": {"lt": cutoff}, "seq": {"lt": newest}})
