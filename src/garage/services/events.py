"""Reading the event log (API-operations.md "Events"). Events are written by the units of work of
the changes they describe (repositories/unit_of_work.py); this is the catch-up list a client uses
after a gap, and what the live stream (a later step) resumes from."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import AsyncGenerator, Sequence

from garage.errors import EventsExpired, ValidationFailed
from garage.repositories.events import EventPage, seq_of
from garage.repositories.records import Event
from garage.repositories.unit_of_work import Database

log = logging.getLogger(__name__)


class EventService:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def after(
        self, after: str | None, *, garage_id: str | None, types: Sequence[str] | None, limit: int
    ) -> EventPage:
        """Events committed after the event `after` (from the oldest kept when None), oldest first.
        EventsExpired when events after it were already deleted by retention."""
        after_seq = 0 if after is None else await self.resume_point(after)
        return await self.page(after_seq, garage_id=garage_id, types=types, limit=limit)

    async def page(
        self, after_seq: int, *, garage_id: str | None, types: Sequence[str] | None, limit: int
    ) -> EventPage:
        """Events after a resume point already checked (`resume_point`, `newest_seq`)."""
        return await self._db.events.after(after_seq, garage_id=garage_id, types=types, limit=limit)

    async def newest_seq(self) -> int:
        """The newest event's seq (0 when there is none): where a stream that asked for no past
        events starts."""
        return await self._db.events.newest_seq()

    async def resume_point(self, after: str) -> int:
        """The seq of the event id `after`; ValidationFailed when it is not one, EventsExpired when
        events after it were deleted by retention."""
        after_seq = seq_of(after)
        if after_seq is None:
            raise ValidationFailed("after is not an event id", details={"fields": {"after": "not an event id"}})
        oldest = await self._db.events.oldest_seq()
        # ids are given out one after the other: a gap before the oldest kept means deleted events
        if oldest is not None and after_seq < oldest - 1:
            raise EventsExpired(
                f"Events after {after} are no longer kept (GARAGE_EVENT_RETENTION_DAYS): start over from the list"
            )
        return after_seq


# How often the process's watcher looks for new events while anyone is streaming: the bound on
# delivery delay (API-operations.md: within 1 s), whatever the number of streams.
POLL_SECONDS = 0.2
# A stream that falls this far behind (a client that does not read) is dropped; it resumes with
# Last-Event-ID and loses nothing.
STREAM_BACKLOG = 10_000


class EventWatcher:
    """ONE watcher per process: while streams are open it reads the events committed since its last
    look (by any worker: they all write the same database), one indexed query every POLL_SECONDS,
    and hands each to every open stream. Streams never query on their own after catching up, so
    a hundred streams cost what one does."""

    def __init__(self, db: Database, *, poll_seconds: float = POLL_SECONDS) -> None:
        self._db = db
        self._poll_seconds = poll_seconds
        self._streams: set[asyncio.Queue[Event | None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._seen = 0

    async def subscribe(self) -> asyncio.Queue[Event | None]:
        """A queue that gets every event committed from now on (None: the stream was dropped)."""
        queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize=STREAM_BACKLOG)
        self._streams.add(queue)
        # Nothing is awaited between the check and the start: streams subscribing at the same moment
        # share one watcher (an await here let each of them start its own).
        if self._task is None or self._task.done():
            # a context of its own: the request that happened to start it (its id, its deadline) is not its own
            self._task = asyncio.get_running_loop().create_task(
                self._watch(), name="event watcher", context=contextvars.Context()
            )
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Event | None]) -> None:
        self._streams.discard(queue)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _watch(self) -> None:
        while self._streams:  # where the log ends now (streams catch up to here on their own)
            try:
                self._seen = await self._db.events.newest_seq()
                break
            except Exception:
                log.warning("the event watcher could not read the log; trying again", exc_info=True)
                await asyncio.sleep(self._poll_seconds)
        while self._streams:
            try:
                page = await self._db.events.after(self._seen, garage_id=None, types=None, limit=1000)
            except Exception:  # a busy or restarting database: the next look catches up
                log.warning("the event watcher could not read new events; trying again", exc_info=True)
                page = None
            if page is not None and page.items:
                self._seen = page.items[-1].seq
                for queue in list(self._streams):
                    self._hand(queue, page.items)
                if page.next_after is not None:
                    continue  # more are waiting: no pause
            await asyncio.sleep(self._poll_seconds)

    def _hand(self, queue: asyncio.Queue[Event | None], events: Sequence[Event]) -> None:
        try:
            for event in events:
                queue.put_nowait(event)
        except asyncio.QueueFull:  # a client that stopped reading: drop it, it resumes by id
            self._streams.discard(queue)
            with contextlib.suppress(asyncio.QueueEmpty):
                queue.get_nowait()
            queue.put_nowait(None)


# A comment line at least this often keeps proxies and clients from timing the stream out.
KEEP_ALIVE_SECONDS = 15.0


async def event_stream(
    events: EventService,
    queue: asyncio.Queue[Event | None],
    after_seq: int,
    *,
    garage_id: str | None,
    types: Sequence[str] | None,
    keep_alive: float = KEEP_ALIVE_SECONDS,
) -> AsyncGenerator[Event | None]:
    """The events after `after_seq` (checked by the caller: `EventService.resume_point`, or the
    log's end `newest_seq` for "from now on"), then every new one as it commits, without loss or
    duplicates; None when a keep-alive is due. `queue` is the stream's subscription
    (`EventWatcher.subscribe`), taken by the caller before the answer starts so that nothing
    committed after the client saw the stream open is missed; the caller releases it."""
    last = after_seq
    while True:  # catch up from the log; the queue holds what commits meanwhile
        page = await events.page(last, garage_id=garage_id, types=types, limit=1000)
        for event in page.items:
            last = event.seq
            yield event
        if page.next_after is None:
            break
    wanted = set(types) if types else None
    while True:
        try:
            arrived = await asyncio.wait_for(queue.get(), timeout=keep_alive)
        except TimeoutError:
            yield None
            continue
        if arrived is None:
            return  # dropped for falling behind
        if arrived.seq <= last:
            continue  # already sent while catching up
        last = arrived.seq
        if (garage_id is None or arrived.garageId == garage_id) and (wanted is None or arrived.type in wanted):
            yield arrived
