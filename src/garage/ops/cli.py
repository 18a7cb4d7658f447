"""`garage` console command: serve the API and run operations."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click
import uvicorn

from garage.config import load_settings


@click.group()
def main() -> None:
    """Garage parking service."""


@main.command()
@click.option("--host", default=None, help="Interface to bind (default: HOST or 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default: PORT or 8000).")
@click.option("--workers", type=int, default=None, help="uvicorn worker processes (default: GARAGE_WORKERS or 1).")
def serve(host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the REST API with uvicorn (uvloop, httptools)."""
    settings = load_settings()
    worker_count = workers or settings.workers
    if worker_count > 1:
        # Each worker is a process: prometheus-client sums their request metrics through files here.
        metrics_dir = Path(tempfile.mkdtemp(prefix="garage-metrics-"))
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    uvicorn.run(
        "garage.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=worker_count,
        loop="uvloop",
        http="httptools",
        log_level=settings.log_level,
        proxy_headers=False,
    )
