"""One log stream for `garage serve`: the query engine's and Litestream's lines folded into the
service's own (source=engine, source=litestream), the engine restart counter on /metrics, and the
console format for development."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import httpx

from tests.api.conftest import start_server
from tests.api.test_request_logging import wait_for_entry
from tests.ops.crash_support import API, engine_pids


def test_engine_and_litestream_lines_join_the_service_log(tmp_path: Path) -> None:
    # every query is "slow" (threshold 0 ms): the engine logs a slow-query warning for each
    server = start_server(tmp_path, env={"GARAGE_LOG_LEVEL": "info", "GARAGE_REPLICATION": "true",
                                         "GARAGE_LOG_QUERIES": "true", "ENGINE_SLOW_QUERY_MS": "0"})
    try:
        litestream = wait_for_entry(server, lambda e: e["source"] == "litestream")
        assert litestream["logger"] == "garage.litestream" and litestream["message"], litestream
        assert "time" not in litestream and "level" in litestream  # logfmt's own time/level became the entry's

        answer = httpx.get(f"{server.url}{API}/garages", headers={"Authorization": f"Bearer {server.admin_key}",
                                                                   "X-Request-ID": "slow-1"})
        assert answer.status_code == 200, answer.text
        slow = wait_for_entry(server, lambda e: e["source"] == "engine" and e["message"] == "slow query"
                              and e.get("request_id") == "slow-1")
        assert slow["level"] == "WARNING" and slow["target"] == "query_engine::slow_query", slow
        assert slow["threshold_ms"] == 0 and slow["engine_pid"] in engine_pids(server.process.pid), slow
    finally:
        server.stop()


def test_a_replaced_engine_is_counted_and_logged(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    try:
        headers = {"Authorization": f"Bearer {server.admin_key}"}
        (engine,) = engine_pids(server.process.pid)
        os.kill(engine, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while engine_pids(server.process.pid) in ([], [engine]):
            assert time.monotonic() < deadline
            httpx.get(f"{server.url}{API}/garages", headers=headers, timeout=30)
        metrics = httpx.get(f"{server.url}/metrics").text
        assert re.search(r"^garage_engine_restarts_total 1\.0$", metrics, re.M), metrics
        replaced = wait_for_entry(server, lambda e: "starting a new one" in e["message"])
        assert replaced["source"] == "service" and replaced["logger"] == "garage.db" and replaced["level"] == "ERROR"
    finally:
        server.stop()


def test_console_format_for_development(tmp_path: Path) -> None:
    server = start_server(tmp_path, env={"GARAGE_LOG_FORMAT": "console", "GARAGE_LOG_LEVEL": "info"})
    try:
        httpx.get(f"{server.url}/health", headers={"X-Request-ID": "console-1"})
        deadline = time.monotonic() + 10
        while "request_id=console-1" not in server.log.read_text():
            assert time.monotonic() < deadline, server.log.read_text()
            time.sleep(0.1)
        lines = server.log.read_text().splitlines()
        access = next(line for line in lines if "request_id=console-1" in line)
        assert re.fullmatch(r"\S+ \S+ INFO +uvicorn uvicorn\.access: .*\"GET /health HTTP/1\.1\" 200 request_id=console-1",
                            access), access
        assert not any(line.startswith("{") for line in lines), lines
    finally:
        server.stop()
