"""The event log (API-operations.md "Events", repositories/events.py): units of work write the events
their repositories emit with the change itself - and only then - in commit order, one
occupancy.changed per garage per unit, computed from the spots as committed; `after` pages through
them; records appear without relations or encrypted fields; retention never deletes the newest.

Tests share the session's database, so each looks only at its own garages' events after a mark
(`newest_seq()` before it acts); the retention test has a database of its own."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from prisma import Prisma

from garage.config import load_settings
from garage.db import create_prisma
from garage.errors import RecordMissing
from garage.repositories.base import WriteOutsideUnitOfWork
from garage.repositories.events import ID_DIGITS, event_id, event_view, seq_of
from garage.repositories.records import Event, Garage, ParkingSession, Payment, Spot
from garage.repositories.rows import now_ms
from garage.repositories.spots import NewSpot
from garage.repositories.unit_of_work import Database, UnitOfWork
from garage.services.garages import GarageService
from garage.services.tickets import new_ticket_code
from garage.vocabulary import EventType, OccupancyState, SpotStatus
from tests.database import apply_migrations
from tests.repositories.builders import (
    ACTOR,
    T0,
    complete_session,
    make_garage,
    make_vehicle,
    occupy,
    pay,
    start_session,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

SESSION_COLUMNS = {
    "id",
    "garageId",
    "spotId",
    "vehicleId",
    "licensePlate",
    "vehicleType",
    "status",
    "startTime",
    "endTime",
    "feeCents",
    "permitId",
    "voidReason",
    "createdAt",
    "updatedAt",
}
SPOT_COLUMNS = {"id", "garageId", "level", "number", "type", "status", "createdAt", "updatedAt", "deletedAt"}
PAYMENT_COLUMNS = {
    "id",
    "sessionId",
    "garageId",
    "amountCents",
    "currency",
    "method",
    "status",
    "discountCents",
    "createdAt",
    "updatedAt",
    "refundedAt",
}
SEALED = "v1:k:sealed-reference"  # stands for a ciphertext: the repositories store what they are given


class Boom(Exception):
    pass


async def events_since(db: Prisma, mark: int, *garage_ids: str) -> list[Event]:
    """The events after seq `mark` of `garage_ids` (every garage when none), oldest first."""
    page = await Database(db).events.after(mark, garage_id=None, types=None, limit=10_000)
    assert page.next_after is None
    return [event for event in page.items if not garage_ids or event.garageId in garage_ids]


def kinds(events: Sequence[Event]) -> list[str]:
    return [event.type for event in events]


def data(event: Event) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(event.data)
    return loaded


async def service_occupancy(db: Prisma, garage_id: str) -> dict[str, Any]:
    """occupancy.changed's data as the API computes the occupancy (GarageService.occupancy)."""
    occupancy = await GarageService(Database(db)).occupancy(garage_id)
    return {"garageId": garage_id, **dataclasses.asdict(occupancy.totals), "state": occupancy.state}


async def in_transaction(db: Prisma, work: Any) -> Any:
    return await Database(db).transaction(work, actor=ACTOR)


async def stored_spot(db: Prisma, spot_id: str) -> Spot:
    spot = await db.spot.find_unique(where={"id": spot_id})  # deleted ones too
    assert spot is not None
    return spot


async def stored_session(db: Prisma, session_id: str) -> ParkingSession:
    session = await Database(db).sessions.get(session_id)  # with its ticket
    assert session is not None
    return session


async def stored_payment(db: Prisma, payment_id: str) -> Payment:
    payment = await Database(db).payments.get(payment_id)
    assert payment is not None
    return payment


async def spots_of(db: Prisma, garage: Garage, spots: Sequence[tuple[str, str]]) -> list[Spot]:
    """New spots of `garage` of (type, status), numbered 101.. on level 1, in one transaction."""
    new = [
        NewSpot(level=1, number=str(100 + n), sort_key=f"{100 + n:04d}", type=spot_type, status=status)
        for n, (spot_type, status) in enumerate(spots, start=1)
    ]
    created: list[Spot] = await in_transaction(db, lambda unit: unit.spots.create_many(garage.id, new))
    return created


# ---- each event type ---------------------------------------------------------------------------------


async def test_a_check_in_emits_session_started_then_spot_changed_then_occupancy_changed(db: Prisma) -> None:
    garage, spots = await make_garage(db, spots=2)
    vehicle = await make_vehicle(db)
    database, code, now = Database(db), new_ticket_code(), now_ms()
    mark = await database.events.newest_seq()

    async def check_in(unit: UnitOfWork) -> ParkingSession:  # as ParkingService._occupy writes it
        spot = await unit.spots.get_live(spots[0].id)
        assert spot is not None
        async with unit.batched() as batch:
            session = batch.sessions.queue_start(
                spot=spot,
                vehicle_id=vehicle.id,
                license_plate=vehicle.licensePlate, vehicle_type="CAR",
                start_time=T0,
                ticket_code=code,
                now=now,
            )
            batch.spots.queue_occupy(spot, session_id=session.id, now=now)
        return session

    session = await in_transaction(db, check_in)
    events = await events_since(db, mark, garage.id)
    started, spot_changed, occupancy = events
    assert kinds(events) == [EventType.SESSION_STARTED, EventType.SPOT_CHANGED, EventType.OCCUPANCY_CHANGED]
    assert {event.garageId for event in events} == {garage.id}
    assert len({event.occurredAt for event in events}) == 1  # the unit's time, the SQL-computed one's too

    occupied = await stored_spot(db, spots[0].id)
    assert occupied.status == SpotStatus.OCCUPIED
    assert data(started) == {"session": event_view(await stored_session(db, session.id)), "spot": event_view(occupied)}
    assert set(data(started)["session"]) == SESSION_COLUMNS | {"ticketCode"}
    assert data(started)["session"]["ticketCode"] == code and set(data(started)["spot"]) == SPOT_COLUMNS
    assert data(spot_changed) == {"spot": event_view(occupied)}
    assert data(occupancy) == await service_occupancy(db, garage.id)
    assert (data(occupancy)["available"], data(occupancy)["occupied"]) == (1, 1)


async def test_a_check_out_emits_session_completed_with_its_payment_then_spot_changed_then_occupancy(
    db: Prisma,
) -> None:
    garage, spots = await make_garage(db, spots=1)
    session = await start_session(db, spots[0], start=T0)
    await occupy(db, spots[0])
    database = Database(db)
    read = await database.sessions.get(session.id, with_garage_and_rate=True)
    assert read is not None and read.spot is not None and read.spot.status == SpotStatus.OCCUPIED
    mark, now, end = await database.events.newest_seq(), now_ms(), T0 + timedelta(minutes=30)

    async with database.batch(actor=ACTOR) as unit:  # as ParkingService.check_out writes it
        payment = unit.payments.queue_create(
            session_id=read.id,
            garage_id=read.garageId,
            amount_cents=150,
            currency="EUR",
            method="CARD",
            reference=SEALED,
            discount_cents=0,
            created_at=end,
            now=now,
        )
        unit.sessions.queue_complete(
            read, end_time=end, fee_cents=150, minutes=30, lost_ticket=False, payment=payment, now=now
        )
        unit.spots.queue_release(read.spot, session_id=read.id, now=now)

    events = await events_since(db, mark, garage.id)
    completed, spot_changed, occupancy = events
    assert kinds(events) == [EventType.SESSION_COMPLETED, EventType.SPOT_CHANGED, EventType.OCCUPANCY_CHANGED]
    assert data(completed) == {
        "session": event_view(await stored_session(db, session.id)),
        "payment": event_view(await stored_payment(db, payment.id)),
    }
    assert data(completed)["session"]["status"] == "COMPLETED" and data(completed)["session"]["feeCents"] == 150
    assert set(data(completed)["payment"]) == PAYMENT_COLUMNS  # no reference
    assert "sealed" not in completed.data
    released = await stored_spot(db, spots[0].id)
    assert released.status == SpotStatus.AVAILABLE and data(spot_changed) == {"spot": event_view(released)}
    assert data(occupancy) == await service_occupancy(db, garage.id)
    assert data(occupancy)["state"] == OccupancyState.OPEN


async def test_a_session_completed_without_a_payment_says_so(db: Prisma) -> None:
    garage, spots = await make_garage(db, spots=1)
    session = await start_session(db, spots[0], start=T0)
    mark = await Database(db).events.newest_seq()
    await complete_session(db, session, end=T0 + timedelta(minutes=5), fee_cents=0)
    (completed,) = await events_since(db, mark, garage.id)  # the builder leaves the spot alone
    assert completed.type == EventType.SESSION_COMPLETED
    assert data(completed) == {"session": event_view(await stored_session(db, session.id)), "payment": None}


async def test_a_refund_emits_payment_refunded_without_its_reference(db: Prisma) -> None:
    garage, spots = await make_garage(db, spots=1)
    session = await start_session(db, spots[0], start=T0)
    payment = await pay(db, session, amount_cents=300, created_at=T0, reference=SEALED)
    mark = await Database(db).events.newest_seq()

    refunded = await in_transaction(db, lambda unit: unit.payments.refund(payment))
    assert refunded is not None
    (event,) = await events_since(db, mark, garage.id)  # a refund changes no occupancy
    assert (event.type, event.garageId) == (EventType.PAYMENT_REFUNDED, garage.id)
    assert data(event) == {"payment": event_view(await stored_payment(db, payment.id))}
    assert set(data(event)["payment"]) == PAYMENT_COLUMNS and data(event)["payment"]["status"] == "REFUNDED"
    assert "sealed" not in event.data

    assert await in_transaction(db, lambda unit: unit.payments.refund(payment)) is None  # not COMPLETED now
    assert len(await events_since(db, mark, garage.id)) == 1  # and nothing to tell


async def test_every_spot_write_emits_spot_changed_and_each_garage_one_occupancy_changed_per_unit(
    db: Prisma,
) -> None:
    garage, spots = await make_garage(db, spots=3)
    other, (elsewhere,) = await make_garage(db, spots=1)
    mark = await Database(db).events.newest_seq()

    async def several(unit: UnitOfWork) -> list[Spot]:
        return [
            await unit.spots.update(spots[0], {"status": SpotStatus.MAINTENANCE}),
            await unit.spots.update(elsewhere, {"number": "99"}),
            await unit.spots.update(spots[1], {"status": SpotStatus.RESERVED}),
            await unit.spots.soft_delete(spots[2], now_ms()),
            *await unit.spots.create_many(garage.id, [NewSpot(level=2, number="7", sort_key="0007", type="LARGE")]),
        ]

    changed = await in_transaction(db, several)
    events = await events_since(db, mark, garage.id, other.id)
    assert kinds(events) == [EventType.SPOT_CHANGED] * 5 + [EventType.OCCUPANCY_CHANGED] * 2
    for event, spot in zip(events, changed, strict=False):
        assert event.garageId == spot.garageId
        assert data(event) == {"spot": event_view(await stored_spot(db, spot.id))}
    assert data(events[3])["spot"]["deletedAt"] is not None  # a delete is a change of the spot too
    # in the order the garages first changed, each from its spots as committed
    assert [event.garageId for event in events[5:]] == [garage.id, other.id]
    assert data(events[5]) == await service_occupancy(db, garage.id)
    assert data(events[5]) == {
        "garageId": garage.id,
        "total": 3,
        "available": 1,
        "occupied": 0,
        "reserved": 1,
        "maintenance": 1,
        "state": OccupancyState.OPEN,
    }
    assert data(events[6]) == await service_occupancy(db, other.id)


async def test_creating_spots_emits_one_spot_changed_each_and_one_occupancy_changed(db: Prisma) -> None:
    mark = await Database(db).events.newest_seq()
    garage, spots = await make_garage(db, spots=3)
    events = await events_since(db, mark, garage.id)
    assert kinds(events) == [EventType.SPOT_CHANGED] * 3 + [EventType.OCCUPANCY_CHANGED]
    assert [data(event)["spot"] for event in events[:3]] == [event_view(spot) for spot in spots]
    assert data(events[3]) == await service_occupancy(db, garage.id)


@pytest.mark.parametrize(
    ("layout", "state"),
    [
        ([("STANDARD", "AVAILABLE"), ("COMPACT", "OCCUPIED")], OccupancyState.OPEN),
        ([("LARGE", "AVAILABLE"), ("STANDARD", "MAINTENANCE")], OccupancyState.OPEN),
        ([("COMPACT", "AVAILABLE")], OccupancyState.OPEN),
        # spots free, but none a CAR takes: FULL (API-operations.md "Garage state")
        (
            [("COMPACT", "OCCUPIED"), ("EV", "AVAILABLE"), ("MOTORCYCLE", "AVAILABLE"), ("HANDICAP", "AVAILABLE")],
            OccupancyState.FULL,
        ),
        ([("STANDARD", "RESERVED"), ("LARGE", "MAINTENANCE"), ("COMPACT", "OCCUPIED")], OccupancyState.FULL),
    ],
)
async def test_occupancy_changed_says_what_the_occupancy_endpoint_says(
    db: Prisma, layout: list[tuple[str, str]], state: OccupancyState
) -> None:
    garage, _ = await make_garage(db, spots=0)
    mark = await Database(db).events.newest_seq()
    await spots_of(db, garage, layout)
    (occupancy,) = [event for event in await events_since(db, mark, garage.id) if event.type == "occupancy.changed"]
    assert data(occupancy) == await service_occupancy(db, garage.id)
    assert data(occupancy)["state"] == state and data(occupancy)["total"] == len(layout)


async def test_a_garage_without_live_spots_is_full(db: Prisma) -> None:
    garage, (spot,) = await make_garage(db, spots=1)
    mark = await Database(db).events.newest_seq()
    await in_transaction(db, lambda unit: unit.spots.soft_delete(spot, now_ms()))
    occupancy = (await events_since(db, mark, garage.id))[-1]
    assert data(occupancy) == await service_occupancy(db, garage.id)
    assert data(occupancy) == {
        "garageId": garage.id,
        "total": 0,
        "available": 0,
        "occupied": 0,
        "reserved": 0,
        "maintenance": 0,
        "state": OccupancyState.FULL,
    }


async def test_closing_and_reopening_a_garage_emit_occupancy_changed_and_other_changes_do_not(db: Prisma) -> None:
    garage, _ = await make_garage(db, spots=2)
    database = Database(db)
    mark = await database.events.newest_seq()

    closed = await in_transaction(db, lambda unit: unit.garages.update(garage, {"closed": True}))
    (event,) = await events_since(db, mark, garage.id)
    assert (event.type, event.garageId) == (EventType.OCCUPANCY_CHANGED, garage.id)
    assert data(event) == await service_occupancy(db, garage.id)
    assert data(event)["state"] == OccupancyState.CLOSED and data(event)["available"] == 2

    renamed = await in_transaction(db, lambda unit: unit.garages.update(closed, {"name": f"{garage.name} 2"}))
    still = await in_transaction(db, lambda unit: unit.garages.update(renamed, {"closed": True}))
    assert len(await events_since(db, mark, garage.id)) == 1  # `closed` did not change

    await in_transaction(db, lambda unit: unit.garages.update(still, {"closed": False}))
    reopened = (await events_since(db, mark, garage.id))[-1]
    assert data(reopened) == await service_occupancy(db, garage.id)
    assert data(reopened)["state"] == OccupancyState.OPEN


# ---- written with the change, and only then -------------------------------------------------------------


async def test_a_batch_that_fails_writes_no_event(db: Prisma) -> None:
    garage, (spot, other) = await make_garage(db, spots=2)
    await occupy(db, spot)
    database = Database(db)
    mark = await database.events.newest_seq()

    with pytest.raises(RecordMissing):
        async with database.batch(actor=ACTOR) as unit:
            unit.spots.queue_occupy(other, session_id="s1", now=now_ms())  # would emit, and succeed alone
            unit.spots.queue_occupy(spot, session_id="s2", now=now_ms())  # OCCUPIED already: fails the batch
    with pytest.raises(Boom):
        async with database.batch(actor=ACTOR) as unit:
            unit.spots.queue_occupy(other, session_id="s3", now=now_ms())
            raise Boom()  # nothing is sent

    assert await events_since(db, mark, garage.id) == []
    assert (await stored_spot(db, other.id)).status == SpotStatus.AVAILABLE


async def test_a_transaction_whose_work_raises_writes_no_event(db: Prisma) -> None:
    garage, (spot,) = await make_garage(db, spots=1)
    database = Database(db)
    mark = await database.events.newest_seq()

    async def change_then_fail(unit: UnitOfWork) -> None:
        await unit.spots.update(spot, {"status": SpotStatus.MAINTENANCE})
        await unit.garages.update(garage, {"closed": True})
        raise Boom()

    async def batch_then_fail(unit: UnitOfWork) -> None:
        async with unit.batched() as batch:  # sent, and its events with it, in the transaction
            batch.spots.queue_occupy(spot, session_id="s1", now=now_ms())
        raise Boom()

    for work in (change_then_fail, batch_then_fail):
        with pytest.raises(Boom):
            await database.transaction(work, actor=ACTOR)
    assert await events_since(db, mark, garage.id) == []
    assert await stored_spot(db, spot.id) == spot


# ---- ids and order ----------------------------------------------------------------------------------------


async def test_ids_are_fixed_width_digits_that_sort_as_their_seq() -> None:
    assert event_id(1) == "0000000000000001" and len(event_id(10**15)) == ID_DIGITS == 16
    seqs = [1, 9, 10, 99, 100, 12_345, 10**15 - 1, 10**15, 10**16 - 1]
    assert sorted(map(event_id, seqs)) == [event_id(seq) for seq in seqs]
    assert [seq_of(event_id(seq)) for seq in seqs] == seqs


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1",
        "000000000000001",
        "00000000000000001",
        "00000000000000a1",
        "-000000000000001",
        " 000000000000001",
        "+000000000000001",
        "0x00000000000001",
        "000000000000001 ",
        "0000000000000001\n",
        "000000000000000\u00b2",  # digits Python's isdigit() knows but int() does not
        "\u0660" * 15 + "\u0663",  # Arabic-Indic digits
        "\uff10" * 15 + "\uff13",  # fullwidth digits
    ],
)
async def test_seq_of_refuses_what_is_not_an_event_id(text: str) -> None:
    assert seq_of(text) is None


async def test_events_are_in_commit_order_and_a_unit_s_occupancy_follows_its_other_events(db: Prisma) -> None:
    garage, (spot,) = await make_garage(db, spots=1)
    mark = await Database(db).events.newest_seq()

    async def close_change_reopen(unit: UnitOfWork) -> None:
        closed = await unit.garages.update(garage, {"closed": True})  # marks the occupancy first
        await unit.spots.update(spot, {"status": SpotStatus.MAINTENANCE})
        await unit.garages.update(closed, {"closed": False})

    await in_transaction(db, close_change_reopen)
    first = await events_since(db, mark, garage.id)
    assert kinds(first) == [EventType.SPOT_CHANGED, EventType.OCCUPANCY_CHANGED]
    assert data(first[1])["state"] == OccupancyState.FULL  # as committed: open, its one spot in maintenance

    await in_transaction(db, lambda unit: unit.spots.update(spot, {"status": SpotStatus.AVAILABLE}))
    events = await events_since(db, mark, garage.id)
    assert events[:2] == first and kinds(events[2:]) == [EventType.SPOT_CHANGED, EventType.OCCUPANCY_CHANGED]
    assert data(events[3])["state"] == OccupancyState.OPEN
    every = await events_since(db, 0, garage.id)  # since the garage's first
    seqs, ids = [event.seq for event in every], [event_id(event.seq) for event in every]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs) and ids == sorted(ids)
    assert [seq_of(text) for text in ids] == seqs


async def test_concurrent_units_commit_their_events_one_unit_after_the_other(db: Prisma) -> None:
    garages = [await make_garage(db, spots=2) for _ in range(4)]
    mark = await Database(db).events.newest_seq()

    async def park_both(spots: list[Spot]) -> None:
        async with Database(db).batch(actor=ACTOR) as unit:
            for spot in spots:
                unit.spots.queue_occupy(spot, session_id="s", now=now_ms())

    await asyncio.gather(*(park_both(spots) for _, spots in garages))
    events = await events_since(db, mark, *(garage.id for garage, _ in garages))
    assert len(events) == 4 * 3
    seqs = [event.seq for event in events]
    assert seqs == sorted(seqs)
    for start in range(0, len(events), 3):  # each unit's events are contiguous, its occupancy last
        unit_events = events[start : start + 3]
        assert kinds(unit_events) == [EventType.SPOT_CHANGED, EventType.SPOT_CHANGED, EventType.OCCUPANCY_CHANGED]
        assert len({event.garageId for event in unit_events}) == 1
        assert unit_events[-1].seq - unit_events[0].seq == 2


# ---- reading: after() ----------------------------------------------------------------------------------


async def test_after_pages_oldest_first_by_garage_and_type(db: Prisma) -> None:
    events = Database(db).events
    mark = await events.newest_seq()
    garage, spots = await make_garage(db, spots=2)  # 2 spot.changed, 1 occupancy.changed
    other, _ = await make_garage(db, spots=1)  # in between: never in `garage`'s pages
    await occupy(db, spots[0])  # 1 spot.changed, 1 occupancy.changed
    mine = await events_since(db, mark, garage.id)
    assert len(mine) == 5

    pages, after_seq = [], mark
    while True:
        page = await events.after(after_seq, garage_id=garage.id, types=None, limit=2)
        pages.append(page.items)
        if page.next_after is None:
            break
        assert page.next_after == event_id(page.items[-1].seq)
        parsed = seq_of(page.next_after)
        assert parsed is not None
        after_seq = parsed
    assert [len(items) for items in pages] == [2, 2, 1]
    assert [event for items in pages for event in items] == mine

    exact = await events.after(mark, garage_id=garage.id, types=None, limit=5)
    assert exact.items == mine and exact.next_after is None  # nothing more follows now
    last = await events.after(mine[-1].seq, garage_id=garage.id, types=None, limit=5)
    assert last.items == [] and last.next_after is None

    occupancy = await events.after(mark, garage_id=garage.id, types=[EventType.OCCUPANCY_CHANGED], limit=10)
    assert occupancy.items == [event for event in mine if event.type == EventType.OCCUPANCY_CHANGED]
    assert len(occupancy.items) == 2
    both = await events.after(
        mark, garage_id=garage.id, types=[EventType.SPOT_CHANGED, EventType.OCCUPANCY_CHANGED], limit=10
    )
    assert both.items == mine
    unfiltered = await events.after(mark, garage_id=garage.id, types=[], limit=10)
    assert unfiltered.items == mine
    none = await events.after(mark, garage_id=garage.id, types=[EventType.PAYMENT_REFUNDED], limit=10)
    assert none.items == [] and none.next_after is None

    everywhere = await events.after(mark, garage_id=None, types=None, limit=100)
    assert [event.garageId for event in everywhere.items if event.garageId in (garage.id, other.id)] == (
        [garage.id] * 3 + [other.id] * 2 + [garage.id] * 2
    )
    first = await events.after(mark, garage_id=None, types=None, limit=1)
    assert first.items == everywhere.items[:1] and first.next_after == event_id(first.items[0].seq)


# ---- what records look like in events ----------------------------------------------------------------------


async def test_event_view_leaves_out_relations_and_encrypted_fields(db: Prisma) -> None:
    garage, spots = await make_garage(db, spots=1)
    session = await start_session(db, spots[0], start=T0)
    payment = await pay(db, session, amount_cents=100, created_at=T0, reference=SEALED)
    database = Database(db)

    full = await database.sessions.get(session.id, with_garage_and_rate=True)  # garage, rate, spot, ticket
    assert full is not None and full.garage is not None and full.spot is not None and full.ticket is not None
    view = event_view(full)
    assert set(view) == SESSION_COLUMNS | {"ticketCode"} and view["ticketCode"] == full.ticket.code
    bare = await db.parkingsession.find_unique(where={"id": session.id})  # read without its ticket
    assert bare is not None and event_view(bare) == {**view, "ticketCode": None}

    stored = await stored_payment(db, payment.id)
    assert stored.reference == SEALED and set(event_view(stored)) == PAYMENT_COLUMNS
    with_session = await db.payment.find_unique(where={"id": payment.id}, include={"session": True, "garage": True})
    assert with_session is not None and event_view(with_session) == event_view(stored)

    spot = await db.spot.find_unique(where={"id": spots[0].id}, include={"garage": True, "sessions": True})
    assert spot is not None and spot.sessions and set(event_view(spot)) == SPOT_COLUMNS  # no sortKey either

    with_relations = await db.garage.find_unique(
        where={"id": garage.id}, include={"spots": True, "sessions": True, "payments": True, "rate": True}
    )
    assert with_relations is not None and with_relations.spots
    assert not {"spots", "sessions", "payments", "rate"} & set(event_view(with_relations))
    assert event_view(with_relations)["id"] == garage.id


# ---- retention -------------------------------------------------------------------------------------------


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def fresh_db(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Prisma]:
    """A database of this module's own: retention deletes every event older than a time."""
    path: Path = tmp_path_factory.mktemp("events") / "events.db"
    apply_migrations(path)
    client = create_prisma(load_settings(DATABASE_URL=f"file:{path}"))
    await client.connect()
    yield client
    await client.disconnect()


async def test_retention_deletes_old_events_but_never_the_newest_so_ids_never_go_back(fresh_db: Prisma) -> None:
    database = Database(fresh_db)
    events = database.events
    assert (await events.oldest_seq(), await events.newest_seq()) == (None, 0)  # an empty log

    async def delete_older_than(cutoff: datetime) -> int:
        deleted: int = await database.transaction(lambda unit: unit.events.delete_older_than(cutoff), actor=ACTOR)
        return deleted

    assert await delete_older_than(now_ms() + timedelta(days=1)) == 0  # nothing to delete

    _, spots = await make_garage(fresh_db, spots=2)  # seq 1-3, at t1 (a transaction's events)
    await asyncio.sleep(0.01)
    await occupy(fresh_db, spots[0])  # seq 4-5, at t2 (a batch's)
    await asyncio.sleep(0.01)
    await occupy(fresh_db, spots[1])  # seq 6-7, at t3
    stored = await events_since(fresh_db, 0)
    assert [event.seq for event in stored] == list(range(1, 8))
    t2 = stored[3].occurredAt
    assert stored[2].occurredAt < t2 == stored[4].occurredAt < stored[5].occurredAt  # the SQL-written ones too
    assert (await events.oldest_seq(), await events.newest_seq()) == (1, 7)

    with pytest.raises(WriteOutsideUnitOfWork):
        await events.delete_older_than(t2)
    assert await delete_older_than(t2) == 3  # older than t2: t1's, the occupancy.changed included
    assert [event.seq for event in await events_since(fresh_db, 0)] == [4, 5, 6, 7]
    assert (await events.oldest_seq(), await events.newest_seq()) == (4, 7)

    assert await delete_older_than(now_ms() + timedelta(days=1)) == 3  # all are old: all but the newest
    (kept,) = await events_since(fresh_db, 0)
    assert kept == stored[-1]
    assert (await events.oldest_seq(), await events.newest_seq()) == (7, 7)
    assert await delete_older_than(now_ms() + timedelta(days=1)) == 0

    await in_transaction(fresh_db, lambda unit: unit.spots.update(spots[0], {"status": SpotStatus.MAINTENANCE}))
    newer = await events_since(fresh_db, 0)
    assert [event.seq for event in newer] == [7, 8, 9]  # after the newest ever given out
    assert event_id(newer[-1].seq) > event_id(kept.seq)
