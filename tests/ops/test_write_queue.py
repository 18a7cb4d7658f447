"""The write queue (garage/db/write_lock.py): writers of one database file take turns, in order,
across processes, before asking SQLite for its write lock.

- two processes writing in a loop queue for each other: never two turns at once, and a process
  that asked is not overtaken by a run of the other's turns (with polling it was: BEGIN IMMEDIATE
  waits of 0.2-0.6 s while the other worker kept the lock);
- a holder killed by SIGKILL frees the lock at once (the kernel drops its flock), for a writer
  already waiting and for the next one;
- through the service: a write whose turn does not come within GARAGE_DB_WAIT_SECONDS is answered
  503 DATABASE_UNAVAILABLE with Retry-After, like a write behind SQLite's own lock
  (tests/ops/test_lock_waits.py), and the next write after the holder left is served."""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from garage.db.write_lock import WriteQueue, write_lock_path

from tests.api.conftest import REPO, start_server
from tests.ops.crash_support import API, make_garage

WAIT_SECONDS = 3.0
SLACK_SECONDS = 2.0  # HTTP, a loaded 2-core machine

# A process taking `turns` turns of the queue on `database`, each held `hold` seconds; prints one JSON
# line per turn: when it asked, when it got the turn, when it let it go (time.monotonic(), which is
# the same clock in every process).
TURNS = textwrap.dedent(
    """
    import asyncio, json, sys, time
    from pathlib import Path
    from garage.db.write_lock import WriteQueue

    async def main(database, turns, hold):
        queue = WriteQueue(Path(database))
        print("ready", flush=True)
        sys.stdin.readline()  # go
        for _ in range(turns):
            asked = time.monotonic()
            async with queue.turn(time.monotonic() + 30):
                got = time.monotonic()
                time.sleep(hold)  # the turn's work, blocking as an engine round trip would not be
                left = time.monotonic()
            print(json.dumps([asked, got, left]), flush=True)

    asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])))
    """
)

# A process that takes the turn, says so, and waits to be killed.
HOLDER = textwrap.dedent(
    """
    import asyncio, sys, time
    from pathlib import Path
    from garage.db.write_lock import WriteQueue

    async def main(database):
        async with WriteQueue(Path(database)).turn(time.monotonic() + 30):
            print("held", flush=True)
            await asyncio.sleep(3600)

    asyncio.run(main(sys.argv[1]))
    """
)


def python(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def test_two_processes_queue_for_each_other_in_turn(tmp_path: Path) -> None:
    database = tmp_path / "garage.db"
    workers = [python(TURNS, str(database), "40", "0.005") for _ in range(2)]
    try:
        for worker in workers:
            assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        outputs = [worker.communicate(timeout=120)[0] for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
    assert all(worker.returncode == 0 for worker in workers)
    turns = [
        (process, *json.loads(line))
        for process, output in enumerate(outputs)
        for line in output.splitlines()
        if line.strip()
    ]
    assert len(turns) == 80
    ordered = sorted(turns, key=lambda turn: turn[2])
    for before, after in zip(ordered, ordered[1:], strict=False):  # one turn at a time
        assert before[3] <= after[2], f"two turns at once: {before} {after}"
    # in order: while a process waited for its turn, the other got at most a few (with two processes the gate
    # makes them alternate; the kernel wakes a waiter, and on a loaded machine the other process may take
    # the gate first now and then)
    overtaken = [
        sum(1 for other in turns if other[0] != process and asked < other[2] < got)
        for process, asked, got, _ in turns
    ]
    assert max(overtaken) <= 5, overtaken
    switches = sum(1 for before, after in zip(ordered, ordered[1:], strict=False) if before[0] != after[0])
    assert switches >= 40, f"the turns did not alternate: {switches} switches in 80 turns"


@contextmanager
def holder(database: Path) -> Iterator[subprocess.Popen[str]]:
    process = python(HOLDER, str(database))
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "held"
        yield process
    finally:
        process.kill()
        process.wait()


async def test_a_killed_holder_frees_the_lock_for_the_writer_waiting_and_the_next(tmp_path: Path) -> None:
    database = tmp_path / "garage.db"
    queue = WriteQueue(database)
    with holder(database) as process:
        started = time.monotonic()
        try:
            async with queue.turn(time.monotonic() + 0.5):
                raise AssertionError("the turn was granted while another process held it")
        except TimeoutError:
            pass
        assert 0.4 < time.monotonic() - started < 3.0

        async def write() -> float:
            async with queue.turn(time.monotonic() + 30):
                return time.monotonic()

        waiting = asyncio.create_task(write())  # adopts the wait the timed-out writer left behind
        await asyncio.sleep(0.3)
        assert not waiting.done()
        killed = time.monotonic()
        process.kill()
        granted = await asyncio.wait_for(waiting, timeout=10)
        assert granted - killed < 2.0
    async with queue.turn(time.monotonic() + 1):  # and the next writer gets it at once
        pass


async def test_a_writer_that_gave_up_does_not_keep_the_lock_it_was_granted_later(tmp_path: Path) -> None:
    database = tmp_path / "garage.db"
    queue = WriteQueue(database)
    fd = os.open(write_lock_path(database), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another open file: the queue waits for it like another process's
        try:
            async with queue.turn(time.monotonic() + 0.2):
                raise AssertionError("granted while held")
        except TimeoutError:
            pass
        fcntl.flock(fd, fcntl.LOCK_UN)
        await asyncio.sleep(0.3)  # the queue's thread gets the lock; nobody waits for it: it lets it go
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free again (BlockingIOError otherwise)
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def test_a_write_whose_turn_does_not_come_in_time_gets_503_with_retry_after(tmp_path: Path) -> None:
    server = start_server(tmp_path, env={"GARAGE_DB_WAIT_SECONDS": str(WAIT_SECONDS)})
    try:
        garage_id, key = make_garage(server.url, server.admin_key, spots=5)
        client = server.client(key)

        def check_in(plate: str) -> tuple[httpx.Response, float]:
            started = time.monotonic()
            response = client.post(
                f"{API}/garages/{garage_id}/check-in", json={"licensePlate": plate, "vehicleType": "CAR"}
            )
            return response, time.monotonic() - started

        with holder(server.database):
            response, elapsed = check_in("QUEUE1")
            assert response.status_code == 503, response.text
            assert response.json()["error"]["code"] == "DATABASE_UNAVAILABLE"
            assert "busy" in response.json()["error"]["message"]
            assert response.headers["Retry-After"] == "2"
            assert WAIT_SECONDS / 2 - 0.5 < elapsed < WAIT_SECONDS + SLACK_SECONDS
            read = client.get(f"{API}/garages/{garage_id}/spots")  # reads do not queue
            assert read.status_code == 200, read.text
        response, elapsed = check_in("QUEUE2")
        assert response.status_code == 201, response.text
        assert elapsed < WAIT_SECONDS
    finally:
        server.stop()


async def test_writers_of_one_process_take_turns_in_order_and_a_turn_is_re_entrant(tmp_path: Path) -> None:
    for queue in (WriteQueue(tmp_path / "garage.db"), WriteQueue(None)):  # None: no file, the in-process order
        order: list[str] = []

        async def write(name: str, queue: WriteQueue = queue, order: list[str] = order) -> None:
            async with queue.turn(time.monotonic() + 5):
                order.append(f"{name} in")
                async with queue.turn(time.monotonic() + 5):  # already its turn (and its tasks'): no wait
                    await asyncio.gather(asyncio.sleep(0.01), nested(queue))
                order.append(f"{name} out")

        async def nested(queue: WriteQueue) -> None:
            async with queue.turn(time.monotonic() + 0.1):
                pass

        await asyncio.gather(*(write(name) for name in "abc"))
        assert order == ["a in", "a out", "b in", "b out", "c in", "c out"]


async def test_a_process_s_turn_is_a_round_of_the_writers_queued_in_it(tmp_path: Path) -> None:
    """The writers queued in a process when it gets the lock all write before another process's turn
    (later arrivals wait for the next round), so each request waits about one round of every
    process, not turns per process whatever the clients each worker holds. A second WriteQueue on
    the same file stands for another process (its own open files: flock between them is the same)."""
    database = tmp_path / "garage.db"
    here, other = WriteQueue(database), WriteQueue(database)
    order: list[str] = []

    async def write(queue: WriteQueue, name: str) -> None:
        async with queue.turn(time.monotonic() + 10):
            order.append(name)
            await asyncio.sleep(0.01)

    fd = os.open(write_lock_path(database), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        ours = [asyncio.create_task(write(here, f"here {n}")) for n in range(3)]
        await asyncio.sleep(0.2)  # all three queued, the first waiting for the file
        theirs = asyncio.create_task(write(other, "other"))
        await asyncio.sleep(0.2)
        fcntl.flock(fd, fcntl.LOCK_UN)
        await asyncio.wait_for(asyncio.gather(*ours, theirs), timeout=10)
        assert order == ["here 0", "here 1", "here 2", "other"]
        late = [asyncio.create_task(write(here, "here again")), asyncio.create_task(write(other, "other again"))]
        await asyncio.wait_for(asyncio.gather(*late), timeout=10)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # nobody kept it
    finally:
        os.close(fd)
