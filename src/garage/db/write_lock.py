"""Writers of one database file take turns, in order, before they ask SQLite for its write lock.

SQLite has no queue for its write lock: a writer that finds it taken gets SQLITE_BUSY and tries
again later (the engine retries on a 0.5-4 ms timer). With several processes writing one file
(`garage serve --workers 2`) the lock then goes to whichever process happens to look at the right
moment, not to the one that has waited longest: check-ins waited up to ~0.6 s to BEGIN and their
p95 reached 1.5 s at 32 clients. `WriteQueue.turn(deadline)` makes writers queue instead:

- within a process, an asyncio.Lock: the process's writers wait on the event loop, in order, and
  only the one at its head deals with other processes (no thread per waiting writer);
- in rounds: a process that gets the file lock keeps it for the writers that were queued in it at
  that moment, then lets it go (later arrivals wait for the next round). So each writer waits for
  about one round of every process, whatever the number of requests each worker happens to hold
  (with strict turns per PROCESS, the requests of a worker holding more of the connections each get
  fewer turns: a run at 32 clients showed a p50 of 63 ms beside a p95 of 1.3 s). Fewer hand-overs
  between processes, too;
- across processes, two flock(2) locks on files beside the database, `<db>.write.lock` (held for
  the turn) and `<db>.write-gate.lock` (held by the one writer next in line). A writer takes the
  gate, then the lock, then lets the gate go. The kernel does not queue flock waiters in order,
  but with the gate a writer that just let the lock go cannot take it again while another process
  waits for it (that one holds the gate), so with two processes their rounds alternate. An
  uncontended turn costs three non-blocking flock calls; a contended one waits in ONE thread per
  process, blocked in the kernel (no polling), and the event loop is woken when the lock is its.
- bounded: a turn not granted by `deadline` (time.monotonic()) raises TimeoutError; the callers
  (repositories/unit_of_work.py) make that the same 503 as a busy database. A wait that timed out
  leaves its thread waiting; the next writer of the process takes the lock from it, or, if none
  comes, the lock is let go at once.
- safe on crash: flock locks belong to the open file and the kernel drops them when the process
  dies, even by SIGKILL. The descriptors are not inherited by child processes (PEP 446), so the
  query engine never holds them.
- re-entrant within a turn: a writer that already has the turn (a context variable, inherited by
  the tasks it starts) goes straight through.

Writes that bypass it (another program, a `sqlite3` shell) still meet SQLite's busy handling as
before; the queue only orders the writers that use it."""

from __future__ import annotations

import asyncio
import contextvars
import fcntl
import os
import queue
import threading
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

_HOLDING: contextvars.ContextVar[WriteQueue | None] = contextvars.ContextVar("garage_write_turn", default=None)
# a waiting thread with nothing to wait for exits after this long (it is started again when needed)
_IDLE_SECONDS = 10.0


def write_lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".write.lock")


def write_gate_path(database: Path) -> Path:
    return database.with_name(database.name + ".write-gate.lock")


def _open(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


class WriteQueue:
    """The turns of one database file's writers (one per client; see the module docstring).
    `database=None` (no file: a client built without one): the in-process order only."""

    def __init__(self, database: Path | None) -> None:
        self.database = database
        self._local = asyncio.Lock()
        self._fds: tuple[int, int] | None = None  # (lock, gate), opened on first use
        self._queued = 0  # writers of this process waiting for the in-process lock
        self._file_held = False  # this process has the file lock (a round of its writers)
        self._round_left = 0  # how many more of its writers may write before it lets the lock go
        self._pending: asyncio.Future[None] | None = None  # the waiting thread's answer
        self._waiting = False  # a writer awaits _pending (else a granted lock is let go at once)
        self._requests: queue.SimpleQueue[tuple[asyncio.AbstractEventLoop, asyncio.Future[None], bool]] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None
        self._thread_guard = threading.Lock()

    @asynccontextmanager
    async def turn(self, deadline: float) -> AsyncIterator[None]:
        """Holds this process's turn to write `database` for the block; TimeoutError if it is not
        granted by `deadline` (time.monotonic())."""
        if _HOLDING.get() is self:
            yield
            return
        await self._acquire(deadline)
        token = _HOLDING.set(self)
        try:
            yield
        finally:
            _HOLDING.reset(token)
            self._release()

    async def _acquire(self, deadline: float) -> None:
        self._queued += 1
        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):  # no wait if free
                await self._local.acquire()
        except BaseException:
            self._queued -= 1
            self._let_go_if_unused()
            raise
        self._queued -= 1
        try:
            if self.database is not None and not self._file_held:
                await self._take_file_lock(deadline)
                self._file_held = True
                self._round_left = self._queued  # the writers queued here meanwhile write in this turn
        except BaseException:
            self._local.release()
            raise

    def _release(self) -> None:
        try:
            if self._file_held:
                if self._round_left > 0 and self._queued > 0:
                    self._round_left -= 1  # the next writer of this round: the lock stays
                else:
                    self._let_go()
        finally:
            self._local.release()

    def _let_go(self) -> None:
        self._file_held = False
        fcntl.flock(self._descriptors()[0], fcntl.LOCK_UN)

    def _let_go_if_unused(self) -> None:
        """A writer gave up waiting: if the lock was kept for the round and nobody is left to use it,
        let it go now (not at this process's next write)."""
        if self._file_held and self._queued == 0 and not self._local.locked():
            self._let_go()

    async def _take_file_lock(self, deadline: float) -> None:
        pending = self._pending
        if pending is None:  # no thread is waiting already: try without one
            lock, gate = self._descriptors()
            try:
                fcntl.flock(gate, fcntl.LOCK_EX | fcntl.LOCK_NB)
                has_gate = True
            except BlockingIOError:  # another process is next in line: queue behind it
                has_gate = False
            if has_gate:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:  # held: we are next, wait for it holding the gate
                    pass
                else:
                    fcntl.flock(gate, fcntl.LOCK_UN)
                    return
            pending = self._pending = self._wait_in_thread(has_gate=has_gate)
        self._waiting = True
        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                await asyncio.shield(pending)
        except BaseException:
            if pending.done() and not pending.cancelled() and pending.exception() is None:
                fcntl.flock(self._descriptors()[0], fcntl.LOCK_UN)  # granted as the wait ended
            raise
        finally:
            self._waiting = False

    def _descriptors(self) -> tuple[int, int]:
        if self._fds is None:
            assert self.database is not None
            self._fds = (_open(write_lock_path(self.database)), _open(write_gate_path(self.database)))
            weakref.finalize(self, _close, self._fds)
        return self._fds

    def _wait_in_thread(self, *, has_gate: bool) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        pending: asyncio.Future[None] = loop.create_future()
        with self._thread_guard:
            self._requests.put((loop, pending, has_gate))
            if self._thread is None:
                self._thread = threading.Thread(target=self._waiter, name="garage-write-lock", daemon=True)
                self._thread.start()
        return pending

    def _waiter(self) -> None:
        """The process's one thread blocked in flock for the writer at the head of its queue."""
        lock, gate = self._descriptors()
        while True:
            try:
                loop, pending, has_gate = self._requests.get(timeout=_IDLE_SECONDS)
            except queue.Empty:
                with self._thread_guard:
                    if self._requests.empty():
                        self._thread = None
                        return
                continue
            error: OSError | None = None
            try:
                if not has_gate:
                    fcntl.flock(gate, fcntl.LOCK_EX)
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX)
                finally:
                    fcntl.flock(gate, fcntl.LOCK_UN)
            except OSError as failed:  # pragma: no cover - a descriptor flock refuses: nothing held
                error = failed
            try:
                loop.call_soon_threadsafe(self._granted, pending, error)
            except RuntimeError:  # the loop is closed: nobody will take the lock
                if error is None:
                    fcntl.flock(lock, fcntl.LOCK_UN)

    def _granted(self, pending: asyncio.Future[None], error: OSError | None) -> None:
        """On the loop: the thread's wait is over. The lock goes to the writer waiting for it, or
        is let go at once if that writer gave up meanwhile."""
        self._pending = None
        if error is not None:
            pending.set_exception(error)
            if not self._waiting:
                pending.exception()  # retrieved: nobody awaits it
        elif self._waiting:
            pending.set_result(None)
        else:
            fcntl.flock(self._descriptors()[0], fcntl.LOCK_UN)
            pending.cancel()


def _close(fds: tuple[int, int]) -> None:
    for fd in fds:
        os.close(fd)


_QUEUES: weakref.WeakKeyDictionary[object, WriteQueue] = weakref.WeakKeyDictionary()


def write_queue_of(client: object, database: Path | None) -> WriteQueue:
    """The write queue of `client` (one per client, made on first use) for the file `database`."""
    found = _QUEUES.get(client)
    if found is None:
        found = _QUEUES[client] = WriteQueue(database)
    return found
