"""Service endpoints without authentication: /health, /ready, /metrics."""

from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Gauge, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from garage.ops.readiness import check_readiness


async def health(_: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def ready(request: Request) -> Response:
    report = await check_readiness(request.app.state.db, request.app.state.settings.migrations_dir)
    return JSONResponse(report.as_dict(), status_code=200 if report.ready else 503)


async def metrics(request: Request) -> Response:
    """Request metrics (summed over uvicorn workers in multiprocess mode) plus live gauges read
    from the database at scrape time."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        process_registry = CollectorRegistry()
        MultiProcessCollector(process_registry)  # type: ignore[no-untyped-call]
    else:
        process_registry = REGISTRY
    return Response(
        generate_latest(process_registry) + generate_latest(await database_gauges(request)),
        media_type=CONTENT_TYPE_LATEST,
    )


async def database_gauges(request: Request) -> CollectorRegistry:
    registry = CollectorRegistry()
    report = request.app.state.services.reports
    Gauge("garage_active_sessions", "Parking sessions currently ACTIVE", registry=registry).set(
        await report.active_session_count()
    )
    spots = Gauge("garage_spots", "Live spots by status (occupancy)", ["status"], registry=registry)
    counts = await report.live_spots_by_status()
    for status in ("AVAILABLE", "OCCUPIED", "RESERVED", "MAINTENANCE"):
        spots.labels(status).set(counts.get(status, 0))
    return registry


ROUTES = [
    Route("/health", health, methods=["GET"]),
    Route("/ready", ready, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
]
