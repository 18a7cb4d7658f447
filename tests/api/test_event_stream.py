"""GET /events/stream (Server-Sent Events, API-operations.md "Events") against real servers: events
arrive as they commit, from any worker, within 1 s; a dropped stream resumes with Last-Event-ID and
loses and duplicates nothing; bad or expired resume points are answered before the stream starts."""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.api.conftest import LiveServer, start_server
from tests.api.parking_data import API, error_code, new_garage, new_plate
from tests.api.test_auth_throttling import access_pids


@dataclass
class Stream:
    """An open stream read by a thread: its events (with their arrival times) and its request id."""

    request_id: str
    events: queue.Queue[tuple[float, dict[str, Any]]] = field(default_factory=queue.Queue)
    stop: threading.Event = field(default_factory=threading.Event)
    opened: threading.Event = field(default_factory=threading.Event)

    def next(self, timeout: float = 5) -> tuple[float, dict[str, Any]]:
        return self.events.get(timeout=timeout)


@contextmanager
def streaming(server: LiveServer, key: str, **params: Any) -> Iterator[Stream]:
    headers = {"Authorization": f"Bearer {key}", "X-Request-ID": f"stream-{uuid.uuid4().hex}"}
    if "last_event_id" in params:
        headers["Last-Event-ID"] = params.pop("last_event_id")
    stream = Stream(request_id=headers["X-Request-ID"])

    def read() -> None:
        try:
            read_events()
        except httpx.TransportError:
            if not stream.stop.is_set():  # the server going away after the test is done is no failure
                raise

    def read_events() -> None:
        with httpx.Client(base_url=server.url, timeout=httpx.Timeout(30, read=20)) as client, client.stream(
            "GET", f"{API}/events/stream", params=params, headers=headers
        ) as response:
            assert response.status_code == 200, response.read()
            assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
            event: dict[str, str] = {}
            for line in response.iter_lines():
                if stream.stop.is_set():
                    return
                if line.startswith(":"):
                    stream.opened.set()
                elif line == "" and event:
                    data = json.loads(event["data"])
                    assert (data["id"], data["type"]) == (event["id"], event["event"])
                    stream.events.put((time.monotonic(), data))
                    event = {}
                elif ":" in line:
                    name, _, value = line.partition(":")
                    event[name] = value.removeprefix(" ")

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert stream.opened.wait(10), "the stream did not open"
    try:
        yield stream
    finally:
        stream.stop.set()


def check_in(server: LiveServer, key: str, garage_id: str) -> tuple[float, str, str]:
    """A check-in on a connection of its own: (when it answered, the session id, its request id)."""
    request_id = f"checkin-{uuid.uuid4().hex}"
    response = httpx.post(
        f"{server.url}{API}/garages/{garage_id}/check-in",
        json={"licensePlate": new_plate(), "vehicleType": "CAR"},
        headers={"Authorization": f"Bearer {key}", "X-Request-ID": request_id},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return time.monotonic(), str(response.json()["session"]["id"]), request_id


def started(stream: Stream, session_id: str, timeout: float = 5) -> float:
    """When the session.started event of `session_id` reached the stream."""
    deadline = time.monotonic() + timeout
    while True:
        arrived, event = stream.next(max(0.01, deadline - time.monotonic()))
        if event["type"] == "session.started" and event["data"]["session"]["id"] == session_id:
            return arrived


def test_events_reach_streams_on_the_other_worker_within_a_second(tmp_path: Path) -> None:
    server = start_server(tmp_path, workers=2, env={"GARAGE_LOG_LEVEL": "info", "GARAGE_REPLICATION": "false"})
    try:
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.admin_key}"}) as admin:
            garage_id, _ = new_garage(admin, [(0, str(n), "STANDARD") for n in range(1, 21)])
        with streaming(server, server.admin_key, garageId=garage_id, types="session.started") as first, \
                streaming(server, server.admin_key, garageId=garage_id, types="session.started") as second, \
                streaming(server, server.admin_key, garageId=garage_id, types="session.started") as third:
            streams = [first, second, third]
            latencies: list[float] = []
            check_ins: list[str] = []
            for _ in range(8):
                answered, session_id, request_id = check_in(server, server.admin_key, garage_id)
                check_ins.append(request_id)
                latencies += [started(stream, session_id) - answered for stream in streams]
            time.sleep(0.3)  # the access lines reach the log
            stream_pids = access_pids(server, {stream.request_id for stream in streams})
            check_in_pids = access_pids(server, set(check_ins))
        assert len(stream_pids | check_in_pids) == 2, "the requests all went to one worker: nothing crossed"
        assert max(latencies) < 1.0, latencies
    finally:
        server.stop()


def test_a_dropped_stream_resumes_without_loss_or_duplicates(live: LiveServer, admin: httpx.Client) -> None:
    garage_id, _ = new_garage(admin, [(0, str(n), "STANDARD") for n in range(1, 11)])
    received: list[dict[str, Any]] = []
    with streaming(live, live.admin_key, garageId=garage_id) as stream:
        for _ in range(3):
            check_in(live, live.admin_key, garage_id)
        while len(received) < 9:  # three check-ins: started, spot, occupancy each
            received.append(stream.next()[1])
    # while nobody listens
    missed = [check_in(live, live.admin_key, garage_id)[1] for _ in range(3)]
    with streaming(live, live.admin_key, garageId=garage_id, last_event_id=received[-1]["id"]) as resumed:
        check_in(live, live.admin_key, garage_id)
        for _ in range(12):  # the three missed check-ins, then the new one
            received.append(resumed.next()[1])
    ids = [event["id"] for event in received]
    assert ids == sorted(ids) and len(set(ids)) == len(ids) == 21
    listed = admin.get(f"{API}/events", params={"garageId": garage_id, "after": ids[0], "limit": 1000}).json()
    assert [event["id"] for event in listed["items"]] == ids[1:]  # the stream saw exactly what the log holds
    assert {event["data"]["session"]["id"] for event in received if event["type"] == "session.started"} >= set(missed)


def test_bad_resume_points_are_refused_before_the_stream(live: LiveServer, viewer: httpx.Client) -> None:
    bad = viewer.get(f"{API}/events/stream", headers={"Last-Event-ID": "nonsense"})
    assert bad.status_code == 400 and error_code(bad) == "VALIDATION_ERROR"
    unknown = viewer.get(f"{API}/events/stream", params={"types": "nope"})
    assert unknown.status_code == 400
