"""Smoke test of the bulk and scaling benchmarks: bench/bulk_bench.py --quick (bulk spot create by
repository, service and HTTP, legacy import, archive, each with its sqlite3 baseline) and
bench/scaling_bench.py --quick (two small session files built through the repositories, every hot
operation timed, the engine's query log captured and EXPLAINed), each run as a subprocess with its
own cache directory. Asserts that every expected row is there and that the figures are positive
and finite; never timing thresholds."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SCALING_OPERATIONS = {
    "find available spot (CAR)", "vehicle by plate", "active session for vehicle", "session by id", "ticket by code",
    "sessions: first page", "sessions: deep page (cursor)", "sessions: deep page (id cursor)",
    "sessions: garage + ACTIVE", "sessions: garage + COMPLETED", "sessions: by plate", "payments: first page",
    "payments: garage first page", "payments: deep page (cursor)", "occupancy counts (garage)",
    "active sessions count (all)", "report: 24 h, hourly", "report: 30 days, daily", "report: 30 days, from rows",
    "check-in (service)", "check-out (service)",
}


def run_bench(script: str, tmp_path: Path) -> tuple[str, Any]:
    out = tmp_path / f"{Path(script).stem}.json"
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / script), "--quick", "--json", str(out), "--cache-dir", str(tmp_path / "cache")],
        cwd=REPO, capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, f"{script} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout, json.loads(out.read_text())


def positive(value: float) -> bool:
    return math.isfinite(value) and value > 0


def test_bulk_quick(tmp_path: Path) -> None:
    stdout, rows = run_bench("bulk_bench.py", tmp_path)
    paths = {(row["operation"], row["path"]) for row in rows}
    for expected in (("spots create", "repository create_many"), ("spots create", "service (POST body)"),
                     ("spots create", "http POST, 1 worker"), ("spots create", "sqlite3 spots"),
                     ("spots create", "sqlite3 spots+audit"), ("legacy import", "garage import-memory-store"),
                     ("legacy import", "same file again (skipped)"), ("archive", "garage archive (batches of 500)"),
                     ("archive", "sqlite3 move")):
        assert expected in paths, expected
    assert any(operation == "legacy import" and path.startswith("sqlite3 ") for operation, path in paths)
    by_key = {(row["operation"], row["size"], row["path"]): row for row in rows}
    for row in rows:
        assert len(row["samples"]) == 1 and row["rows"] > 0, row
        assert all(positive(row[figure]) for figure in ("median", "p95", "p99")), row
        if row["baseline"] is not None:
            assert (row["operation"], row["size"], row["baseline"]) in by_key, row
            assert positive(row["x_baseline"]), row
        assert row["target_s"] is None and row["verdict"] == "-", row  # --quick: targets apply to full sizes only
        # one printed line per row: operation, path, size
        assert any(row["path"] in line and line.startswith(row["operation"]) and f"{row['size']:,}" in line
                   for line in stdout.splitlines()), row


def test_scaling_quick(tmp_path: Path) -> None:
    stdout, summary = run_bench("scaling_bench.py", tmp_path)
    sizes = [str(size) for size in summary["sizes"]]
    assert len(sizes) == 2
    for size in sizes:
        assert set(summary["results"][size]) == SCALING_OPERATIONS
        assert positive(summary["build_seconds"][size])
        for name, figures in summary["results"][size].items():
            assert all(positive(figures[key]) for key in ("median_ms", "p95_ms", "p99_ms", "ratio")), (size, name)
            assert figures["median_ms"] <= figures["p95_ms"] <= figures["p99_ms"], (size, name)
    for name in SCALING_OPERATIONS:
        assert summary["results"][sizes[0]][name]["ratio"] == 1.0
        assert any(line.startswith(name) for line in stdout.splitlines()), name
    # the query log was captured and explained: every operation ran SQL, reads have a plan
    assert set(summary["plans"]) == SCALING_OPERATIONS
    for name, statements in summary["plans"].items():
        assert statements, name
        assert all(plan["plan"] and not plan["plan"][0].startswith("(could not explain")
                   for plan in statements if plan["sql"].lstrip().upper().startswith("SELECT")), name
    assert summary["table_rows"]["Session"] >= int(sizes[-1])
    assert "EXPLAIN QUERY PLAN" in stdout
