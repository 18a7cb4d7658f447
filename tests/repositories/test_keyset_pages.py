"""The large newest-first lists (sessions by startTime, payments and audit entries by createdAt) hand
out positions (the last row's sort key and id) and seek to them (repositories/pagination.py): every
row exactly once and in order across pages, ties on the key ordered by id, a plain row id (a cursor
handed out before positions) still accepted, a position whose row has left still continuing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from prisma import Prisma

from garage.repositories.pagination import Page, keyset, page_of, parse_position, position
from garage.repositories.unit_of_work import Database, UnitOfWork
from garage.vocabulary import AuditAction, AuditEntity
from tests.repositories.builders import T0, complete_session, make_garage, make_vehicle, pay, start_session

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_a_position_carries_the_key_at_millisecond_precision_and_the_id() -> None:
    moment = datetime(2026, 3, 1, 8, 0, 0, 123000, tzinfo=UTC)
    assert parse_position(position(moment, "c1")) == (moment, "c1")
    assert parse_position(position(moment, "a\x00b")) == (moment, "a\x00b")  # the id is what follows the key
    assert parse_position("cmx9k45aq5lbbzt3wa1yxcykv") is None  # a plain id
    for broken in ("\x00", "\x001772355600000", "\x00x\x00c1", "\x00\x00c1", "\x001772355600000\x00",
                   "\x00" + "9" * 20 + "\x00c1", "\x00\u0661\u0662\x00c1"):
        with pytest.raises(ValueError, match="not a list position"):
            parse_position(broken)
    assert keyset("startTime", None) is None and keyset("startTime", "c1") is None


async def test_page_of_names_the_last_row_by_id_or_by_position() -> None:
    class Row:
        def __init__(self, row_id: str, at: datetime) -> None:
            self.id, self.at = row_id, at

    rows = [Row("b", T0), Row("a", T0), Row("z", T0 - timedelta(hours=1))]
    assert page_of(rows, 2).next_after_id == "a"
    assert page_of(rows, 2, key="at").next_after_id == position(T0, "a")
    assert page_of(rows, 3, key="at") == Page(items=rows, next_after_id=None)


async def walk(list_page, limit: int) -> list[str]:  # type: ignore[no-untyped-def]
    """Every id of a list, following its cursors `limit` rows at a time."""
    seen: list[str] = []
    cursor: str | None = None
    while True:
        page = await list_page(limit, cursor)
        seen += [row.id for row in page.items]
        if page.next_after_id is None:
            return seen
        assert parse_position(page.next_after_id) is not None
        cursor = page.next_after_id


async def test_session_pages_walk_every_session_once_ties_by_id(db: Prisma) -> None:
    garage, spots = await make_garage(db, spots=7)
    sessions = Database(db).sessions
    # three sessions at the same instant (a tie across a page boundary), others an hour apart
    starts = [T0, T0 + timedelta(hours=1), T0 + timedelta(hours=1), T0 + timedelta(hours=1), T0 + timedelta(hours=2),
              T0 + timedelta(hours=3), T0 + timedelta(hours=3)]
    made = [await start_session(db, spot, start=start) for spot, start in zip(spots, starts, strict=True)]
    expected = [s.id for s in sorted(made, key=lambda s: (s.startTime, s.id), reverse=True)]

    for limit in (1, 2, 3, 7):
        assert await walk(lambda n, c: sessions.list(garage_id=garage.id, limit=n, cursor=c), limit) == expected

    first = await sessions.list(garage_id=garage.id, limit=3, cursor=None)
    assert first.next_after_id is not None
    # a plain row id (cursors handed out before positions) still pages after that row
    by_id = await sessions.list(garage_id=garage.id, limit=50, cursor=first.items[-1].id)
    by_position = await sessions.list(garage_id=garage.id, limit=50, cursor=first.next_after_id)
    assert [s.id for s in by_id.items] == [s.id for s in by_position.items] == expected[3:]
    assert by_position.items == by_id.items  # with their tickets
    # a position outlives its row: the page after a row no longer stored is still the rows after it
    last = first.items[-1].id
    gone = position(first.items[-1].startTime, last[:-1] + chr(ord(last[-1]) - 1) + "~")  # just before `last`
    assert [s.id for s in (await sessions.list(garage_id=garage.id, limit=50, cursor=gone)).items] == expected[3:]
    # with the other filters (a time window, a plate search) the position is one more condition
    window = await sessions.list(garage_id=garage.id, since=T0 + timedelta(hours=1), until=T0 + timedelta(hours=3),
                                 limit=2, cursor=None)
    rest = await sessions.list(garage_id=garage.id, since=T0 + timedelta(hours=1), until=T0 + timedelta(hours=3),
                               limit=50, cursor=window.next_after_id)
    assert [s.id for s in window.items + rest.items] == expected[2:6]
    plate = made[1].licensePlate[2:8]
    searched = await sessions.list(plate_contains=plate, limit=50, cursor=position(T0 + timedelta(days=1), "z"))
    assert [s.id for s in searched.items] == [made[1].id]


async def test_vehicle_history_pages_by_position(db: Prisma) -> None:
    _, spots = await make_garage(db, spots=4)
    vehicle = await make_vehicle(db)
    sessions = Database(db).sessions
    made = []
    for hour, spot in enumerate(spots):  # one vehicle, one ACTIVE at a time: start then complete
        session = await start_session(db, spot, vehicle, start=T0 + timedelta(hours=hour))
        made.append(await complete_session(db, session, end=session.startTime + timedelta(minutes=5), fee_cents=0))
    history = await walk(lambda n, c: sessions.list(vehicle_id=vehicle.id, limit=n, cursor=c), 3)
    assert history == [s.id for s in reversed(made)]


async def test_payment_pages_walk_every_payment_once(db: Prisma) -> None:
    garage, spots = await make_garage(db, spots=5)
    payments = Database(db).payments
    at = [T0, T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)]
    made = [await pay(db, await start_session(db, spot, start=T0 - timedelta(hours=1)), amount_cents=100,
                      created_at=moment) for spot, moment in zip(spots, at, strict=True)]
    expected = [p.id for p in sorted(made, key=lambda p: (p.createdAt, p.id), reverse=True)]
    for limit in (1, 2, 4):
        assert await walk(lambda n, c: payments.list(garage_id=garage.id, since=None, until=None, limit=n, cursor=c),
                          limit) == expected
    old = await payments.list(garage_id=garage.id, since=None, until=None, limit=50, cursor=expected[1])
    assert [p.id for p in old.items] == expected[2:]


async def test_audit_pages_walk_every_entry_once(db: Prisma) -> None:
    database = Database(db)
    entity_id = uuid.uuid4().hex

    async def record(unit: UnitOfWork) -> None:  # five entries in one transaction: the same createdAt
        for n in range(5):
            unit.record(AuditAction.UPDATE, AuditEntity.ENCRYPTION_KEY, entity_id, after={"n": n})

    await database.transaction(record, actor="test")
    everything = await database.audit.list(entity=None, entity_id=entity_id, since=None, until=None, limit=50,
                                           cursor=None)
    expected = [row.id for row in everything.items]
    assert len(expected) == 5 and expected == sorted(expected, reverse=True)
    for limit in (1, 2, 3):
        assert await walk(lambda n, c: database.audit.list(entity="EncryptionKey", entity_id=entity_id, since=None,
                                                           until=None, limit=n, cursor=c), limit) == expected
