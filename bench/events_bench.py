"""Event log and event stream benchmark (API-operations.md "Events"): what the live stream delivers how
fast, what open streams cost the service, and what writing the events adds to a check-in.

    make bench-events                                      (~3 minutes)
    .venv/bin/python bench/events_bench.py --quick         (~30 s: tests/tooling/test_bench_events.py)
    .venv/bin/python bench/events_bench.py --only latency --rate 50 --duration 30 --json events.json

Parts 1 and 2 run against the real service: `python -m garage serve --workers 2` (tests/api/conftest.py
start_server: GARAGE_ENV=test, a fresh file migrated by tests/database.py, replication and scheduled
backups off, as bench/http_load.py runs it), with its data made through the API (keys, one garage with
enough spots for every check-in of the run). The clients (aiohttp) run in this process, not in the
server's, so the server's CPU is its own; this process's CPU is reported beside it (2 cores shared).
Check-ins come at a steady --rate, each as its own request on a NEW connection (so they land on
either worker), never on a stream's connection.

1. latency: commit to SSE client. 1 and then 8 streams (GET /events/stream, viewer key, no filter)
   open; check-ins for --duration s. Latency = arrival of the check-in's session.started event at a
   stream (the `data:` line read) minus the time the check-in's response was read, both on this
   process's clock. The commit happens before the response is sent, so this is commit-to-arrival
   minus the rest of the check-in request after its transaction (serialising and sending the
   answer, ~1 ms): a slight underestimate, and negative when the event wins the race. Baseline in
   the same run: one client polling GET /events?after=&types=session.started every 0.2 s (the
   stream's own poll interval) on a keep-alive connection: what a client without the stream gets.
   An event that never arrives (within 5 s after the last check-in) is counted as missing: exit 1.
   Then commit to webhook receiver, the same way: an aiohttp server in this process on 127.0.0.1
   (so the service runs with GARAGE_WEBHOOK_ALLOW_PRIVATE=true), registered through POST
   /admin/webhooks for session.started of the bench garage; latency = the delivery's body read at
   the receiver (its Garage-Signature checked with the secret from the 201) minus the check-in's
   response read. The deliverer (runtime/webhook_delivery.py) runs in the one worker holding the
   scheduler's lock and looks for new events every POLL_SECONDS (0.5 s) when it has nothing left to
   do: that wait, not the POST, is most of the figure.
2. resources of 100 streams. The server's CPU (utime + stime from /proc/PID/stat) and RSS (VmRSS,
   summed; uvicorn's processes and the Node engines apart) over all the processes of its session
   (start_server runs it in a session of its own), for --window s in each phase, in order: no
   streams idle, no streams with check-ins at --rate, 1 stream idle (one watcher's polling),
   --streams streams idle, the same with check-ins, streams closed idle. The no-stream phases are
   the baseline; the budget line states the difference. --open together (default) opens the
   streams all at once, as clients reconnecting after a restart do; one-by-one waits for each. A
   few seconds of check-ins run first, unrecorded, so that the baseline is a warmed-up worker and
   not a fresh one.
3. overhead of the event log on a check-in, in this process: ParkingService.check_in (Services.build on
   the real engine, a migrated file of its own, one garage of --garage-spots spots, fresh plates, one
   client, each call timed) with the events written as the product writes them, against the same
   with the unit of work's event flush skipped: UnitOfWork.emit and UnitOfWork.occupancy_changed
   replaced by no-ops IN THIS PROCESS ONLY (pytest's MonkeyPatch, undone after each block). The two
   alternate in blocks of --block check-ins so that drift hits both; the event count is checked
   after each block (the product: 3 per check-in, session.started, spot.changed, occupancy.changed;
   skipped: none), so the comparison is what it claims. The repositories still build each event's
   data before calling emit (event_view: a model_dump), so the skipped variant keeps that part: the
   ratio is the cost of writing the rows (the Event insert in the check-in's batch and the
   occupancy summary's INSERT ... SELECT over the garage's spots).

Output: one table per part, ratios against its baseline, the budget line, then the server's log
(level warning). --json PATH also writes every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import resource
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.http_load import API, SERVER_ENV, checked, new_garage  # noqa: E402  (the service set up as http_load does)
from garage.config import load_settings  # noqa: E402
from garage.db import create_prisma  # noqa: E402
from garage.repositories.unit_of_work import Database, UnitOfWork  # noqa: E402
from garage.runtime.webhook_delivery import POLL_SECONDS as DELIVERY_POLL_SECONDS  # noqa: E402
from garage.runtime.webhook_delivery import signature  # noqa: E402
from garage.services.container import Services  # noqa: E402
from garage.services.events import POLL_SECONDS  # noqa: E402
from garage.services.spots import MAX_BULK, SpotDraft  # noqa: E402
from garage.vocabulary import SpotType, VehicleType  # noqa: E402
from tests.api.conftest import LiveServer, start_server  # noqa: E402
from tests.database import apply_migrations  # noqa: E402

PARTS = ("latency", "resources", "overhead")
WORKERS = 2
LATENCY_STREAMS = (1, 8)
EVENTS_PER_CHECK_IN = 3  # session.started, spot.changed, occupancy.changed
DRAIN_S = 5.0  # how long after the last check-in an event may still arrive before it counts as missing
STARTED = b"session.started"
WEBHOOK_ROW = "webhook: POST to a local receiver"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
ACTOR = "bench"


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending sequence (q in 0..1)."""
    if not ordered:
        return math.nan
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))]


def fmt(value: float, spec: str) -> str:
    return "-" if math.isnan(value) else format(value, spec)


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --- the server's processes -----------------------------------------------------------------------


@dataclass(frozen=True)
class Usage:
    python_cpu_s: float  # uvicorn's supervisor and its workers
    engine_cpu_s: float  # the workers' Node engines
    python_mib: float  # uvicorn's supervisor and its workers
    engine_mib: float  # the workers' Node engines
    processes: int


def server_usage(session_id: int) -> Usage:
    """CPU so far and resident memory now of every live process in the server's session."""
    ticks = {"python": 0, "engine": 0}
    rss = {"python": 0, "engine": 0}
    count = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            resident_pages = int((entry / "statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        name, rest = stat[stat.index("(") + 1 : stat.rindex(")")], stat.rsplit(")", 1)[1].split()
        if int(rest[3]) != session_id:
            continue
        kind = "engine" if name.startswith("node") else "python"
        ticks[kind] += int(rest[11]) + int(rest[12])
        rss[kind] += resident_pages * PAGE_SIZE
        count += 1
    return Usage(
        ticks["python"] / CLOCK_TICKS,
        ticks["engine"] / CLOCK_TICKS,
        rss["python"] / 2**20,
        rss["engine"] / 2**20,
        count,
    )


# --- clients: streams, the polling baseline, check-ins ------------------------------------------------


@dataclass
class Subscriber:
    """One stream (or the polling baseline): when each session.started event arrived, by session id."""

    arrivals: dict[str, float] = field(default_factory=dict)
    started_events: int = 0
    events: int = 0
    opened: asyncio.Event = field(default_factory=asyncio.Event)


async def read_stream(session: aiohttp.ClientSession, key: str, subscriber: Subscriber, *, parse: bool) -> None:
    """Reads GET /events/stream until cancelled. `parse`: note each session.started event's arrival
    by its session id (the latency part); otherwise only count, as cheaply as a reader can."""
    async with session.get(
        f"{API}/events/stream",
        headers={"Authorization": f"Bearer {key}"},
        timeout=aiohttp.ClientTimeout(total=None, sock_read=60),
    ) as response:
        if response.status != 200:
            raise RuntimeError(f"GET /events/stream -> {response.status} {(await response.text())[:500]}")
        kind = b""
        async for raw in response.content:
            if raw.startswith(b":"):
                subscriber.opened.set()
            elif raw.startswith(b"event: "):
                kind = raw[7:].rstrip()
            elif raw.startswith(b"data: "):
                arrived = time.perf_counter()
                subscriber.events += 1
                if kind == STARTED:
                    subscriber.started_events += 1
                    if parse:
                        subscriber.arrivals[json.loads(raw[6:])["data"]["session"]["id"]] = arrived


async def newest_event_id(session: aiohttp.ClientSession, key: str) -> str | None:
    after: str | None = None
    while True:
        params = {"limit": "1000", **({"after": after} if after else {})}
        async with session.get(f"{API}/events", params=params, headers={"Authorization": f"Bearer {key}"}) as r:
            page = await r.json()
            if r.status != 200:
                raise RuntimeError(f"GET /events -> {r.status} {page}")
        if page["items"]:
            after = page["items"][-1]["id"]
        if page["nextCursor"] is None:
            return after


async def poll_events(session: aiohttp.ClientSession, key: str, subscriber: Subscriber, after: str | None) -> None:
    """The baseline: GET /events?after= every POLL_SECONDS on one keep-alive connection, until cancelled."""
    subscriber.opened.set()
    while True:
        params = {"types": "session.started", "limit": "1000", **({"after": after} if after else {})}
        async with session.get(f"{API}/events", params=params, headers={"Authorization": f"Bearer {key}"}) as r:
            page = await r.json()
            arrived = time.perf_counter()
            if r.status != 200:
                raise RuntimeError(f"GET /events -> {r.status} {page}")
        for item in page["items"]:
            subscriber.arrivals[item["data"]["session"]["id"]] = arrived
            subscriber.started_events += 1
            subscriber.events += 1
            after = item["id"]
        if page["nextCursor"] is None:
            await asyncio.sleep(POLL_SECONDS)


@dataclass(frozen=True)
class CheckIn:
    session_id: str
    sent: float
    answered: float  # the whole 201 body read


class CheckInDriver:
    """Check-ins of fresh plates into one garage at a steady rate, each on a new connection."""

    def __init__(self, server: LiveServer, operator_key: str, garage_id: str) -> None:
        self._server = server
        self._headers = {"Authorization": f"Bearer {operator_key}"}
        self.garage_id = garage_id
        self.sent = 0

    async def run(self, rate: float, seconds: float) -> list[CheckIn]:
        count = max(1, round(rate * seconds))
        connector = aiohttp.TCPConnector(force_close=True, limit=0)
        async with aiohttp.ClientSession(self._server.url, connector=connector, headers=self._headers) as session:
            start = time.perf_counter()
            tasks = []
            for n in range(count):
                delay = start + n / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                # the next one is due on time even if this one is slow: each runs on its own
                tasks.append(asyncio.create_task(self._one(session, f"EV{self.sent:08d}")))
                self.sent += 1
            return list(await asyncio.gather(*tasks))

    async def _one(self, session: aiohttp.ClientSession, plate: str) -> CheckIn:
        sent = time.perf_counter()
        async with session.post(
            f"{API}/garages/{self.garage_id}/check-in", json={"licensePlate": plate, "vehicleType": "CAR"}
        ) as response:
            body = await response.json()
            answered = time.perf_counter()
        if response.status != 201:
            raise RuntimeError(f"check-in {plate} -> {response.status} {body}")
        return CheckIn(session_id=body["session"]["id"], sent=sent, answered=answered)


@asynccontextmanager
async def opened_streams(
    session: aiohttp.ClientSession, key: str, count: int, *, parse: bool, one_by_one: bool = False
) -> AsyncIterator[list[Subscriber]]:
    """`count` streams, each read by a task of its own; returns once all are open, closes them all on exit.
    All at once (as dashboards reconnect after a restart), or `one_by_one`: each opened before the next."""
    subscribers = [Subscriber() for _ in range(count)]
    tasks: list[asyncio.Task[None]] = []
    try:
        for subscriber in subscribers:
            tasks.append(asyncio.create_task(read_stream(session, key, subscriber, parse=parse)))
            if one_by_one:
                await wait_opened([subscriber], tasks[-1:])
        await wait_opened(subscribers, tasks)
        # ": connected" is written before the stream subscribes to its process's watcher (routes/events.py):
        # a change committed in between might not be sent to it, so give the subscriptions a moment
        await asyncio.sleep(0.5)
        yield subscribers
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def wait_opened(subscribers: Sequence[Subscriber], tasks: Sequence[asyncio.Task[None]]) -> None:
    async def all_opened() -> None:
        await asyncio.gather(*(s.opened.wait() for s in subscribers))

    waiting = asyncio.create_task(all_opened())
    done, _ = await asyncio.wait([waiting, *tasks], timeout=20, return_when=asyncio.FIRST_COMPLETED)
    for task in tasks:
        if task in done:
            task.result()  # a stream that ended before opening: its error
    if waiting not in done:
        waiting.cancel()
        raise RuntimeError(f"only {sum(s.opened.is_set() for s in subscribers)} of {len(subscribers)} streams opened")


async def drained(subscribers: Sequence[Subscriber], session_ids: Sequence[str]) -> None:
    """Returns once every subscriber has every one of these sessions' events, or after DRAIN_S."""
    deadline = time.perf_counter() + DRAIN_S
    while time.perf_counter() < deadline:
        if all(all(sid in s.arrivals for sid in session_ids) for s in subscribers):
            return
        await asyncio.sleep(0.05)


async def counted(subscribers: Sequence[Subscriber], targets: Sequence[int]) -> None:
    """Like `drained`, by count (streams that do not parse): raises when a stream stays short."""
    deadline = time.perf_counter() + DRAIN_S
    while any(s.started_events < t for s, t in zip(subscribers, targets, strict=True)):
        if time.perf_counter() > deadline:
            short = sum(s.started_events < t for s, t in zip(subscribers, targets, strict=True))
            raise RuntimeError(f"{short} of {len(subscribers)} streams missed session.started events")
        await asyncio.sleep(0.05)


@asynccontextmanager
async def webhook_receiver(receiver: Subscriber, secrets: list[str]) -> AsyncIterator[str]:
    """An HTTP server on 127.0.0.1 in this process taking webhook deliveries: notes each session.started
    event's first arrival by its session id (redeliveries keep the first). A delivery whose
    Garage-Signature is not the HMAC keyed by `secrets[0]` (set once the webhook is registered, before
    any check-in) gets a 400 and is not counted, so a bad signature shows as missing events.
    Yields the URL to register."""

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        arrived = time.perf_counter()
        fields = dict(
            part.split("=", 1) for part in request.headers.get("Garage-Signature", "").split(",") if "=" in part
        )
        if (
            not secrets
            or not fields.get("t", "").isdigit()
            or request.headers["Garage-Signature"] != signature(secrets[0], int(fields["t"]), body)
        ):
            return web.Response(status=400, text="bad signature")
        item = json.loads(body)
        receiver.events += 1
        if item["type"] == STARTED.decode():
            receiver.started_events += 1
            receiver.arrivals.setdefault(item["data"]["session"]["id"], arrived)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    try:
        await web.SockSite(runner, sock).start()
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    finally:
        await runner.cleanup()
        sock.close()


async def measure_webhook(
    session: aiohttp.ClientSession, server: LiveServer, driver: CheckInDriver, args: argparse.Namespace
) -> LatencyRow:
    receiver, secrets = Subscriber(), list[str]()
    admin = {"Authorization": f"Bearer {server.admin_key}"}
    async with webhook_receiver(receiver, secrets) as url:
        request = {"url": url, "types": [STARTED.decode()], "garageId": driver.garage_id}
        async with session.post(f"{API}/admin/webhooks", json=request, headers=admin) as response:
            created = await response.json()
            if response.status != 201:
                raise RuntimeError(f"POST /admin/webhooks -> {response.status} {created}")
        secrets.append(created["secret"])
        try:
            check_ins = await driver.run(args.rate, args.duration)
            await drained([receiver], [c.session_id for c in check_ins])
        finally:
            async with session.delete(f"{API}/admin/webhooks/{created['id']}", headers=admin) as response:
                if response.status != 204:
                    raise RuntimeError(f"DELETE /admin/webhooks -> {response.status} {await response.text()}")
    return latency_row(WEBHOOK_ROW, 0, [receiver], check_ins)


# --- part 1: latency ---------------------------------------------------------------------------------


@dataclass
class LatencyRow:
    subscriber: str
    streams: int
    check_ins: int
    samples: int
    missing: int
    p50_ms: float
    p95_ms: float
    max_ms: float
    check_in_p50_ms: float  # the check-in requests themselves, sent to answered
    x_poll_p50: float = math.nan


def latency_row(name: str, streams: int, subscribers: Sequence[Subscriber], check_ins: Sequence[CheckIn]) -> LatencyRow:
    samples: list[float] = []
    missing = 0
    for subscriber in subscribers:
        for check_in in check_ins:
            arrived = subscriber.arrivals.get(check_in.session_id)
            if arrived is None:
                missing += 1
            else:
                samples.append((arrived - check_in.answered) * 1000)
    samples.sort()
    return LatencyRow(
        subscriber=name,
        streams=streams,
        check_ins=len(check_ins),
        samples=len(samples),
        missing=missing,
        p50_ms=percentile(samples, 0.50),
        p95_ms=percentile(samples, 0.95),
        max_ms=samples[-1] if samples else math.nan,
        check_in_p50_ms=statistics.median((c.answered - c.sent) * 1000 for c in check_ins),
    )


async def measure_latency(
    server: LiveServer, keys: dict[str, str], driver: CheckInDriver, args: argparse.Namespace
) -> list[LatencyRow]:
    rows: list[LatencyRow] = []
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(server.url, connector=connector) as session:
        for streams in LATENCY_STREAMS:
            async with opened_streams(session, keys["viewer"], streams, parse=True) as subscribers:
                check_ins = await driver.run(args.rate, args.duration)
                await drained(subscribers, [c.session_id for c in check_ins])
            rows.append(latency_row(f"{streams} stream{'s' if streams > 1 else ''}", streams, subscribers, check_ins))
            progress(f"latency, {streams} streams: {rows[-1].samples} samples, {rows[-1].missing} missing")
        poller = Subscriber()
        task = asyncio.create_task(
            poll_events(session, keys["viewer"], poller, await newest_event_id(session, keys["viewer"]))
        )
        try:
            check_ins = await driver.run(args.rate, args.duration)
            await drained([poller], [c.session_id for c in check_ins])
        finally:
            task.cancel()
        rows.append(latency_row(f"baseline: GET /events every {POLL_SECONDS:g} s", 0, [poller], check_ins))
        progress(f"latency, polling baseline: {rows[-1].samples} samples")
        base = rows[-1].p50_ms
        rows.append(await measure_webhook(session, server, driver, args))
        progress(f"latency, webhook: {rows[-1].samples} samples, {rows[-1].missing} missing")
    for row in rows:
        row.x_poll_p50 = row.p50_ms / base if base > 0 else math.nan
    return rows


# --- part 2: resources of open streams -------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    streams: int
    window_s: float
    check_ins: int
    python_cpu_pct: float  # % of one core over the window
    engine_cpu_pct: float
    python_mib: float  # mean of the samples over the window
    engine_mib: float
    processes: int
    bench_cpu_pct: float
    events_per_stream: float  # what each open stream received in the window

    @property
    def server_cpu_pct(self) -> float:
        return self.python_cpu_pct + self.engine_cpu_pct

    @property
    def rss_mib(self) -> float:
        return self.python_mib + self.engine_mib


async def run_phase(
    name: str, server: LiveServer, driver: CheckInDriver, rate: float, window: float, subscribers: Sequence[Subscriber]
) -> Phase:
    """`window` s (until the last check-in answered, with check-ins), then every check-in's
    session.started event must reach every open stream (after the window: not counted in it)."""
    session_id = server.process.pid
    events_before = [s.events for s in subscribers]
    started_before = [s.started_events for s in subscribers]
    first, own_first, started = server_usage(session_id), own_cpu_seconds(), time.perf_counter()
    load = asyncio.create_task(driver.run(rate, window)) if rate > 0 else None
    samples: list[Usage] = []
    while time.perf_counter() - started < window:
        await asyncio.sleep(0.25)
        samples.append(server_usage(session_id))
    check_ins = await load if load is not None else []
    last, own_last, elapsed = server_usage(session_id), own_cpu_seconds(), time.perf_counter() - started
    await counted(subscribers, [before + len(check_ins) for before in started_before])
    received = sum(s.events for s in subscribers) - sum(events_before)
    return Phase(
        name=name,
        streams=len(subscribers),
        window_s=elapsed,
        check_ins=len(check_ins),
        python_cpu_pct=100 * (last.python_cpu_s - first.python_cpu_s) / elapsed,
        engine_cpu_pct=100 * (last.engine_cpu_s - first.engine_cpu_s) / elapsed,
        python_mib=statistics.mean(s.python_mib for s in samples),
        engine_mib=statistics.mean(s.engine_mib for s in samples),
        processes=last.processes,
        bench_cpu_pct=100 * (own_last - own_first) / elapsed,
        events_per_stream=received / len(subscribers) if subscribers else 0.0,
    )


async def measure_resources(
    server: LiveServer, keys: dict[str, str], driver: CheckInDriver, args: argparse.Namespace
) -> list[Phase]:
    phases: list[Phase] = []
    await driver.run(args.rate, args.warmup)  # unrecorded: workers warmed up before the baseline
    window, rate, n = args.window, args.rate, args.streams
    phases.append(await run_phase("no streams, idle", server, driver, 0, window, []))
    phases.append(await run_phase(f"no streams, {rate:g} check-ins/s", server, driver, rate, window, []))
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(server.url, connector=connector) as session:
        # the cost of a process's watcher, polling for one stream: what any number of streams should share
        async with opened_streams(session, keys["viewer"], 1, parse=False) as subscribers:
            phases.append(await run_phase("1 stream, idle", server, driver, 0, window, subscribers))
        await asyncio.sleep(2 * POLL_SECONDS)  # its watcher sees no stream left and stops
        one_by_one = args.open == "one-by-one"
        async with opened_streams(session, keys["viewer"], n, parse=False, one_by_one=one_by_one) as subscribers:
            phases.append(await run_phase(f"{n} streams, idle", server, driver, 0, window, subscribers))
            phases.append(
                await run_phase(f"{n} streams, {rate:g} check-ins/s", server, driver, rate, window, subscribers)
            )
    await asyncio.sleep(1.0)  # the streams' ends reach the workers and their watchers stop
    phases.append(await run_phase("streams closed, idle", server, driver, 0, window, []))
    for phase in phases:
        progress(f"resources, {phase.name}: server CPU {phase.server_cpu_pct:.1f}%, RSS {phase.rss_mib:.1f} MiB")
    return phases


def budget(phases: Sequence[Phase], streams: int, rate: float) -> dict[str, float]:
    idle_base, load_base, one, idle, load = phases[:5]
    return {
        "streams": streams,
        "rate_per_s": rate,
        "one_stream_idle_cpu_pct_points": one.server_cpu_pct - idle_base.server_cpu_pct,
        "idle_cpu_pct_points": idle.server_cpu_pct - idle_base.server_cpu_pct,
        "load_cpu_pct_points": load.server_cpu_pct - load_base.server_cpu_pct,
        "load_cpu_ratio": load.server_cpu_pct / load_base.server_cpu_pct if load_base.server_cpu_pct else math.nan,
        "idle_rss_mib": idle.rss_mib - idle_base.rss_mib,
        "load_rss_mib": load.rss_mib - load_base.rss_mib,
        "idle_python_mib": idle.python_mib - idle_base.python_mib,
        "load_python_mib": load.python_mib - load_base.python_mib,
        "events_per_stream_per_s": load.events_per_stream / load.window_s,
    }


# --- part 3: overhead of writing the events ---------------------------------------------------------------


def _no_emit(self: UnitOfWork, *args: Any, **kwargs: Any) -> None:
    """Stands in for UnitOfWork.emit / occupancy_changed: nothing queued, so nothing flushed."""


@contextmanager
def event_flush_skipped() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(UnitOfWork, "emit", _no_emit)
        patch.setattr(UnitOfWork, "occupancy_changed", _no_emit)
        yield


@dataclass
class OverheadRow:
    garage_spots: int
    variant: str
    check_ins: int
    events_written: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    x_skipped_p50: float = math.nan
    x_skipped_p95: float = math.nan


VARIANTS = ("events written (the product)", "event flush skipped")


async def measure_overhead(spots: int, args: argparse.Namespace, tmp: Path) -> list[OverheadRow]:
    path = tmp / f"overhead-{spots}.db"
    apply_migrations(path)
    settings = load_settings(DATABASE_URL=f"file:{path}", GARAGE_ENV="test")
    client = create_prisma(settings)
    await client.connect()
    try:
        services = Services.build(settings, Database(client))
        garage = await services.garages.create(
            name="Bench events", address="1 Bench Road", timezone="UTC", currency="USD", capacity=spots, actor=ACTOR
        )
        drafts = [SpotDraft(level=n // 1000, number=str(n % 1000 + 1), type=SpotType.STANDARD) for n in range(spots)]
        for start in range(0, spots, MAX_BULK):
            await services.spots.create(garage.id, drafts[start : start + MAX_BULK], actor=ACTOR)
        plates = (f"OV{n:08d}" for n in range(spots))

        async def check_in() -> float:
            started = time.perf_counter()
            await services.parking.check_in(
                garage.id,
                license_plate=next(plates),
                vehicle_type=VehicleType.CAR,
                spot_id=None,
                at=None,
                actor=ACTOR,
            )
            return (time.perf_counter() - started) * 1000

        for _ in range(args.overhead_warmup):
            await check_in()
        samples: dict[str, list[float]] = {name: [] for name in VARIANTS}
        written = dict.fromkeys(VARIANTS, 0)
        round_number = 0
        while len(samples[VARIANTS[1]]) < args.iterations:
            block = min(args.block, args.iterations - len(samples[VARIANTS[1]]))
            order = VARIANTS if round_number % 2 == 0 else VARIANTS[::-1]
            for name in order:
                before = await client.event.count()
                skipped = name == VARIANTS[1]
                with event_flush_skipped() if skipped else nullcontext():
                    samples[name] += [await check_in() for _ in range(block)]
                added = await client.event.count() - before
                expected = 0 if skipped else EVENTS_PER_CHECK_IN * block
                if added != expected:
                    raise RuntimeError(f"{name}: {added} events written by {block} check-ins, expected {expected}")
                written[name] += added
            round_number += 1
    finally:
        await client.disconnect()
    rows = []
    for name in VARIANTS:
        ordered = sorted(samples[name])
        rows.append(
            OverheadRow(
                garage_spots=spots,
                variant=name,
                check_ins=len(ordered),
                events_written=written[name],
                p50_ms=percentile(ordered, 0.50),
                p95_ms=percentile(ordered, 0.95),
                p99_ms=percentile(ordered, 0.99),
                mean_ms=statistics.mean(ordered),
            )
        )
    for row in rows:
        row.x_skipped_p50 = row.p50_ms / rows[1].p50_ms
        row.x_skipped_p95 = row.p95_ms / rows[1].p95_ms
    progress(f"overhead, {spots} spots: x{rows[0].x_skipped_p50:.2f} at p50")
    return rows


# --- output ---------------------------------------------------------------------------------------------------


def progress(message: str) -> None:
    print(f"[events] {message}", file=sys.stderr, flush=True)


def print_latency(rows: Sequence[LatencyRow], args: argparse.Namespace) -> None:
    print(
        f"\n1. commit -> SSE client and webhook receiver latency: garage serve --workers {WORKERS}, check-ins at "
        f"{args.rate:g}/s for {args.duration:g} s per row, each on a new connection\n"
        "   latency = session.started read at the stream - the check-in's response read (the commit precedes the\n"
        "   response: commit-to-arrival minus the rest of the request); one sample per stream per check-in;\n"
        f"   x poll = p50 / the p50 of a client polling GET /events every {POLL_SECONDS:g} s (same run);\n"
        "   webhook = the signed POST's body read at a receiver in this process (127.0.0.1); the deliverer runs in\n"
        f"   the worker holding the scheduler lock and looks for new events every {DELIVERY_POLL_SECONDS:g} s when idle"
    )
    print(
        f"{'subscriber':<34}{'check-ins':>10}{'samples':>9}{'missing':>8}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}"
        f"{'x poll':>8}{'check-in p50 ms':>17}"
    )
    for r in rows:
        print(
            f"{r.subscriber:<34}{r.check_ins:>10}{r.samples:>9}{r.missing:>8}{fmt(r.p50_ms, '9.1f')}"
            f"{fmt(r.p95_ms, '9.1f')}{fmt(r.max_ms, '9.1f')}{fmt(r.x_poll_p50, '8.2f')}{r.check_in_p50_ms:>17.1f}"
        )


def print_resources(phases: Sequence[Phase], figures: dict[str, float], args: argparse.Namespace) -> None:
    base = {False: phases[0], True: phases[1]}
    print(
        f"\n2. resources of {args.streams} open streams (no filter, opened {args.open}): garage serve --workers "
        f"{WORKERS}, "
        f"{args.window:g} s per phase, in this order\n"
        "   server = every process of its session: python (uvicorn supervisor and workers) and engine (their Node\n"
        f"   engines); CPU in % of one core ({os.cpu_count()} cores); RSS = VmRSS summed, mean of samples every\n"
        "   0.25 s;"
        " + = over the no-stream phase with the same load (same run); bench CPU = this process, the clients"
    )
    print(
        f"{'phase':<30}{'window s':>9}{'check-ins':>10}{'events/stream':>14}{'python CPU':>11}{'engine CPU':>11}"
        f"{'server CPU':>11}{'+ CPU':>8}{'python MiB':>11}{'engine MiB':>11}{'RSS MiB':>9}{'+ RSS':>7}{'bench CPU':>10}"
    )
    for phase in phases:
        ref = base[phase.check_ins > 0]
        print(
            f"{phase.name:<30}{phase.window_s:>9.2f}{phase.check_ins:>10}{phase.events_per_stream:>14.0f}"
            f"{phase.python_cpu_pct:>10.1f}%{phase.engine_cpu_pct:>10.1f}%{phase.server_cpu_pct:>10.1f}%"
            f"{phase.server_cpu_pct - ref.server_cpu_pct:>+7.1f}%{phase.python_mib:>11.1f}{phase.engine_mib:>11.1f}"
            f"{phase.rss_mib:>9.1f}{phase.rss_mib - ref.rss_mib:>+7.1f}{phase.bench_cpu_pct:>9.1f}%"
        )
    print(
        f"budget: {figures['streams']:.0f} streams cost {figures['idle_cpu_pct_points']:+.1f}% of one core idle "
        f"(1 stream: {figures['one_stream_idle_cpu_pct_points']:+.1f}%), {figures['load_cpu_pct_points']:+.1f}% under "
        f"{figures['rate_per_s']:g} check-ins/s (x{figures['load_cpu_ratio']:.2f} the no-stream CPU; "
        f"{figures['events_per_stream_per_s']:.0f} events/s to each stream); python RSS "
        f"{figures['idle_python_mib']:+.1f} MiB idle, {figures['load_python_mib']:+.1f} MiB under load (all "
        f"processes, the engines' GC noise included: {figures['idle_rss_mib']:+.1f} / {figures['load_rss_mib']:+.1f})"
    )


def print_overhead(rows: Sequence[OverheadRow], args: argparse.Namespace) -> None:
    print(
        "\n3. the event log's cost to a check-in: ParkingService.check_in in this process on the real engine, "
        "1 client,\n"
        f"   {args.iterations} check-ins per variant in alternating blocks of {args.block} after "
        f"{args.overhead_warmup} warm-up; skipped = UnitOfWork.emit and occupancy_changed\n"
        "   made no-ops here only (event data still built); x skipped = the product / skipped"
    )
    print(
        f"{'garage spots':>12}  {'variant':<30}{'check-ins':>10}{'events':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
        f"{'mean ms':>9}{'x skipped p50':>14}{'x skipped p95':>14}"
    )
    for r in rows:
        print(
            f"{r.garage_spots:>12}  {r.variant:<30}{r.check_ins:>10}{r.events_written:>8}{r.p50_ms:>9.2f}"
            f"{r.p95_ms:>9.2f}{r.p99_ms:>9.2f}{r.mean_ms:>9.2f}{r.x_skipped_p50:>14.2f}{r.x_skipped_p95:>14.2f}"
        )


# --- main -------------------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke sizes (~30 s); options given win")
    parser.add_argument("--only", nargs="+", choices=PARTS, default=list(PARTS), help="run only these parts")
    parser.add_argument("--rate", type=float, help="check-ins per second while they flow (default 20; quick 20)")
    parser.add_argument("--duration", type=float, help="seconds of check-ins per latency row (default 15; quick 2)")
    parser.add_argument("--streams", type=int, help="open streams in part 2 (default 100; quick 100)")
    parser.add_argument(
        "--open",
        choices=("together", "one-by-one"),
        default="together",
        help="part 2: open the streams all at once (default) or each after the previous one answered",
    )
    parser.add_argument("--window", type=float, help="seconds per part 2 phase (default 10; quick 1.5)")
    parser.add_argument(
        "--warmup", type=float, help="seconds of unrecorded check-ins before part 2 (default 3; quick 1)"
    )
    parser.add_argument(
        "--garage-spots", type=int, nargs="+", help="part 3 garage sizes (default 1000 5000; quick 200)"
    )
    parser.add_argument("--iterations", type=int, help="part 3 check-ins per variant (default 300; quick 20)")
    parser.add_argument(
        "--block", type=int, help="part 3 check-ins per block, variants alternate (default 25; quick 10)"
    )
    parser.add_argument("--overhead-warmup", type=int, help="part 3 unrecorded check-ins first (default 20; quick 5)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write every figure to this JSON file")
    args = parser.parse_args(argv)
    defaults: dict[str, Any] = (
        {"rate": 20.0, "duration": 2.0, "streams": 100, "window": 1.5, "warmup": 1.0, "garage_spots": [200],
         "iterations": 20, "block": 10, "overhead_warmup": 5}
        if args.quick
        else {"rate": 20.0, "duration": 15.0, "streams": 100, "window": 10.0, "warmup": 3.0,
              "garage_spots": [1000, 5000], "iterations": 300, "block": 25, "overhead_warmup": 20}
    )  # fmt: skip
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    for spots in args.garage_spots:
        if spots < args.overhead_warmup + 2 * args.iterations:
            parser.error(f"--garage-spots {spots} is fewer than the part 3 check-ins (warm-up + 2 x iterations)")
    return args


@dataclass
class Results:
    latency: list[LatencyRow] = field(default_factory=list)
    phases: list[Phase] = field(default_factory=list)
    budget: dict[str, float] = field(default_factory=dict)
    overhead: list[OverheadRow] = field(default_factory=list)
    server_log: list[str] | None = None  # None: no server was started

    def as_json(self) -> dict[str, Any]:
        return {
            "latency": [asdict(r) for r in self.latency],
            "resources": [asdict(p) | {"server_cpu_pct": p.server_cpu_pct, "rss_mib": p.rss_mib} for p in self.phases],
            "budget": self.budget,
            "overhead": [asdict(r) for r in self.overhead],
            "server_log": self.server_log,
        }


async def serve_parts(args: argparse.Namespace, tmp: Path, results: Results) -> None:
    # the webhook receiver is on 127.0.0.1 (the test environment allows it already: said, not assumed)
    server = start_server(tmp, workers=WORKERS, env={**SERVER_ENV, "GARAGE_WEBHOOK_ALLOW_PRIVATE": "true"})
    try:
        admin = server.client(server.admin_key)
        keys = {
            role: checked(admin.post(f"{API}/admin/api-keys", json={"name": f"bench {role}", "role": role}), 201)["key"]
            for role in ("operator", "viewer")
        }
        # the latency rows: one per stream count, the polling baseline, the webhook
        check_ins = args.rate * (args.warmup + 2 * args.window + (len(LATENCY_STREAMS) + 2) * args.duration)
        spots = math.ceil(check_ins * 1.1) + 50
        driver = CheckInDriver(server, keys["operator"], new_garage(admin, "bench events", spots))
        progress(f"server ready ({WORKERS} workers), a garage of {spots} spots")
        # part 2 first: its baseline is a server that no stream has touched yet
        if "resources" in args.only:
            results.phases = await measure_resources(server, keys, driver, args)
            results.budget = budget(results.phases, args.streams, args.rate)
        if "latency" in args.only:
            results.latency = await measure_latency(server, keys, driver, args)
    finally:
        server.stop()
        results.server_log = [line for line in server.log.read_text(errors="replace").splitlines() if line.strip()]


async def run(args: argparse.Namespace) -> Results:
    results = Results()
    with tempfile.TemporaryDirectory(prefix="events-bench-") as tmp_name:
        tmp = Path(tmp_name)
        if {"latency", "resources"} & set(args.only):
            await serve_parts(args, tmp, results)
        if "overhead" in args.only:  # after the server stopped: this process alone with its engine
            for spots in args.garage_spots:
                results.overhead += await measure_overhead(spots, args, tmp)
    return results


def main() -> None:
    args = parse_args()
    results = asyncio.run(run(args))
    print(
        f"events benchmark: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} (after the run); "
        f"parts: {', '.join(args.only)}"
    )
    if results.latency:
        print_latency(results.latency, args)
    if results.phases:
        print_resources(results.phases, results.budget, args)
    if results.overhead:
        print_overhead(results.overhead, args)
    missing = sum(r.missing for r in results.latency)
    if missing:
        print(f"\nMISSING: {missing} session.started events never reached a subscriber within {DRAIN_S:g} s")
    if results.server_log is not None:
        lines = results.server_log
        print(f"\nserver log (level warning): {len(lines)} lines" + ("; first 40:" if lines else ""))
        for line in lines[:40]:
            print(f"  {line}")
    if args.json:
        settings = {k: v for k, v in vars(args).items() if k != "json"}
        document = {
            "settings": settings,
            "cpus": os.cpu_count(),
            "webhook_poll_s": DELIVERY_POLL_SECONDS,
            **results.as_json(),
        }
        args.json.write_text(json.dumps(document, indent=1, default=str))
    sys.exit(1 if missing else 0)


if __name__ == "__main__":
    main()
