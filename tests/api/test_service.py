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
    assert anonymous.get("/docs").status_code == 200


def test_unknown_route_is_a_json_404(anonymous: httpx.Client) -> None:
    response = anonymous.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"
