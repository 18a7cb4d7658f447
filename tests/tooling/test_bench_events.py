"""Smoke test of the event benchmark: bench/events_bench.py --quick as a subprocess (a real `garage
serve` with 2 workers, streams, a webhook to a receiver in the bench's process and check-ins over HTTP,
then ParkingService.check_in in the bench's own process with and without the event flush). Asserts that
every part ran and printed its table, that no event went missing, that the skipped variant really wrote
no events, and that the figures are finite and ordered; never timing thresholds."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PHASES = [
    "no streams, idle",
    "no streams, 20 check-ins/s",
    "1 stream, idle",
    "100 streams, idle",
    "100 streams, 20 check-ins/s",
    "streams closed, idle",
]
SUBSCRIBERS = ["1 stream", "8 streams", "baseline: GET /events every 0.2 s", "webhook: POST to a local receiver"]


def run_quick(tmp_path: Path) -> tuple[str, dict[str, Any]]:
    out = tmp_path / "events.json"
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "events_bench.py"), "--quick", "--json", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"events_bench.py failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout, json.loads(out.read_text())


def finite(value: float) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def test_events_bench_quick(tmp_path: Path) -> None:
    stdout, report = run_quick(tmp_path)

    latency = report["latency"]
    assert [r["subscriber"] for r in latency] == SUBSCRIBERS
    for row in latency:
        assert row["check_ins"] > 0 and row["missing"] == 0, row
        assert row["samples"] == max(1, row["streams"]) * row["check_ins"], row
        assert all(finite(row[k]) for k in ("p50_ms", "p95_ms", "max_ms", "x_poll_p50")), row
        assert row["p50_ms"] <= row["p95_ms"] <= row["max_ms"], row
        assert row["check_in_p50_ms"] > 0, row
    assert latency[2]["x_poll_p50"] == 1.0
    # the receiver counts only deliveries whose signature it verified, so every check-in was delivered signed
    assert latency[3]["streams"] == 0 and report["webhook_poll_s"] > 0

    phases = report["resources"]
    assert [p["name"] for p in phases] == PHASES
    for phase in phases:
        loaded = "check-ins/s" in phase["name"]
        assert (phase["check_ins"] > 0) == loaded, phase
        assert phase["processes"] >= 5, phase  # uvicorn's supervisor, 2 workers, their 2 engines
        assert phase["python_mib"] > 0 and phase["engine_mib"] > 0 and phase["window_s"] > 0, phase
        assert phase["python_cpu_pct"] >= 0 and phase["engine_cpu_pct"] >= 0, phase
        if phase["streams"] and loaded:
            assert phase["events_per_stream"] >= phase["check_ins"], phase  # every session.started, at least
    assert phases[4]["streams"] == 100 and phases[2]["streams"] == 1
    assert all(finite(value) for value in report["budget"].values()), report["budget"]

    overhead = report["overhead"]
    assert [(r["garage_spots"], r["variant"]) for r in overhead] == [
        (200, "events written (the product)"),
        (200, "event flush skipped"),
    ]
    written, skipped = overhead
    assert written["events_written"] == 3 * written["check_ins"] and skipped["events_written"] == 0
    for row in overhead:
        assert row["check_ins"] == 20 and 0 < row["p50_ms"] <= row["p95_ms"] <= row["p99_ms"], row
    assert skipped["x_skipped_p50"] == 1.0 and finite(written["x_skipped_p50"]) and written["x_skipped_p50"] > 0

    for heading in (
        "1. commit -> SSE client and webhook receiver latency",
        "2. resources of 100 open streams",
        "budget: 100 streams",
        "3. the event log's cost to a check-in",
    ):
        assert heading in stdout, heading
    lines = stdout.splitlines()
    for name in SUBSCRIBERS + PHASES:
        assert any(line.startswith(name) for line in lines), name
    assert "MISSING" not in stdout
    assert not [line for line in report["server_log"] if '"level": "ERROR"' in line]
