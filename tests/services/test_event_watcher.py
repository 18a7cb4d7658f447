"""The event watcher (services/events.py): ONE per process however many streams subscribe at once,
and every stream gets every event committed after it subscribed, once, in order."""

from __future__ import annotations

import asyncio

import pytest
from prisma import Prisma

from garage.repositories.unit_of_work import Database
from garage.services.events import EventService, EventWatcher, event_stream
from tests.repositories.builders import make_garage

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_streams_subscribing_at_once_share_one_watcher(db: Prisma) -> None:
    watcher = EventWatcher(Database(db), poll_seconds=0.05)
    try:
        queues = await asyncio.gather(*(watcher.subscribe() for _ in range(100)))
        watchers = [task for task in asyncio.all_tasks() if task.get_name() == "event watcher"]
        assert len(watchers) == 1
        garage, _ = await make_garage(db, spots=2)  # 2 spot.changed + 1 occupancy.changed
        for queue in queues:
            received = [await asyncio.wait_for(queue.get(), 5) for _ in range(3)]
            assert all(event is not None and event.garageId == garage.id for event in received)
            assert [event.type for event in received if event is not None] == [
                "spot.changed",
                "spot.changed",
                "occupancy.changed",
            ]
        for queue in queues:
            watcher.unsubscribe(queue)
    finally:
        await watcher.close()


async def test_a_stream_catches_up_then_follows_without_duplicates(db: Prisma) -> None:
    database = Database(db)
    events, watcher = EventService(database), EventWatcher(database, poll_seconds=0.05)
    try:
        start = await events.newest_seq()
        first, _ = await make_garage(db, spots=1)  # committed before the stream: caught up from the log
        stream = event_stream(events, await watcher.subscribe(), start, garage_id=None, types=None)
        second, _ = await make_garage(db, spots=1)  # committed while catching up or after: from the watcher
        got = [await asyncio.wait_for(anext(stream), 5) for _ in range(4)]
        assert [(event.garageId if event else None) for event in got] == [first.id, first.id, second.id, second.id]
        seqs = [event.seq for event in got if event is not None]
        assert seqs == sorted(set(seqs))
        await stream.aclose()
    finally:
        await watcher.close()
