"""Request ids, the service's JSON log lines and the database metrics on /metrics, on a live server
(GARAGE_ENV=test: log lines are JSON)."""

from __future__ import annotations

import concurrent.futures
import json
import re
import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.api.conftest import LiveServer

API = "/api/v1"
REQUEST_ID = re.compile(r"[0-9a-f]{32}")


def log_entries(server: LiveServer) -> list[dict[str, Any]]:
    """Every line of the server's log, each of which must be one JSON object."""
    entries = []
    for line in server.log.read_text().splitlines():
        if line.strip():
            entry = json.loads(line)  # a line that is not JSON fails the test here
            assert isinstance(entry, dict), line
            entries.append(entry)
    return entries


def wait_for_entry(server: LiveServer, wanted: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The first log entry `wanted` accepts (log lines of other processes arrive asynchronously)."""
    deadline = time.monotonic() + 10
    while True:
        found = [entry for entry in log_entries(server) if wanted(entry)]
        if found:
            return found[0]
        assert time.monotonic() < deadline, server.log.read_text()[-4000:]
        time.sleep(0.1)


def test_a_given_request_id_is_echoed(live: LiveServer) -> None:
    answer = httpx.get(f"{live.url}/health", headers={"X-Request-ID": "client-id_1.2:3"})
    assert answer.headers["x-request-id"] == "client-id_1.2:3"


def test_a_request_without_an_id_gets_a_new_one_each_time(live: LiveServer) -> None:
    first = httpx.get(f"{live.url}/health").headers["x-request-id"]
    second = httpx.get(f"{live.url}/health").headers["x-request-id"]
    assert REQUEST_ID.fullmatch(first) and REQUEST_ID.fullmatch(second) and first != second


def test_a_hostile_request_id_is_replaced(live: LiveServer) -> None:
    for hostile in ('a"b\\c', "x" * 129, "id with spaces", "{\"level\":\"ERROR\"}", "é"):
        answer = httpx.get(f"{live.url}/health", headers={b"X-Request-ID": hostile.encode("utf-8")})
        assert answer.status_code == 200
        assert REQUEST_ID.fullmatch(answer.headers["x-request-id"]), (hostile, answer.headers["x-request-id"])


def test_errors_carry_the_request_id_too(live: LiveServer) -> None:
    answer = httpx.get(f"{live.url}{API}/garages", headers={"X-Request-ID": "unauthenticated-1"})
    assert answer.status_code == 401
    assert answer.headers["x-request-id"] == "unauthenticated-1"


def test_log_lines_are_json_and_carry_the_request_id(make_server: Callable[..., LiveServer]) -> None:
    server = make_server(env={"GARAGE_LOG_LEVEL": "info", "GARAGE_LOG_QUERIES": "true"})
    answer = httpx.get(f"{server.url}{API}/garages", headers={"X-Request-ID": "req-logged-1",
                                                               "Authorization": f"Bearer {server.admin_key}"})
    assert answer.status_code == 200, answer.text

    access = wait_for_entry(server, lambda e: e.get("request_id") == "req-logged-1" and e["source"] == "uvicorn")
    assert access["logger"] == "uvicorn.access" and access["level"] == "INFO"
    assert f"GET {API}/garages" in access["message"] and "200" in access["message"]
    for field in ("timestamp", "pid"):
        assert field in access, access

    # the engine's query log lines of that request: folded into the service's log, with its id
    query = wait_for_entry(server, lambda e: e.get("request_id") == "req-logged-1" and e["source"] == "engine"
                           and "FROM `main`.`Garage`" in e["message"])
    assert query["logger"] == "garage.engine" and query["target"] == "quaint::connector::metrics", query
    assert query["message"] == query["query"] and "duration_ms" in query, query

    # the service's own lines (e.g. uvicorn's start-up) are JSON with a source too
    started = wait_for_entry(server, lambda e: "Application startup complete" in e["message"])
    assert started["source"] == "uvicorn" and "request_id" not in started


def test_concurrent_requests_keep_their_own_ids_in_the_engine_log(make_server: Callable[..., LiveServer]) -> None:
    """The engine serves requests concurrently: each query line carries the id of ITS request."""
    server = make_server(env={"GARAGE_LOG_LEVEL": "warning", "GARAGE_LOG_QUERIES": "true"})
    headers = {"Authorization": f"Bearer {server.admin_key}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
        created = client.post(f"{API}/garages", json={"name": "Ids", "address": "1 Log Street", "capacity": 10},
                              headers={"X-Request-ID": "create-garage"})
        assert created.status_code == 201, created.text
    garage_id = created.json()["id"]

    def fetch(n: int) -> str:
        answer = httpx.get(f"{server.url}{API}/garages/{garage_id}", headers={**headers, "X-Request-ID": f"par-{n}"})
        assert answer.status_code == 200, answer.text
        return str(answer.headers["x-request-id"])

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert sorted(pool.map(fetch, range(16))) == sorted(f"par-{n}" for n in range(16))
    for n in range(16):

        def engine_entry_of(e: dict[str, Any], n: int = n) -> bool:
            return e.get("request_id") == f"par-{n}" and e["source"] == "engine"

        line = wait_for_entry(server, engine_entry_of)
        assert garage_id in line["params"], line
    # the creation's transaction (its start, statements and commit are separate engine requests)
    creation = [e for e in log_entries(server) if e["source"] == "engine" and e.get("request_id") == "create-garage"]
    statements = [e["message"].split(" ")[0] for e in creation]
    assert "BEGIN" in statements and "COMMIT" in statements, statements
    assert statements.index("BEGIN") < statements.index("INSERT") < statements.index("COMMIT"), statements
    assert any("`main`.`Garage`" in e["message"] for e in creation if e["message"].startswith("INSERT")), creation
    assert not any(e.get("request_id", "").startswith("par-") for e in creation)


def test_metrics_show_database_call_latencies_and_retry_and_restart_counters(live: LiveServer) -> None:
    listed = httpx.get(f"{live.url}{API}/garages", headers={"Authorization": f"Bearer {live.admin_key}"})
    assert listed.status_code == 200
    text = httpx.get(f"{live.url}/metrics").text
    reads = re.search(r'^garage_db_call_duration_seconds_count\{operation="read",outcome="ok"\} (\S+)$', text, re.M)
    assert reads is not None and float(reads.group(1)) >= 1, text
    assert re.search(r'^garage_db_call_duration_seconds_bucket\{le="0.005",operation="read",outcome="ok"\} ', text,
                     re.M), text
    assert "# TYPE garage_db_retries_total counter" in text
    assert re.search(r"^garage_engine_restarts_total \d", text, re.M), text
