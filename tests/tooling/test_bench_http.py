"""Smoke test of the HTTP load and start-up benchmarks: bench/http_load.py --quick (a real
`garage serve` with 1 worker, 1 and 8 clients, every scenario, the load generator
bench/load_client.py in its own process) and bench/startup_bench.py --quick, each run as a
subprocess. Asserts that every expected row is there, that no request failed and that the figures
are positive and finite; never timing thresholds."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
READ_TYPES = {"session", "ticket", "garage", "vehicle", "vehicle-by-plate", "occupancy", "sessions-list"}


def run_bench(script: str, tmp_path: Path, *args: str) -> tuple[str, dict[str, Any]]:
    out = tmp_path / f"{Path(script).stem}.json"
    result = subprocess.run([sys.executable, str(REPO / "bench" / script), "--quick", "--json", str(out), *args],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{script} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout, json.loads(out.read_text())


def positive(value: float) -> bool:
    return math.isfinite(value) and value > 0


def test_http_load_quick(tmp_path: Path) -> None:
    stdout, report = run_bench("http_load.py", tmp_path)
    rows = report["rows"]
    expected = {("health", "health"), ("checkin_checkout", "check-in"), ("checkin_checkout", "check-out"),
                ("checkin_checkout", "cycle (in+out)"), ("checkin_only", "check-in")} | \
        {("reads", kind) for kind in READ_TYPES}
    for clients in (1, 8):
        present = {(r["scenario"], r["type"]) for r in rows if r["workers"] == 1 and r["clients"] == clients}
        assert present == expected, f"{clients} clients: {sorted(present ^ expected)}"
    for r in rows:
        assert r["errors"] == 0 and r["error_samples"] == [], r
        assert r["requests"] == r["ok"] > 0, r
        for figure in ("per_s", "p50_ms", "p95_ms", "p99_ms", "x_health_p50"):
            assert positive(r[figure]), (figure, r)
        assert r["p50_ms"] <= r["p95_ms"] <= r["p99_ms"], r
    for run in report["runs"]:
        assert positive(run["window_s"]) and run["client_cpu_s"] >= 0 and run["server_cpu_s"] >= 0, run
    assert [t["verdict"] for t in report["targets"]][0] in ("met", "MISSED")  # 1 client was measured
    # the printed tables: one line per row, the runs table and the targets
    for r in rows:
        assert any(line.split()[:4] == ["1", r["scenario"], str(r["clients"]), r["type"].split()[0]]
                   for line in stdout.splitlines()), r
    assert "per run (CPU" in stdout and "targets" in stdout and "ERRORS" not in stdout


def test_startup_quick(tmp_path: Path) -> None:
    stdout, report = run_bench("startup_bench.py", tmp_path)
    names = {r["row"] for r in report["rows"]}
    for expected in ("prisma migrate deploy", "engine connect", "total: migrate deploy + engine + query",
                     "bare uvicorn /ready, w=1 (baseline)", "garage serve /ready 200, w=1",
                     "garage serve all workers started, w=2", "garage serve stop (SIGTERM), w=2"):
        assert expected in names, expected
        assert expected in stdout
    for r in report["rows"]:
        assert r["runs"] == 1 and all(positive(r[k]) for k in ("median_s", "p95_s", "p99_s")), r
        if r["baseline"]:
            assert positive(r["x_baseline"]), r
        if r["target_s"] is not None:
            assert r["verdict"] in ("met", "MISSED"), r
    assert report["server_log"] == []
