"""Unauthenticated service endpoints."""

from __future__ import annotations

import httpx


def test_health_ready_metrics_openapi_need_no_key(anonymous: httpx.Client) -> None:
    assert anonymous.get("/health").json() == {"status": "ok"}
    ready = anonymous.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["pendingMigrations"] == []
    metrics = anonymous.get("/metrics")
    assert metrics.status_code == 200
    assert "garage_http_requests_total" in metrics.text
    spec = anonymous.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/admin/api-keys" in spec["paths"]
    # every 503 tells when to try again, and the document says so
    for path in ("/api/v1/garages", "/ready"):
        assert "Retry-After" in spec["paths"][path]["get"]["responses"]["503"]["headers"]
    assert anonymous.get("/docs").status_code == 200


def test_ready_and_metrics_report_free_disk_space_and_integrity(anonymous: httpx.Client) -> None:
    ready = anonymous.get("/ready").json()
    assert ready["integrity"] == "ok" and ready["disk"]["status"] == "ok"
    assert ready["disk"]["freeBytes"] >= ready["disk"]["minFreeBytes"] == 256 * 1024 * 1024  # the default
    lines = anonymous.get("/metrics").text.splitlines()
    for name in ('garage_disk_free_bytes{volume="database"}', 'garage_disk_free_bytes{volume="backups"}',
                 "garage_disk_min_free_bytes", "garage_database_damaged"):
        assert any(line.startswith(name + " ") for line in lines), name


def test_unknown_route_is_a_json_404(anonymous: httpx.Client) -> None:
    response = anonymous.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


def test_metrics_show_live_sessions_and_occupancy(admin: httpx.Client, operator: httpx.Client, anonymous: httpx.Client) -> None:
    from tests.api.parking_data import new_garage, parked

    def gauge(text: str, name: str) -> float:
        line = next(line for line in text.splitlines() if line.startswith(name + " ") or line.startswith(name + "{"))
        return float(line.rsplit(" ", 1)[1])

    before = anonymous.get("/metrics").text
    garage_id, _ = new_garage(admin, [(1, "1", "STANDARD"), (1, "2", "STANDARD")])
    parked(operator, garage_id)
    after = anonymous.get("/metrics").text
    assert gauge(after, "garage_active_sessions") == gauge(before, "garage_active_sessions") + 1
    assert gauge(after, 'garage_spots{status="OCCUPIED"}') == gauge(before, 'garage_spots{status="OCCUPIED"}') + 1
    assert gauge(after, 'garage_spots{status="AVAILABLE"}') == gauge(before, 'garage_spots{status="AVAILABLE"}') + 1
    assert 'garage_http_requests_total{method="POST",route="/api/v1/garages/{id}/check-in",status="201"}' in after


def test_request_metrics_are_summed_over_workers(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server(workers=2)
    client = server.client()
    for _ in range(30):
        assert client.get("/health").status_code == 200
    text = client.get("/metrics").text
    line = next(line for line in text.splitlines()
                if line.startswith("garage_http_requests_total{") and 'route="/health"' in line and 'status="200"' in line)
    # the start-up probe of the fixture also asked /ready, never /health: exactly our 30
    assert float(line.rsplit(" ", 1)[1]) == 30


def test_nul_characters_anywhere_are_refused_cleanly(admin: httpx.Client) -> None:
    assert admin.get("/api/v1/garages/%00").status_code == 404
    assert admin.get("/api/v1/admin/audit", params={"entityId": "a\x00b"}).status_code == 400
    assert admin.post("/api/v1/garages", json={"name": "a\x00b", "address": "x", "capacity": 5}).status_code == 400
    early = admin.get("/api/v1/admin/audit", params={"from": "0001-01-01T00:00:00+01:00"})
    assert early.status_code == 400 and "from" in early.json()["error"]["details"]["fields"]
