"""Failed-authentication throttling (API-operations.md "Browser access and abuse limits" and
"Precise points"): after GARAGE_AUTH_FAILURES_PER_MINUTE requests without a valid key from one
client address within a sliding minute, that address's requests without a valid key get 429
RATE_LIMITED with Retry-After; valid keys are never throttled. Against real servers (one and two
workers), and the shared counter file (security/auth_failures.py) with real processes.

The window is the contract's minute: the test of its end waits for it, last, so that the other
tests run inside that minute."""

from __future__ import annotations

import concurrent.futures
import itertools
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from garage.config import load_settings
from garage.security.auth_failures import (
    HEADER,
    PROBE,
    SLOT_HEAD,
    WINDOW_SECONDS,
    FailedAuthentications,
    auth_failures_path,
)
from tests.api.conftest import REPO, LiveServer, start_server
from tests.api.parking_data import API

LIMIT = 20
WRONG_KEY = "gk_000000000000_not-a-key"
ENV = {"GARAGE_AUTH_FAILURES_PER_MINUTE": str(LIMIT), "GARAGE_REPLICATION": "false"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def client_from(server: LiveServer, local_address: str) -> httpx.Client:
    """A client whose connections come from `local_address` (any 127.x.y.z reaches the server)."""
    return httpx.Client(base_url=server.url, timeout=30, transport=httpx.HTTPTransport(local_address=local_address))


def assert_rate_limited(response: httpx.Response) -> int:
    """Checks a 429 RATE_LIMITED answer; its Retry-After in seconds."""
    assert response.status_code == 429, response.text
    assert response.json()["error"]["code"] == "RATE_LIMITED"
    assert set(response.json()["error"]) == {"code", "message", "details"}
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= WINDOW_SECONDS
    return retry_after


def test_the_default_limit_is_20() -> None:
    assert load_settings(GARAGE_ENV="test").auth_failures_per_minute == 20


# --- one address over the limit, on one server ------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(tmp_path_factory.mktemp("throttling"), env=ENV)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def throttled(server: LiveServer) -> float:
    """Takes 127.0.0.1 over the limit: LIMIT failures (missing, malformed and wrong keys, some with
    an X-Forwarded-For naming other clients, which must not count) answered 401, then the first
    429. Returns the time.monotonic() at which its minute is over."""
    attempts: list[dict[str, str]] = [
        {},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        bearer(WRONG_KEY),
        {**bearer(WRONG_KEY), "X-Forwarded-For": "203.0.113.7"},
    ]
    with client_from(server, "127.0.0.1") as client:
        started = time.monotonic()
        for headers in itertools.islice(itertools.cycle(attempts), LIMIT):
            response = client.get(f"{API}/garages", headers=headers)
            assert response.status_code == 401, response.text
        retry_after = assert_rate_limited(client.get(f"{API}/garages", headers=bearer(WRONG_KEY)))
    assert retry_after <= WINDOW_SECONDS - (time.monotonic() - started) + 1
    return time.monotonic() + retry_after


class TestOneAddress:
    def test_the_21st_failed_authentication_is_429_with_retry_after(self, server: LiveServer, throttled: float) -> None:
        with client_from(server, "127.0.0.1") as client:
            for headers in ({}, bearer(WRONG_KEY), {**bearer(WRONG_KEY), "X-Forwarded-For": "198.51.100.1"}):
                assert_rate_limited(client.post(f"{API}/garages", json={}, headers=headers))
            # Retry-After counts down to when the window has room again
            retry_after = assert_rate_limited(client.get(f"{API}/garages"))
            assert abs(retry_after - (throttled - time.monotonic())) <= 2

    def test_a_valid_key_is_never_throttled(self, server: LiveServer, throttled: float) -> None:
        with client_from(server, "127.0.0.1") as client:
            for _ in range(3):
                assert client.get(f"{API}/garages", headers=bearer(server.admin_key)).status_code == 200
            created = client.post(
                f"{API}/admin/api-keys", json={"name": "viewer", "role": "viewer"}, headers=bearer(server.admin_key)
            )
            assert created.status_code == 201, created.text
            viewer = bearer(created.json()["key"])
            assert client.get(f"{API}/garages", headers=viewer).status_code == 200
            # a valid key without the role is a 403, not an authentication failure
            forbidden = client.post(f"{API}/garages", json={}, headers=viewer)
            assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "FORBIDDEN"
            # what needs no key is not throttled either
            assert client.get("/health").status_code == 200
            assert_rate_limited(client.get(f"{API}/garages", headers=bearer(WRONG_KEY)))

    def test_another_address_is_not_affected(self, server: LiveServer, throttled: float) -> None:
        with client_from(server, "127.0.0.2") as other:
            response = other.get(f"{API}/garages", headers=bearer(WRONG_KEY))
            assert response.status_code == 401 and response.json()["error"]["code"] == "UNAUTHENTICATED"


# --- across workers, and behind a proxy --------------------------------------------------------------


def access_pids(server: LiveServer, request_ids: set[str]) -> set[int]:
    """The worker processes whose access log lines name these requests."""
    pids = set()
    for line in server.log.read_text().splitlines():
        try:
            entry: dict[str, Any] = json.loads(line)
        except json.JSONDecodeError:
            continue  # not a log entry, or one still being written
        if entry.get("logger") == "uvicorn.access" and entry.get("request_id") in request_ids:
            pids.add(int(entry["pid"]))
    return pids


def test_the_limit_holds_across_two_workers(tmp_path: Path) -> None:
    """Failures spread over both workers (each request on a new connection, many at once) are
    counted together: exactly LIMIT of them are 401, however many are sent, whichever worker
    answers. Per-worker counts would let LIMIT through each."""
    server = start_server(tmp_path, workers=2, env={**ENV, "GARAGE_LOG_LEVEL": "info"})
    try:
        statuses: list[int] = []
        request_ids: set[str] = set()

        def fail_once(_: int) -> int:
            request_id = f"fail-{uuid.uuid4().hex}"
            request_ids.add(request_id)
            headers = {**bearer(WRONG_KEY), "X-Request-ID": request_id}
            return httpx.get(f"{server.url}{API}/garages", headers=headers, timeout=30).status_code

        deadline = time.monotonic() + 30
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            while True:
                statuses += pool.map(fail_once, range(2 * LIMIT))
                time.sleep(0.3)  # the access lines of the last requests reach the log
                if len(access_pids(server, request_ids)) == 2:
                    break
                assert time.monotonic() < deadline, "the requests never reached both workers"
        assert statuses.count(401) == LIMIT, statuses
        assert statuses.count(429) == len(statuses) - LIMIT
        assert httpx.get(f"{server.url}{API}/garages", headers=bearer(server.admin_key)).status_code == 200
    finally:
        server.stop()


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_client(tmp_path: Path) -> None:
    server = start_server(
        tmp_path, env={**ENV, "GARAGE_AUTH_FAILURES_PER_MINUTE": "2", "GARAGE_TRUSTED_PROXIES": "127.0.0.1"}
    )
    try:
        with client_from(server, "127.0.0.1") as proxy, client_from(server, "127.0.0.2") as untrusted:

            def status(client: httpx.Client, forwarded_for: str) -> int:
                headers = {**bearer(WRONG_KEY), "X-Forwarded-For": forwarded_for}
                return client.get(f"{API}/garages", headers=headers).status_code

            # two clients behind the proxy, each with its own count
            assert [status(proxy, "203.0.113.5") for _ in range(3)] == [401, 401, 429]
            assert status(proxy, "203.0.113.6") == 401
            # the nearest address not a trusted proxy counts: a client cannot pass itself off as another
            assert status(proxy, "203.0.113.99, 203.0.113.5") == 429
            # the header from a peer that is not a trusted proxy is ignored
            assert [status(untrusted, f"198.51.100.{n}") for n in range(3)] == [401, 401, 429]
    finally:
        server.stop()


def test_proxies_must_be_addresses_or_networks() -> None:
    settings = load_settings(GARAGE_ENV="test", GARAGE_TRUSTED_PROXIES=" 10.0.0.5, 10.1.0.0/16 ,::1")
    assert settings.trusted_proxies == ("10.0.0.5", "10.1.0.0/16", "::1")
    for wrong in ("proxy.example.com", "10.0.0.0/33", "*"):
        with pytest.raises(ValueError, match="GARAGE_TRUSTED_PROXIES"):
            load_settings(GARAGE_ENV="test", GARAGE_TRUSTED_PROXIES=wrong)


# --- the shared counter file ----------------------------------------------------------------------


def test_the_window_slides_and_refused_failures_count(tmp_path: Path) -> None:
    failures = FailedAuthentications(auth_failures_path(tmp_path / "garage.db"), limit=3)
    try:
        start = 1_000_000.0
        assert [failures.record("192.0.2.1", start + t).over for t in (0, 20, 40)] == [False] * 3
        refused = failures.record("192.0.2.1", start + 50)  # 3 within the last minute: the 4th is refused
        assert refused.over and refused.first_refusal
        assert refused.retry_after == pytest.approx(30)  # when the one at +20 leaves (+0 left at +60)
        assert failures.record("192.0.2.2", start + 50).over is False  # another address, its own window
        # the refused one counted: at +61 the window holds +20, +40, +50 - still 3
        again = failures.record("192.0.2.1", start + 61)
        assert again.over and not again.first_refusal
        # a pause: at +111 only +61 is within the last minute
        assert failures.record("192.0.2.1", start + 111).over is False
        # a window bunched around the end of one minute and the start of the next is one window
        for t in (230, 259, 260):
            assert failures.record("192.0.2.3", start + t).over is False
        assert failures.record("192.0.2.3", start + 261).over
        # failures dated after now (the clock was set back) are outside the window
        assert failures.record("192.0.2.3", start - 3600).over is False
    finally:
        failures.close()


RECORDER = """
import sys
from pathlib import Path
from garage.security.auth_failures import FailedAuthentications
failures = FailedAuthentications(Path(sys.argv[1]), limit=int(sys.argv[4]))
for n in range(int(sys.argv[2])):
    failures.record("192.0.2.10", float(sys.argv[3]) + n / 1000)
"""


def test_processes_counting_at_once_lose_no_failure(tmp_path: Path) -> None:
    path = auth_failures_path(tmp_path / "garage.db")
    now, processes, each = 1_000_000.0, 4, 100
    limit = processes * each
    FailedAuthentications(path, limit=limit).close()  # made once, so no process remakes another's counts
    recorders = [
        subprocess.Popen([sys.executable, "-c", RECORDER, str(path), str(each), str(now), str(limit)], cwd=REPO)
        for _ in range(processes)
    ]
    assert [recorder.wait(timeout=60) for recorder in recorders] == [0] * processes
    failures = FailedAuthentications(path, limit=limit)
    try:
        # exactly `limit` failures within the minute: one lost by a race would leave the next one unrefused
        assert failures.record("192.0.2.10", now + 1).over
    finally:
        failures.close()


def test_the_file_never_grows_whatever_the_addresses(tmp_path: Path) -> None:
    path = auth_failures_path(tmp_path / "garage.db")
    slots = 16
    failures = FailedAuthentications(path, limit=2, slots=slots)
    try:
        now = 1_000_000.0
        failures.record("192.0.2.1", now)
        size = path.stat().st_size
        assert size == HEADER.size + (slots + PROBE - 1) * (SLOT_HEAD.size + 2 * 8)
        for n in range(2000):  # far more addresses than slots, all within one minute
            failures.record(f"2001:db8::{n:x}", now + n / 1000)
        assert path.stat().st_size == size
        # an address seen just now still has its count: its third failure is refused
        last = f"2001:db8::{1999:x}"
        assert failures.record(last, now + 2).over is False
        assert failures.record(last, now + 2.1).over
    finally:
        failures.close()


def test_a_damaged_file_is_made_anew(tmp_path: Path) -> None:
    path = auth_failures_path(tmp_path / "garage.db")
    path.write_bytes(b"not a table of counts" * 100)
    failures = FailedAuthentications(path, limit=1, slots=64)
    try:
        assert failures.record("192.0.2.1", 1_000_000.0).over is False
        assert failures.record("192.0.2.1", 1_000_001.0).over
        assert path.stat().st_size == HEADER.size + (64 + PROBE - 1) * (SLOT_HEAD.size + 8)
    finally:
        failures.close()


# --- last: the end of the minute (the tests above ran inside it, so less of it is left to wait) -----


def test_the_refusal_ends_when_the_window_has_room_again(server: LiveServer, throttled: float) -> None:
    with client_from(server, "127.0.0.1") as client:
        retry_after = assert_rate_limited(client.get(f"{API}/garages"))
        time.sleep(retry_after + 0.5)
        # the oldest of the last LIMIT failures left the window (and with it those made in the same
        # instant): room again, for at least one and at most LIMIT failures before the next 429
        answered = [client.get(f"{API}/garages", headers=bearer(WRONG_KEY)) for _ in range(LIMIT + 1)]
        statuses = [response.status_code for response in answered]
        assert statuses[0] == 401 and 429 in statuses, statuses
        assert statuses == sorted(statuses)  # 401s, then 429s
        assert_rate_limited(answered[-1])
