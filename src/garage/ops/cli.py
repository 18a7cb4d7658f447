"""`garage` console command: serve the API and run operations."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import click
import uvicorn

from garage.config import load_settings
from garage.db import create_prisma
from garage.security.roles import Role
from garage.services.container import Services
from garage.services.key_rotation import KeyRotationService

T = TypeVar("T")
# The audit log's actor for changes made from the command line.
CLI_ACTOR = "cli"


@click.group()
def main() -> None:
    """Garage parking service."""
    # Database and backup files this process creates are private to their owner.
    os.umask(0o077)


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


@main.group()
def keys() -> None:
    """API keys."""


@keys.command("create")
@click.option("--name", required=True, help="Who or what the key is for.")
@click.option("--role", type=click.Choice([role.value for role in Role]), required=True)
def create_key(name: str, role: str) -> None:
    """Create an API key and print it (shown once; stored only hashed)."""

    async def create(services: Services) -> str:
        created = await services.keys.create(name=name, role=Role(role), actor=CLI_ACTOR)
        return created.key

    click.echo(run_with_services(create))


def run_with_services(work: Callable[[Services], Awaitable[T]]) -> T:
    """Runs `work` with the services on a connected client (commands outside the web app)."""

    async def run() -> T:
        settings = load_settings()
        db = create_prisma(settings)
        await db.connect()
        try:
            return await work(Services.build(settings, db))
        finally:
            await db.disconnect()

    return asyncio.run(run())


@main.command("rotate-keys")
@click.option("--batch-size", type=click.IntRange(1, 5000), default=200, show_default=True)
def rotate_keys(batch_size: int) -> None:
    """Re-encrypt every sensitive field under the newest key of GARAGE_ENCRYPTION_KEYS."""

    async def rotate(services: Services) -> str:
        report = await KeyRotationService(services.db, services.cipher).rotate(actor=CLI_ACTOR, batch_size=batch_size)
        return (f"re-encrypted under key {services.cipher.current_key_id!r}: "
                f"{report.vehicles} vehicles, {report.payments} payments")

    click.echo(run_with_services(rotate))
