"""Query log and slow-query log: JSON lines on the engine's stderr (RUST_LOG_FORMAT=json)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import pytest

from conftest import FIND_MANY_USERS, EngineProcess, create_user_query


def wait_for_lines(engine: EngineProcess, predicate: Callable[[dict[str, Any]], bool], count: int = 1) -> list[dict[str, Any]]:
    """stderr is written asynchronously: poll (bounded) until `count` matching lines are there."""
    deadline = time.monotonic() + 20
    while True:
        lines = [line for line in engine.log_lines() if predicate(line)]
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def is_query_line(line: dict[str, Any]) -> bool:
    return isinstance(line.get("fields"), dict) and "query" in line["fields"] and line["fields"].get("is_query") is True


def is_slow_line(line: dict[str, Any]) -> bool:
    return isinstance(line.get("fields"), dict) and line["fields"].get("message") == "slow query"


def test_query_log(spawn_engine: Callable[..., EngineProcess], new_database: Callable[..., Path]) -> None:
    engine = spawn_engine(database=new_database(), env={"LOG_QUERIES": "1", "RUST_LOG": "info", "ENGINE_SLOW_QUERY_MS": "-1"})
    assert engine.graphql(create_user_query("logged@example.com")).status_code == 200
    assert engine.graphql(FIND_MANY_USERS).json()["data"]["result"][0]["email"] == "logged@example.com"

    queries = wait_for_lines(engine, lambda l: is_query_line(l) and "SELECT" in l["fields"]["query"] and "`User`" in l["fields"]["query"])
    assert queries, engine.stderr()[-3000:]
    inserts = [l for l in engine.log_lines() if is_query_line(l) and l["fields"]["query"].startswith("INSERT")]
    assert inserts, engine.stderr()[-3000:]
    line = inserts[0]
    assert line["level"] == "INFO"
    assert line["timestamp"]
    assert "`User`" in line["fields"]["query"]
    # parameters are logged separately from the SQL, and the SQL has placeholders, not values
    assert "logged@example.com" in line["fields"]["params"]
    assert "logged@example.com" not in line["fields"]["query"]
    assert isinstance(line["fields"]["duration_ms"], (int, float))
    # RUST_LOG=info also logs the server start; ENGINE_SLOW_QUERY_MS=-1: no slow-query lines
    assert any("Started query engine http server" in str(l.get("fields", {}).get("message")) for l in engine.log_lines())
    assert not [l for l in engine.log_lines() if is_slow_line(l)]


def test_no_query_log_by_default(spawn_engine: Callable[..., EngineProcess], new_database: Callable[..., Path]) -> None:
    engine = spawn_engine(database=new_database(), env={"ENGINE_SLOW_QUERY_MS": "-1"})
    engine.graphql(create_user_query("quiet@example.com"))
    engine.graphql(FIND_MANY_USERS)
    engine.graphql("query {\n  result: findManyNothing {\n    id\n  }\n}")  # an error is not logged at RUST_LOG=error
    assert engine.post("/transaction/nope/commit").status_code == 404
    time.sleep(0.2)
    assert engine.stderr() == ""


def test_slow_query_log(spawn_engine: Callable[..., EngineProcess], new_database: Callable[..., Path]) -> None:
    """ENGINE_SLOW_QUERY_MS=0: every statement is at or above the threshold, so every one is logged."""
    engine = spawn_engine(database=new_database(), env={"ENGINE_SLOW_QUERY_MS": "0"})
    engine.graphql(create_user_query("slow@example.com"))
    engine.graphql(FIND_MANY_USERS)
    slow = wait_for_lines(engine, lambda l: is_slow_line(l) and "SELECT" in l["fields"]["query"])
    assert slow, engine.stderr()[-3000:]
    line = slow[0]
    assert line["level"] == "WARN"
    assert line["fields"]["threshold_ms"] == 0
    assert line["fields"]["duration_ms"] >= 0
    assert line["fields"]["connection"] in ("reader", "writer")
    # a read outside a transaction ran on the reader connection, the insert on the writer
    slow_lines = [l for l in engine.log_lines() if is_slow_line(l)]
    assert any(l["fields"]["connection"] == "reader" and l["fields"]["query"].startswith("SELECT") for l in slow_lines)
    assert any(l["fields"]["connection"] == "writer" and l["fields"]["query"].startswith("INSERT") for l in slow_lines)
    # only slow-query lines: no query log without LOG_QUERIES
    assert not [l for l in engine.log_lines() if is_query_line(l)]
    # and they are counted in the metrics
    metrics = engine.http.get("/metrics?format=json").json()
    slow_total = {c["key"]: c["value"] for c in metrics["counters"]}["query_engine_slow_queries_total"]
    assert slow_total >= len(slow_lines) > 0


def test_invalid_settings_refuse_to_start(tmp_path: Path, new_database: Callable[..., Path]) -> None:
    for env in ({"ENGINE_SLOW_QUERY_MS": "fast"}, {"ENGINE_SQLITE_SYNCHRONOUS": "SOMETIMES"}, {"ENGINE_BUSY_TIMEOUT_MS": "-5"}):
        with pytest.raises(RuntimeError, match="exited"):
            EngineProcess(workdir=tmp_path, database=new_database(f"{list(env)[0]}.db"), env=env)
