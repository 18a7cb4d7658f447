"""Smoke test of bench/data_layer_bench.py --quick, run as a subprocess: the real engine and
services, SQLAlchemy + aiosqlite and sqlite3 on copies of one populated file. Asserts that every
operation has a row per implementation, a verdict line, and positive, finite figures (in the
printed table and in --json); never timing thresholds."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "bench" / "data_layer_bench.py"
OPERATIONS = ("find_available", "vehicle_by_plate", "session_page", "check_in", "check_out", "create_spots_5000")
IMPLEMENTATIONS = ("garage", "sqlalchemy", "sqlite3")
FIGURES = ("median_ms", "p95_ms", "p99_ms", "x_sqlalchemy", "x_sqlite3")


def positive(value: float) -> bool:
    return math.isfinite(value) and value > 0


def run_quick(tmp_path: Path) -> tuple[str, dict[str, Any]]:
    out = tmp_path / "data-layer.json"
    result = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--json", str(out)], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"data_layer_bench.py failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout, json.loads(out.read_text())


def table_rows(stdout: str) -> dict[tuple[str, str], list[float]]:
    """(operation, implementation) -> the five figures of its printed row (the operation is
    printed on its first row only)."""
    rows: dict[tuple[str, str], list[float]] = {}
    operation = ""
    for line in stdout.splitlines():
        words = line.split()
        if len(words) == 7 and words[0] in OPERATIONS:
            operation, words = words[0], words[1:]
        if len(words) == 6 and words[0] in IMPLEMENTATIONS:
            rows[(operation, words[0])] = [float(word) for word in words[1:]]
    return rows


def test_data_layer_bench_quick(tmp_path: Path) -> None:
    stdout, report = run_quick(tmp_path)

    printed = table_rows(stdout)
    assert set(printed) == {(op, impl) for op in OPERATIONS for impl in IMPLEMENTATIONS}, sorted(printed)
    for key, figures in printed.items():
        assert all(positive(figure) for figure in figures), (key, figures)
    for operation in OPERATIONS:
        assert any(line.startswith(f"verdict {operation}: garage ") and "3x target" in line
                   for line in stdout.splitlines()), operation
        assert printed[(operation, "sqlalchemy")][3] == 1.0 and printed[(operation, "sqlite3")][4] == 1.0

    results = report["results"]
    assert {(r["operation"], r["implementation"]) for r in results} == set(printed)
    for r in results:
        assert r["samples"] > 0, r
        assert all(positive(r[figure]) for figure in FIGURES), r
        assert r["median_ms"] <= r["p99_ms"] and r["p95_ms"] <= r["p99_ms"], r
    assert [v["operation"] for v in report["verdicts"]] == list(OPERATIONS)
    assert all(isinstance(v["within_target"], bool) and positive(v["x_sqlalchemy"]) for v in report["verdicts"])
