"""Service endpoints without authentication: /health, /ready, /metrics.

/ready is 503 while the database is unavailable, a migration is pending, free disk space is below
GARAGE_MIN_FREE_BYTES or a background integrity check found the file damaged (runtime/readiness.py);
the body says which. /metrics adds, beside the request metrics, gauges read at scrape time: free
disk space (from the file systems, so they are there even when the database is not), sessions
and occupancy (from the database)."""

from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Gauge, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from garage.config import Settings
from garage.errors import DatabaseUnavailable
from garage.routes.models import JsonResponse
from garage.runtime.diskspace import disk_space
from garage.runtime.integrity import recorded_damage
from garage.runtime.readiness import check_readiness
from garage.vocabulary import SpotStatus


async def health(_: Request) -> Response:
    return JsonResponse({"status": "ok"})


async def ready(request: Request) -> Response:
    report = await check_readiness(request.app.state.services.db, request.app.state.settings)
    if report.ready:
        return JsonResponse(report.as_dict())
    # as every 503 of the service: when to ask again (load balancers and probes may honour it)
    return JsonResponse(
        report.as_dict(), status_code=503, headers={"Retry-After": str(DatabaseUnavailable.retry_after)}
    )


async def metrics(request: Request) -> Response:
    """Request metrics (summed over uvicorn workers in multiprocess mode) plus live gauges read
    from the database at scrape time."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        process_registry = CollectorRegistry()
        MultiProcessCollector(process_registry)  # type: ignore[no-untyped-call]
    else:
        process_registry = REGISTRY
    return Response(
        generate_latest(process_registry)
        + generate_latest(file_gauges(request.app.state.settings))
        + generate_latest(await database_gauges(request)),
        media_type=CONTENT_TYPE_LATEST,
    )


def file_gauges(settings: Settings) -> CollectorRegistry:
    """Free bytes on the file systems the service writes to (the database with its WAL, the
    snapshot backups, a local Litestream replica), the threshold they are held against, and
    whether a background integrity check found the database damaged."""
    registry = CollectorRegistry()
    free = Gauge(
        "garage_disk_free_bytes",
        "Free bytes on the file system of each folder the service writes to",
        ["volume"],
        registry=registry,
    )
    volumes = {"database": settings.database_path, "backups": settings.backup_dir}
    if settings.replication and settings.replica_url_setting is None:
        volumes["replica"] = settings.replica_dir
    for volume, path in volumes.items():
        free.labels(volume).set(disk_space(path, settings.min_free_bytes).free)
    Gauge(
        "garage_disk_min_free_bytes",
        "GARAGE_MIN_FREE_BYTES: below it /ready answers 503 and backups are refused",
        registry=registry,
    ).set(settings.min_free_bytes)
    Gauge(
        "garage_database_damaged",
        "1 when the background integrity check found the database file damaged",
        registry=registry,
    ).set(0 if recorded_damage(settings.database_path) is None else 1)
    return registry


async def database_gauges(request: Request) -> CollectorRegistry:
    registry = CollectorRegistry()
    report = request.app.state.services.reports
    Gauge("garage_active_sessions", "Parking sessions currently ACTIVE", registry=registry).set(
        await report.active_session_count()
    )
    spots = Gauge("garage_spots", "Live spots by status (occupancy)", ["status"], registry=registry)
    counts = await report.live_spots_by_status()
    for status in SpotStatus:
        spots.labels(status).set(counts.get(status, 0))
    return registry


ROUTES = [
    Route("/health", health, methods=["GET"]),
    Route("/ready", ready, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
]
