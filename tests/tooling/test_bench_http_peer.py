"""Smoke test of the HTTP-level peer benchmark: bench/http_peer_bench.py --quick (a real `garage serve`
and the Starlette + SQLAlchemy + aiosqlite peer of bench/http_peer_app.py on a copy of its file, 1 worker,
1 and 8 clients, the load generator bench/load_client.py in its own process), run as a subprocess.
Asserts that both sides answered every request with a 2xx, that every expected row and comparison is
there with positive, finite figures, and that the table is printed; never timing thresholds (the
verdicts may be met or MISSED)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TYPES = {("session", "session"), ("checkin_checkout", "check-in"), ("checkin_checkout", "check-out"),
         ("checkin_checkout", "cycle (in+out)")}


def positive(value: float) -> bool:
    return math.isfinite(value) and value > 0


def test_http_peer_quick(tmp_path: Path) -> None:
    out = tmp_path / "http_peer.json"
    result = subprocess.run([sys.executable, str(REPO / "bench" / "http_peer_bench.py"), "--quick", "--json", str(out)],
                            cwd=REPO, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, f"http_peer_bench.py failed:\n{result.stdout}\n{result.stderr}"
    report = json.loads(out.read_text())
    rows = report["rows"]
    for side in ("garage", "peer"):
        for clients in (1, 8):
            present = {(r["scenario"], r["type"]) for r in rows
                       if r["side"] == side and r["workers"] == 1 and r["clients"] == clients}
            assert present == TYPES, (side, clients, sorted(present ^ TYPES))
    for r in rows:  # both sides answered 2xx only
        assert r["errors"] == 0 and r["error_samples"] == [], r
        assert r["requests"] == r["ok"] > 0, r
        for figure in ("per_s", "p50_ms", "p95_ms", "p99_ms"):
            assert positive(r[figure]), (figure, r)
    for run in report["runs"]:
        assert positive(run["window_s"]) and run["server_cpu_s"] >= 0 and run["idle_side_cpu_s"] >= 0, run

    table = report["comparison"]
    assert {(c["endpoint"], c["clients"], c["workers"]) for c in table} == {
        (endpoint, clients, 1) for endpoint in ("GET session", "check-in", "check-out") for clients in (1, 8)
    }
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("endpoint") and "garage within 1.5x" in line)
    for c in table:
        for figure in ("garage_per_s", "garage_p95_ms", "peer_per_s", "peer_p95_ms", "throughput_x", "p95_x"):
            assert positive(c[figure]), (figure, c)
        assert c["verdict"] == ("met" if c["throughput_x"] <= 1.5 and c["p95_x"] <= 1.5 else "MISSED"), c
        words = c["endpoint"].split() + [str(c["clients"]), str(c["workers"])]
        assert any(line.split()[: len(words)] == words and line.endswith(c["verdict"])
                   for line in lines[header + 1:]), c
    assert "ERRORS" not in result.stdout
    # nothing logged at warning level but Garage's note that it made the test file's development secrets
    logs = report["server_logs"]
    assert logs["peer workers=1"] == [], logs
    assert all("development secrets" in line for line in logs["garage workers=1"]), logs
