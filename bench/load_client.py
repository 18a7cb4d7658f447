"""HTTP load generator for bench/http_load.py: one scenario, N concurrent clients, in its own process.

    .venv/bin/python bench/load_client.py < spec.json      (normally launched by bench/http_load.py)
    .venv/bin/python bench/load_client.py --spec spec.json

It has no --quick of its own: the spec sets duration and clients (bench/http_load.py --quick runs
it with 1 s runs; tests/tooling/test_bench_http.py is its smoke test).

It runs apart from the server so that the client's work is not counted as the server's (and
vice versa): bench/http_load.py starts it with subprocess, writes a JSON spec to its stdin and
reads what it prints. The machine's cores are shared, so it reports its own CPU use
(resource.getrusage) over the measured window.

Spec (JSON object on stdin):
  base_url, scenario (health | reads | checkin_checkout | checkin_only), clients, duration_s,
  warmup_s, operator_key, viewer_key, garage_id, plate_prefix (3 characters, unique per run),
  max_checkins (checkin_only: stop once this many check-ins were sent: the garage's spot pool),
  reads: {garage_id, session_ids, ticket_codes, vehicle_ids, plates} (reads scenario).

Each client is a coroutine looping over its scenario's requests on one aiohttp session
(keep-alive, at most `clients` connections) until warm-up + duration is over. Requests that start
during the warm-up are not recorded. Latency = request sent until the whole body is read.
Output, one line each on stdout: `measuring` (warm-up over), `finished` (last measured request
done), then the result as one JSON object:
  {"scenario", "clients", "window_s", "client_cpu_s", "exhausted", "cycles",
   "types": {request type: {"requests", "ok", "errors", "p50_ms", "p95_ms", "p99_ms", "max_ms",
   "mean_ms", "error_samples": [...]}}}
Any non-2xx answer (or a connection error) is an error; latency percentiles cover the 2xx answers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

API = "/api/v1"
READ_TYPES = ("session", "ticket", "garage", "vehicle", "vehicle-by-plate", "occupancy", "sessions-list")
MAX_ERROR_SAMPLES = 5
PLATE_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (q in 0..1)."""
    if not ordered:
        return math.nan
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))]


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class TypeStats:
    latencies_ms: list[float] = field(default_factory=list)
    requests: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies_ms)
        return {
            "requests": self.requests,
            "ok": len(ordered),
            "errors": self.errors,
            "p50_ms": percentile(ordered, 0.50),
            "p95_ms": percentile(ordered, 0.95),
            "p99_ms": percentile(ordered, 0.99),
            "max_ms": ordered[-1] if ordered else math.nan,
            "mean_ms": sum(ordered) / len(ordered) if ordered else math.nan,
            "error_samples": self.error_samples,
        }


class Load:
    """The shared state of one run: the clock, what was recorded, the check-in budget."""

    def __init__(self, spec: dict[str, Any], http: aiohttp.ClientSession) -> None:
        self.spec = spec
        self.http = http
        self.started = time.perf_counter()
        self.measure_from = self.started + float(spec["warmup_s"])
        self.stop_at = self.measure_from + float(spec["duration_s"])
        self.stats: dict[str, TypeStats] = {}
        self.cycles = 0
        self.checkins_sent = 0
        self.max_checkins = int(spec.get("max_checkins") or 0)
        self.exhausted = False
        self.plates_made = 0
        self.operator = {"Authorization": f"Bearer {spec.get('operator_key', '')}"}
        self.viewer = {"Authorization": f"Bearer {spec.get('viewer_key', '')}"}

    def running(self) -> bool:
        return not self.exhausted and time.perf_counter() < self.stop_at

    def new_plate(self) -> str:
        """Fresh plates: the run's 3-character prefix, then a base-36 counter (10 characters)."""
        number = self.plates_made
        self.plates_made += 1
        digits = ""
        for _ in range(7):
            number, rest = divmod(number, 36)
            digits = PLATE_DIGITS[rest] + digits
        return str(self.spec["plate_prefix"]) + digits

    async def call(
        self, kind: str, method: str, path: str, headers: dict[str, str], body: dict[str, Any] | None = None
    ) -> tuple[bool, bool, Any]:
        """One request; returns (ok, measured, parsed JSON body or None)."""
        began = time.perf_counter()
        measured = began >= self.measure_from
        try:
            async with self.http.request(method, path, json=body, headers=headers) as response:
                payload = await response.read()
                status = response.status
        except (TimeoutError, aiohttp.ClientError) as error:
            elapsed_ms = (time.perf_counter() - began) * 1000
            self._record(kind, measured, False, elapsed_ms, f"{type(error).__name__}: {error}")
            return False, measured, None
        elapsed_ms = (time.perf_counter() - began) * 1000
        ok = 200 <= status < 300
        self._record(kind, measured, ok, elapsed_ms, "" if ok else f"{status} {payload[:300].decode(errors='replace')}")
        return ok, measured, json.loads(payload) if ok and method == "POST" else None

    def _record(self, kind: str, measured: bool, ok: bool, elapsed_ms: float, error: str) -> None:
        if not measured:
            return
        stats = self.stats.setdefault(kind, TypeStats())
        stats.requests += 1
        if ok:
            stats.latencies_ms.append(elapsed_ms)
        else:
            stats.errors += 1
            if len(stats.error_samples) < MAX_ERROR_SAMPLES:
                stats.error_samples.append(error)

    # --- scenarios: one client each -------------------------------------------------------------

    async def health(self, index: int) -> None:
        while self.running():
            await self.call("health", "GET", "/health", {})

    async def reads(self, index: int) -> None:
        data = self.spec["reads"]
        pick = random.Random(index).choice
        paths = {
            "session": lambda: f"{API}/sessions/{pick(data['session_ids'])}",
            "ticket": lambda: f"{API}/tickets/{pick(data['ticket_codes'])}",
            "garage": lambda: f"{API}/garages/{data['garage_id']}",
            "vehicle": lambda: f"{API}/vehicles/{pick(data['vehicle_ids'])}",
            "vehicle-by-plate": lambda: f"{API}/vehicles?plate={pick(data['plates'])}",
            "occupancy": lambda: f"{API}/garages/{data['garage_id']}/occupancy",
            "sessions-list": lambda: f"{API}/sessions?limit=50",
        }
        turn = index  # clients start at different request types, then take them in turn
        while self.running():
            kind = READ_TYPES[turn % len(READ_TYPES)]
            turn += 1
            await self.call(kind, "GET", paths[kind](), self.viewer)

    async def checkin_checkout(self, index: int) -> None:
        garage = self.spec["garage_id"]
        while self.running():
            began = time.perf_counter()
            ok, measured, body = await self.call(
                "check-in",
                "POST",
                f"{API}/garages/{garage}/check-in",
                self.operator,
                {"licensePlate": self.new_plate(), "vehicleType": "CAR"},
            )
            if not ok:
                continue
            session_id = body["session"]["id"]
            ok, _, _ = await self.call(
                "check-out", "POST", f"{API}/sessions/{session_id}/check-out", self.operator, {"paymentMethod": "CARD"}
            )
            if ok and measured:
                self.cycles += 1
                self._record("cycle (in+out)", True, True, (time.perf_counter() - began) * 1000, "")

    async def checkin_only(self, index: int) -> None:
        garage = self.spec["garage_id"]
        while self.running():
            if self.checkins_sent >= self.max_checkins:
                self.exhausted = True  # the spot pool is used up: stop here, not with GARAGE_FULL
                return
            self.checkins_sent += 1
            await self.call(
                "check-in",
                "POST",
                f"{API}/garages/{garage}/check-in",
                self.operator,
                {"licensePlate": self.new_plate(), "vehicleType": "CAR"},
            )


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    clients = int(spec["clients"])
    connector = aiohttp.TCPConnector(limit=clients, ttl_dns_cache=None)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(str(spec["base_url"]), connector=connector, timeout=timeout) as http:
        load = Load(spec, http)
        scenario = getattr(load, str(spec["scenario"]))
        tasks = [asyncio.ensure_future(scenario(i)) for i in range(clients)]

        await asyncio.sleep(max(0.0, load.measure_from - time.perf_counter()))
        cpu_from = cpu_seconds()
        print("measuring", flush=True)
        await asyncio.gather(*tasks)
        window_s = time.perf_counter() - load.measure_from
        cpu_s = cpu_seconds() - cpu_from
        print("finished", flush=True)
    return {
        "scenario": spec["scenario"],
        "clients": clients,
        "window_s": window_s,
        "client_cpu_s": cpu_s,
        "exhausted": load.exhausted,
        "cycles": load.cycles,
        "checkins_sent": load.checkins_sent,
        "types": {kind: stats.summary() for kind, stats in sorted(load.stats.items())},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", type=Path, help="read the spec from this JSON file instead of stdin")
    args = parser.parse_args()
    spec = json.loads(args.spec.read_text()) if args.spec else json.load(sys.stdin)
    try:
        import uvloop  # the server's event loop too (uvicorn[standard]); cheaper per request
    except ImportError:  # pragma: no cover
        result = asyncio.run(run(spec))
    else:
        result = uvloop.run(run(spec))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
