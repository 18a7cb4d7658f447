"""Webhooks through HTTP against real servers (API-operations.md "Events": Webhooks, Delivery): the
receiver is a small HTTP server in the test, the deliveries come from the service's own worker."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import LiveServer, free_port, start_server
from tests.api.parking_data import API, error_code, new_garage

FAST_RETRIES = {"GARAGE_WEBHOOK_RETRY_SECONDS": "0.2"}


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """An HTTP server answering POSTs with `statuses` in turn (then 200), keeping what arrived."""

    port: int
    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.received.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver(free_port())
    yield made
    made.stop()


def wait_for(condition: Callable[[], bool], *, seconds: float = 20, what: str = "the condition") -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def register(admin: httpx.Client, url: str, **body: Any) -> dict[str, Any]:
    response = admin.post(f"{API}/admin/webhooks", json={"url": url, **body})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def deliveries(admin: httpx.Client, webhook_id: str) -> list[dict[str, Any]]:
    response = admin.get(f"{API}/admin/webhooks/{webhook_id}/deliveries", params={"limit": 200})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def verify(secret: str, received: Received) -> bool:
    """What a receiver does with Garage-Signature (API-operations.md, Precise points)."""
    parts = dict(part.split("=", 1) for part in received.headers["garage-signature"].split(","))
    expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + received.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"]) and abs(time.time() - int(parts["t"])) < 300


def test_registration_shows_the_secret_once_and_audits_without_it(admin: httpx.Client) -> None:
    created = register(admin, "http://127.0.0.1:9/hook", types=["spot.changed", "session.started"])
    assert set(created) == {"id", "url", "types", "garageId", "secret", "createdAt"}
    assert created["types"] == ["spot.changed", "session.started"] and created["garageId"] is None
    secret = created["secret"]
    assert len(secret) > 30

    listed = admin.get(f"{API}/admin/webhooks")
    assert listed.status_code == 200, listed.text
    (mine,) = [item for item in listed.json()["items"] if item["id"] == created["id"]]
    assert mine == {key: value for key, value in created.items() if key != "secret"}
    assert secret not in listed.text

    audit = admin.get(f"{API}/admin/audit", params={"entity": "Webhook", "entityId": created["id"]})
    assert audit.status_code == 200, audit.text
    (creation,) = audit.json()["items"]
    assert creation["action"] == "CREATE" and creation["after"]["url"] == created["url"]
    # omitted (AUDIT_OMITTED): neither the secret nor its ciphertext, not even whether it is set
    assert creation["after"].get("secret") is None and secret not in audit.text

    assert admin.delete(f"{API}/admin/webhooks/{created['id']}").status_code == 204
    listed = admin.get(f"{API}/admin/webhooks").json()["items"]
    assert created["id"] not in {item["id"] for item in listed}
    assert error_code(admin.delete(f"{API}/admin/webhooks/{created['id']}")) == "NOT_FOUND"
    assert error_code(admin.get(f"{API}/admin/webhooks/{created['id']}/deliveries")) == "NOT_FOUND"
    audit = admin.get(f"{API}/admin/audit", params={"entity": "Webhook", "entityId": created["id"]}).json()["items"]
    assert [entry["action"] for entry in audit] == ["DELETE", "CREATE"]
    assert audit[0]["after"]["deletedAt"] is not None
    assert audit[0]["before"].get("secret") is None and audit[0]["after"].get("secret") is None
    assert secret not in json.dumps(audit)


def test_bad_urls_types_and_garages_are_refused(admin: httpx.Client, operator: httpx.Client) -> None:
    for url in ("ftp://example.com/hook", "not a url", "http:///path"):
        response = admin.post(f"{API}/admin/webhooks", json={"url": url})
        assert response.status_code == 400, (url, response.text)
    response = admin.post(f"{API}/admin/webhooks", json={"url": "http://127.0.0.1:9/", "types": ["no.such"]})
    assert response.status_code == 400, response.text
    response = admin.post(f"{API}/admin/webhooks", json={"url": "http://127.0.0.1:9/", "garageId": "nope"})
    assert error_code(response) == "NOT_FOUND"
    assert operator.post(f"{API}/admin/webhooks", json={"url": "http://127.0.0.1:9/"}).status_code == 403


def test_private_addresses_are_refused_unless_allowed(make_server: Callable[..., LiveServer]) -> None:
    server = make_server(env={"GARAGE_WEBHOOK_ALLOW_PRIVATE": "false"})
    admin = server.client(server.admin_key)
    for url in (
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",  # a name: refused for what it resolves to
        "https://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://0.0.0.0/hook",
        "http://[::ffff:127.0.0.1]/hook",
    ):
        response = admin.post(f"{API}/admin/webhooks", json={"url": url})
        assert response.status_code == 400, (url, response.text)
        assert error_code(response) == "VALIDATION_ERROR"
    assert admin.get(f"{API}/admin/webhooks").json()["items"] == []
    # a public address is accepted (nothing is delivered: no event happens)
    register(admin, "https://93.184.215.14/hook")


def test_a_failing_receiver_gets_the_event_on_a_later_attempt(
    make_server: Callable[..., LiveServer], receiver: Receiver
) -> None:
    server = make_server(env=FAST_RETRIES)
    admin = server.client(server.admin_key)
    receiver.statuses = [500, 500, 500]
    receiver.start()
    created = register(admin, receiver.url, types=["occupancy.changed"])
    garage_id, _ = new_garage(admin, [(0, "1", "STANDARD")])

    def delivered() -> bool:
        items = deliveries(admin, created["id"])
        return len(items) == 1 and items[0]["status"] == "DELIVERED"

    wait_for(delivered, what="the delivery")
    (delivery,) = deliveries(admin, created["id"])
    assert delivery["attempts"] == 4
    assert delivery["lastResponseStatus"] == 200 and delivery["lastError"] is None
    assert delivery["nextAttemptAt"] is None
    assert len(receiver.received) == 4
    events = admin.get(f"{API}/events", params={"garageId": garage_id, "types": "occupancy.changed"}).json()["items"]
    (event,) = events
    assert delivery["eventId"] == event["id"]
    for arrived in receiver.received:
        assert arrived.headers["content-type"] == "application/json"
        assert arrived.headers["garage-event-id"] == event["id"]
        assert json.loads(arrived.body) == event  # the event as GET /events lists it
        assert verify(created["secret"], arrived)
    assert not verify(created["secret"] + "x", receiver.received[0])
    # only the types asked for: the spot.changed event of the same change was not delivered
    assert {json.loads(arrived.body)["type"] for arrived in receiver.received} == {"occupancy.changed"}


def test_pending_deliveries_survive_a_sigkill(tmp_path: Path, receiver: Receiver) -> None:
    server = start_server(tmp_path, env=FAST_RETRIES)
    try:
        admin = server.client(server.admin_key)
        created = register(admin, receiver.url, types=["spot.changed"])  # the receiver is not up yet
        new_garage(admin, [(0, "1", "STANDARD"), (0, "2", "STANDARD")])

        def tried() -> bool:
            items = deliveries(admin, created["id"])
            return len(items) == 2 and all(item["attempts"] >= 1 for item in items)

        wait_for(tried, what="failed attempts")
        items = deliveries(admin, created["id"])
        assert {item["status"] for item in items} == {"PENDING"}
        assert all(item["lastError"] and item["nextAttemptAt"] for item in items)
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=10)
    finally:
        server.stop()

    receiver.start()
    again = start_server(tmp_path, env=FAST_RETRIES, database=server.database)
    try:
        admin = again.client(again.admin_key)

        def delivered() -> bool:
            items = deliveries(admin, created["id"])
            return len(items) == 2 and {item["status"] for item in items} == {"DELIVERED"}

        wait_for(delivered, what="delivery after the restart")
        ids = {item["eventId"] for item in deliveries(admin, created["id"])}
        assert {arrived.headers["garage-event-id"] for arrived in receiver.received} == ids
        assert all(verify(created["secret"], arrived) for arrived in receiver.received)
    finally:
        again.stop()


def test_delivery_checks_the_destination_again(tmp_path: Path, receiver: Receiver) -> None:
    """Registered while private addresses were allowed, then served with them refused: every attempt
    is refused, by name (what it resolves to when connecting) as by address."""
    receiver.start()
    server = start_server(tmp_path, env=FAST_RETRIES)
    try:
        admin = server.client(server.admin_key)
        by_name = register(admin, f"http://localhost:{receiver.port}/hook")
        by_address = register(admin, receiver.url)
    finally:
        server.stop()
    again = start_server(
        tmp_path, env={**FAST_RETRIES, "GARAGE_WEBHOOK_ALLOW_PRIVATE": "false"}, database=server.database
    )
    try:
        admin = again.client(again.admin_key)
        new_garage(admin, [(0, "1", "STANDARD")])

        def refused_twice(webhook_id: str) -> Callable[[], bool]:
            return lambda: all(item["attempts"] >= 2 for item in deliveries(admin, webhook_id) or [{"attempts": 0}])

        for webhook in (by_name, by_address):
            wait_for(refused_twice(webhook["id"]), what="refused attempts")
            items = deliveries(admin, webhook["id"])
            assert items and {item["status"] for item in items} == {"PENDING"}
            assert all("refused" in item["lastError"] and "loopback" in item["lastError"] for item in items), items
            assert all(item["lastResponseStatus"] is None for item in items)
        assert receiver.received == []
    finally:
        again.stop()
