"""Shared by the crash and engine-restart tests (tests/ops) and bench/crash_test.py: a parking
workload from concurrent clients that records every acknowledged (2xx) write, the engine
processes of a live server (from /proc), and the checks that every acknowledged write is stored
and API.md's invariants hold (read with the generated client on the same database file)."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from garage.config import load_settings
from garage.db import create_prisma

API = "/api/v1"


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, read from /proc (psutil is not installed)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def engine_pids(server_pid: int) -> list[int]:
    """The query engines (node ... query-engine.js) spawned by the server's workers."""
    engines = []
    for pid in descendants(server_pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if b"query-engine" in cmdline:
            engines.append(pid)
    return engines


def kill_group(pgid: int) -> None:
    """SIGKILL to every process of the server's group at once, then wait until they are gone."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        alive = [pid for pid in _group_members(pgid) if not _zombie(pid)]
        if not alive:
            return
        time.sleep(0.02)
    raise RuntimeError(f"processes of group {pgid} survived SIGKILL")


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getpgid(int(entry)) == pgid:
                    members.append(int(entry))
            except OSError:
                pass
    return members


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


@dataclass
class Ledger:
    """What the service acknowledged: check-ins (session id -> plate) and check-outs (session id ->
    payment id). Thread-safe; `active` is the clients' pool of sessions to check out."""

    checked_in: dict[str, str] = field(default_factory=dict)
    checked_out: dict[str, str] = field(default_factory=dict)
    active: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    unanswered: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class Workload:
    """`clients` threads checking new plates in and known sessions out against `url` until
    stopped. A request that gets no answer (the server died) has an unknown outcome: it is not
    acknowledged, so the checks do not count it either way."""

    def __init__(self, url: str, key: str, garage_id: str, ledger: Ledger, *, clients: int = 4,
                 timeout: float = 20) -> None:
        self.url, self.key, self.garage_id, self.ledger = url, key, garage_id, ledger
        self.clients, self.timeout = clients, timeout
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> Workload:
        self._threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(self.clients)]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.timeout + 5)

    def _run(self, number: int) -> None:
        rng = random.Random(number)
        with httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.key}"}, timeout=self.timeout) as client:
            while not self._stop.is_set():
                with self.ledger.lock:
                    session_id = self.ledger.active.pop(rng.randrange(len(self.ledger.active))) \
                        if self.ledger.active and rng.random() < 0.5 else None
                try:
                    if session_id is None:
                        self._check_in(client)
                    else:
                        self._check_out(client, session_id)
                except httpx.HTTPError:
                    with self.ledger.lock:
                        self.ledger.unanswered += 1
                    time.sleep(0.05)

    def _check_in(self, client: httpx.Client) -> None:
        plate = "C" + uuid.uuid4().hex[:9].upper()
        response = client.post(f"{API}/garages/{self.garage_id}/check-in", json={"licensePlate": plate, "vehicleType": "CAR"})
        with self.ledger.lock:
            self.ledger.statuses[response.status_code] += 1
            if response.status_code == 201:
                session_id = response.json()["session"]["id"]
                self.ledger.checked_in[session_id] = plate
                self.ledger.active.append(session_id)

    def _check_out(self, client: httpx.Client, session_id: str) -> None:
        response = client.post(f"{API}/sessions/{session_id}/check-out", json={"paymentMethod": "CARD"})
        with self.ledger.lock:
            self.ledger.statuses[response.status_code] += 1
            if response.status_code == 200:
                self.ledger.checked_out[session_id] = response.json()["payment"]["id"]


def make_garage(url: str, admin_key: str, spots: int) -> tuple[str, str]:
    """A garage with `spots` STANDARD spots and an operator key; returns (garage id, key)."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=30) as admin:
        garage = admin.post(f"{API}/garages", json={"name": f"crash {uuid.uuid4().hex[:8]}", "address": "1 Crash Road",
                                                    "currency": "USD", "capacity": spots})
        assert garage.status_code == 201, garage.text
        garage_id = str(garage.json()["id"])
        made = admin.post(f"{API}/garages/{garage_id}/spots",
                          json={"spots": [{"level": 0, "number": str(n), "type": "STANDARD"} for n in range(1, spots + 1)]})
        assert made.status_code == 201, made.text
        key = admin.post(f"{API}/admin/api-keys", json={"name": "crash operator", "role": "operator"})
        assert key.status_code == 201, key.text
        return garage_id, str(key.json()["key"])


class Inspector:
    """Reads the database file with its own client and engine (a separate process, so it outlives
    every server crash; WAL lets it read beside the server)."""

    def __init__(self, database: Path) -> None:
        self._loop = asyncio.new_event_loop()
        self._db = create_prisma(load_settings(DATABASE_URL=f"file:{database}"))
        self._loop.run_until_complete(self._db.connect())

    def close(self) -> None:
        self._loop.run_until_complete(self._db.disconnect())
        self._loop.close()

    def problems(self, ledger: Ledger) -> list[str]:
        """Every acknowledged write missing and every broken invariant (empty: all is well)."""
        return self._loop.run_until_complete(self._problems(ledger))

    def active_sessions(self, garage_id: str) -> list[str]:
        async def read() -> list[str]:
            return [s.id for s in await self._db.parkingsession.find_many(where={"garageId": garage_id, "status": "ACTIVE"})]
        return self._loop.run_until_complete(read())

    async def _problems(self, ledger: Ledger) -> list[str]:
        db = self._db
        sessions = {s.id: s for s in await db.parkingsession.find_many()}
        spots = await db.spot.find_many()
        tickets = {t.sessionId: t for t in await db.ticket.find_many()}
        payments = Counter(p.sessionId for p in await db.payment.find_many())
        payment_ids = {p.id: p.sessionId for p in await db.payment.find_many()}
        problems: list[str] = []
        with ledger.lock:
            checked_in, checked_out = dict(ledger.checked_in), dict(ledger.checked_out)
        for session_id, plate in checked_in.items():
            if session_id not in sessions or sessions[session_id].licensePlate != plate:
                problems.append(f"acknowledged check-in {session_id} ({plate}) is missing")
            elif session_id not in tickets:
                problems.append(f"acknowledged check-in {session_id} has no ticket")
        for session_id, payment_id in checked_out.items():
            if session_id not in sessions or sessions[session_id].status != "COMPLETED":
                problems.append(f"acknowledged check-out of {session_id} is missing")
            if payment_ids.get(payment_id) != session_id:
                problems.append(f"acknowledged payment {payment_id} of {session_id} is missing")
        active = [s for s in sessions.values() if s.status == "ACTIVE"]
        for what, counts in (("spot", Counter(s.spotId for s in active)), ("vehicle", Counter(s.vehicleId for s in active))):
            problems += [f"{what} {key} has {n} ACTIVE sessions" for key, n in counts.items() if n > 1]
        active_spots = {s.spotId for s in active}
        for spot in spots:
            if (spot.status == "OCCUPIED") != (spot.id in active_spots):
                problems.append(f"spot {spot.id} is {spot.status} with{'' if spot.id in active_spots else 'out'} an ACTIVE session")
        for session in sessions.values():
            if session.status != "COMPLETED":
                continue
            if payments[session.id] != 1:
                problems.append(f"COMPLETED session {session.id} has {payments[session.id]} payments")
            ticket = tickets.get(session.id)
            if ticket is None or ticket.status not in ("PAID", "LOST"):
                problems.append(f"COMPLETED session {session.id} has ticket {ticket and ticket.status}")
        return problems


def run_crash_cycles(tmp: Path, cycles: int, *, workers: int = 2, clients: int = 4, max_load_seconds: float = 1.5,
                     seed: int | None = None, report: object = None) -> Ledger:
    """Serves the workload from a real uvicorn (`workers` workers), SIGKILLs its whole process
    group at a random moment, restarts it on the same file and checks every acknowledged write
    and the invariants; `cycles` times. Raises AssertionError naming the first problems."""
    from tests.api.conftest import start_server  # the API tests' server starter

    rng = random.Random(seed)
    say = report if callable(report) else (lambda _: None)
    server = start_server(tmp, workers=workers)
    database = server.database
    garage_id, key = make_garage(server.url, server.admin_key, spots=30)
    inspector = Inspector(database)
    ledger = Ledger()
    try:
        for cycle in range(1, cycles + 1):
            if cycle > 1:
                server = start_server(tmp, workers=workers, database=database)
                _assert_intact(inspector, ledger, f"after restart {cycle - 1}")
            # a check-out whose answer was lost may or may not have happened: the database says
            ledger.active = inspector.active_sessions(garage_id)
            load = Workload(server.url, key, garage_id, ledger, clients=clients).start()
            time.sleep(rng.uniform(0.1, max_load_seconds))
            kill_group(server.process.pid)
            server.process.wait()
            load.stop()
            say(f"cycle {cycle}: {len(ledger.checked_in)} check-ins and {len(ledger.checked_out)} check-outs acknowledged "
                f"so far, statuses {dict(ledger.statuses)}, {ledger.unanswered} unanswered")
        server = start_server(tmp, workers=workers, database=database)
        _assert_intact(inspector, ledger, f"after restart {cycles}")
        server.stop()
    finally:
        if server.process.poll() is None:
            kill_group(server.process.pid)
        inspector.close()
    assert ledger.statuses[500] == 0, f"500s answered: {dict(ledger.statuses)}"
    return ledger


def _assert_intact(inspector: Inspector, ledger: Ledger, when: str) -> None:
    problems = inspector.problems(ledger)
    assert not problems, f"{when}: {len(problems)} problems, e.g. {problems[:10]}"
