"""Engine death under load: SIGKILL the query engine (the node child of a uvicorn worker) while
clients check in and out; the worker starts a new engine and keeps serving. Requests in flight
succeed after a retry or get 503 DATABASE_UNAVAILABLE, never a 500; afterwards every request
succeeds and every acknowledged write is stored."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx

from tests.api.conftest import start_server
from tests.ops.crash_support import API, Inspector, Ledger, Workload, engine_pids, make_garage


def test_a_killed_engine_is_replaced_and_the_service_keeps_serving(tmp_path: Path) -> None:
    server = start_server(tmp_path, workers=2)
    inspector = None
    try:
        garage_id, key = make_garage(server.url, server.admin_key, spots=30)
        inspector = Inspector(server.database)
        ledger = Ledger()
        engines = engine_pids(server.process.pid)
        assert len(engines) == 2, engines  # one engine per worker
        load = Workload(server.url, key, garage_id, ledger, clients=4).start()
        time.sleep(1.0)
        before_kill = sum(ledger.statuses.values())
        for pid in engines:
            os.kill(pid, signal.SIGKILL)
        time.sleep(2.0)
        load.stop()
        assert sum(ledger.statuses.values()) > before_kill  # it kept answering after the kills
        assert ledger.statuses[500] == 0 and ledger.unanswered == 0, (dict(ledger.statuses), ledger.unanswered)
        assert set(ledger.statuses) <= {200, 201, 409, 503}, dict(ledger.statuses)

        # A worker replaces its dead engine on its next database call; a worker the clients' few
        # keep-alive connections did not reach has not had one yet: fresh connections reach both.
        deadline = time.monotonic() + 30
        replaced = engine_pids(server.process.pid)
        while len(replaced) < 2 and time.monotonic() < deadline:
            httpx.get(f"{server.url}{API}/garages/{garage_id}", headers={"Authorization": f"Bearer {key}"}, timeout=30)
            replaced = engine_pids(server.process.pid)
        assert len(replaced) == 2 and not set(replaced) & set(engines), (engines, replaced)
        # every later request succeeds: a sequence of check-ins, check-outs and reads
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
            for n in range(10):
                parked = client.post(f"{API}/garages/{garage_id}/check-in", json={"licensePlate": f"AFTER{n}", "vehicleType": "CAR"})
                assert parked.status_code in (201, 409), parked.text  # 409 only when the garage is full
                listed = client.get(f"{API}/garages/{garage_id}/spots")
                assert listed.status_code == 200, listed.text
                if parked.status_code == 201:
                    session_id = parked.json()["session"]["id"]
                    ledger.checked_in[session_id] = f"AFTER{n}"
                    left = client.post(f"{API}/sessions/{session_id}/check-out", json={"paymentMethod": "CASH"})
                    assert left.status_code == 200, left.text
                    ledger.checked_out[session_id] = left.json()["payment"]["id"]
        problems = inspector.problems(ledger)
        assert not problems, problems[:10]
        assert ledger.checked_in and ledger.checked_out
    finally:
        if inspector is not None:
            inspector.close()
        server.stop()
