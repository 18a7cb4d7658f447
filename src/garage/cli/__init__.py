"""`garage` console command: serve the API and run operations."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import tempfile
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import TypeVar

import click
import uvicorn
from pydantic import ValidationError

from garage.cli.doctor import examine
from garage.cli.progress import Bar, phase_bars
from garage.cli.restore import RestoreRefused
from garage.cli.restore import restore as swap_in_backup
from garage.config import load_settings
from garage.errors import GarageError, GarageException
from garage.logging_setup import configure_logging, logging_config
from garage.repositories.unit_of_work import connected
from garage.routes.http_protocol import LimitedHttpToolsProtocol
from garage.runtime.diskspace import disk_space
from garage.runtime.integrity import damage_at_start
from garage.runtime.replication import ReplicationError, Replicator, restore_to
from garage.services.container import Services
from garage.services.key_rotation import KeyRotationService
from garage.services.legacy_import import ImportRefused, ImportReport, LegacyImportService
from garage.vocabulary import Role

T = TypeVar("T")
# The audit log's actor for changes made from the command line.
CLI_ACTOR = "cli"


@click.group()
def main() -> None:
    """Garage parking service."""
    # Database and backup files this process creates are private to their owner.
    os.umask(0o077)
    _configure_logging()


def _configure_logging() -> None:
    """Logging for every command (garage/logging_setup.py): GARAGE_LOG_LEVEL, GARAGE_LOG_FORMAT.
    Settings that do not load leave the defaults here; the command itself then reports why."""
    try:
        settings = load_settings()
    except ValidationError:
        configure_logging("info", "console")
        return
    configure_logging(settings.log_level, settings.log_format)


@main.command()
@click.option("--host", default=None, help="Interface to bind (default: HOST or 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default: PORT or 8000).")
@click.option("--workers", type=int, default=None, help="uvicorn worker processes (default: GARAGE_WORKERS or 1).")
def serve(host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the REST API with uvicorn (uvloop, httptools with the service's HTTP limits)."""
    settings = load_settings()
    worker_count = workers or settings.workers
    if worker_count > 1:
        # Each worker is a process: prometheus-client sums their request metrics through files here.
        metrics_dir = Path(tempfile.mkdtemp(prefix="garage-metrics-"))
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    # uvicorn ends a single-worker server on SIGTERM by re-raising the signal once it has shut down,
    # which would kill this process before the replicator's cleanup: turn it into an exception here,
    # clean up, then die by the signal as before.
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        with ExitStack() as running:
            if settings.replication:
                # Continuous backup: Litestream replicates the WAL for as long as the service runs.
                running.enter_context(Replicator(settings))
            uvicorn.run(
                "garage.app:create_app",
                factory=True,
                host=host or settings.host,
                port=port or settings.port,
                workers=worker_count,
                loop="uvloop",
                # uvicorn's httptools protocol with limits on URL and header size, read timeouts
                # and the idle timeout (GARAGE_MAX_URL_BYTES, ...: routes/http_protocol.py).
                http=LimitedHttpToolsProtocol,
                log_level=settings.log_level,
                # the service's one logging setup, applied by uvicorn in each worker process too
                log_config=logging_config(settings.log_level, settings.log_format),
                proxy_headers=False,
            )
    except Terminated:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.raise_signal(signal.SIGTERM)


class Terminated(GarageException):
    """SIGTERM reached `garage serve`."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


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
        async with connected(settings) as database:
            return await work(Services.build(settings, database))

    return asyncio.run(run())


@main.command("rotate-keys")
@click.option("--batch-size", type=click.IntRange(1, 5000), default=200, show_default=True)
def rotate_keys(batch_size: int) -> None:
    """Re-encrypt every sensitive field under the newest key of GARAGE_ENCRYPTION_KEYS.

    On a terminal, stderr shows a bar of the rows gone through; nothing when it is not a terminal."""
    with phase_bars() as phases:
        bars: list[Bar] = []

        def went_through(done: int, total: int) -> None:
            if not bars:  # the first call carries the total the service counted
                bars.append(phases.start("re-encrypting", total))
            bars[0].reach(done)

        async def rotate(services: Services) -> str:
            report = await KeyRotationService(services.db, services.cipher).rotate(
                actor=CLI_ACTOR, batch_size=batch_size, on_progress=went_through
            )
            return f"re-encrypted under key {services.cipher.current_key_id!r}: " + ", ".join(
                f"{count} {model} rows" for model, count in sorted(report.resealed.items())
            )

        outcome = run_with_services(rotate)
    click.echo(outcome)


def _instant(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time") from error
    if moment.tzinfo is None:
        raise click.BadParameter("give the time with an offset, e.g. 2026-11-24T21:30:00Z")
    return moment


@main.command("restore")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--to",
    "to",
    default=None,
    metavar="TIMESTAMP",
    help="Point-in-time recovery: the moment to go back to (ISO 8601 with offset, e.g. 2026-11-24T21:30:00Z).",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="With --to: where to write the restored database (default: <database>-at-<time>.db beside it).",
)
def restore(file: Path | None, to: str | None, output: Path | None) -> None:
    """Restore the database.

    \b
    garage restore FILE          verify FILE (a backup), then swap it in for the database (service stopped)
    garage restore --to TIME     point-in-time recovery from the Litestream replica into a NEW file
    """
    if (file is None) == (to is None):
        raise click.UsageError("give either FILE (a backup to swap in) or --to TIMESTAMP (point-in-time recovery)")
    if file is not None:
        if output is not None:
            raise click.UsageError("--output goes with --to")
        _restore_file(file)
        return
    assert to is not None
    settings = load_settings()
    try:
        restored = restore_to(settings, _instant(to), output)
    except ReplicationError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"restored the database as it was at {to} into {restored} (integrity check: ok)")
    click.echo(
        f"to make it live: stop the service, then run `garage restore {restored}` (verifies it, keeps the "
        "current database as <db>.replaced-<time>, swaps it in), then start the service "
        "(docs/operations.md, Continuous backup and point-in-time recovery)"
    )


def _restore_file(file: Path) -> None:
    settings = load_settings()
    try:
        restored = swap_in_backup(file, settings.database_path, settings.migrations_dir)
    except RestoreRefused as error:
        raise click.ClickException(f"restore refused: {error}") from error
    click.echo(f"restored {file} into {restored.database} (verified: integrity_check, foreign_key_check, migrations)")
    if restored.replaced is not None:
        click.echo(f"the database it replaced is kept as {restored.replaced}")
    if restored.pending_migrations:
        click.echo(
            f"the backup predates {len(restored.pending_migrations)} migration(s): "
            "run `prisma migrate deploy` before starting the service"
        )


@main.command()
def backup() -> None:
    """Take a verified snapshot backup now (the service may keep serving), then prune to GARAGE_BACKUP_KEEP.

    Refused, with nothing written, when the backup folder lacks room for a copy of the database
    with GARAGE_MIN_FREE_BYTES to spare (exit 1, the message says how much is needed)."""

    async def take(services: Services) -> str:
        taken = await services.backups.create()
        removed = services.backups.prune(services.settings.backup_keep)
        return f"backup {taken.path} ({taken.size_bytes} bytes, integrity check: ok)" + (
            f"; pruned {len(removed)} older backup(s)" if removed else ""
        )

    try:
        click.echo(run_with_services(take))
    except GarageError as error:  # BackupFailed, InsufficientStorage (runtime/backups.py), DiskFull
        raise click.ClickException(f"no backup was made: {error.message}") from error


@main.command()
@click.option(
    "--thorough",
    is_flag=True,
    help="Run the full integrity_check (also compares every index with its table; slower on a large file).",
)
def check(thorough: bool) -> None:
    """Check the database file before anything opens it; `make run` runs this before `prisma migrate deploy`.

    \b
    Exit 0: the file passes quick_check and foreign_key_check (or does not exist yet).
    Exit 1: it is damaged; the message says how to restore it, least data lost first.
    Low free disk space (below GARAGE_MIN_FREE_BYTES) is a warning on stderr, not a failure."""
    settings = load_settings()
    database = settings.database_path
    message = damage_at_start(settings, thorough=thorough)
    if message is not None:
        click.echo(message, err=True)
        raise SystemExit(1)
    space = disk_space(database, settings.min_free_bytes)
    if space.low:
        click.echo(
            f"warning: low disk space: {space.describe()}; writes fail when it reaches 0 "
            "(docs/operations.md, Disk space)",
            err=True,
        )
    if not database.exists():
        click.echo(f"{database}: does not exist yet (prisma migrate deploy creates it)")
    else:
        click.echo(f"{database}: ok ({'integrity_check' if thorough else 'quick_check'}, foreign_key_check)")


@main.command()
def doctor() -> None:
    """Report the database's state (integrity, WAL, disk space, last backup, replica, migrations,
    permissions); exit 1 on a problem."""
    findings = examine(load_settings())
    for finding in findings:
        click.echo(finding.line())
    problems = sum(not finding.ok for finding in findings)
    click.echo(f"{problems} problem(s) found" if problems else "healthy")
    if problems:
        raise SystemExit(1)


@main.command("import-memory-store")
@click.argument("snapshot", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check everything and report; write nothing.")
def import_memory_store(snapshot: Path, dry_run: bool) -> None:
    """Import a MemoryStore JSON snapshot: all or nothing, legacy ids kept, safe to run twice.

    On a terminal, stderr shows a bar per phase: reading and checking (bytes of the file), checking
    against the database (records), writing (rows); nothing when stderr is not a terminal."""
    with phase_bars() as phases:
        reading = phases.start("reading and checking", snapshot.stat().st_size)
        planning: list[Bar] = []
        writing: list[Bar] = []

        def read(records: int, bytes_read: int) -> None:
            reading.reach(bytes_read)

        def compared(done: int, total: int) -> None:
            if not planning:  # the total is known once the snapshot is read
                planning.append(phases.start("checking against the database", total))
            planning[0].reach(done)

        def start_writing(report: ImportReport) -> None:
            # the bar starts once the plan knows how many rows will be written
            writing.append(phases.start("writing", report.rows_to_write))

        def written(rows: int) -> None:
            for bar in writing:
                bar.advance(rows)

        async def run(services: Services) -> ImportReport:
            # streamed: the service reads the file record by record, never whole
            with snapshot.open("rb") as source:
                return await LegacyImportService(services.db, services.cipher).run(
                    source,
                    actor=CLI_ACTOR,
                    dry_run=dry_run,
                    on_read=read,
                    on_planning=compared,
                    on_planned=start_writing,
                    on_progress=written,
                )

        try:
            report = run_with_services(run)
        except ImportRefused as refused:
            phases.finish()
            click.echo(f"refused, nothing was written: {refused}", err=True)
            for problem in refused.problems:
                click.echo(f"  {problem}", err=True)
            raise SystemExit(1) from None
        except GarageError as error:  # the database busy or unavailable (503 in the service): said, not a traceback
            phases.finish()
            raise click.ClickException(error.message) from error
    verb = "would import" if dry_run else "imported"
    click.echo(f"{'dry run: ' if dry_run else ''}snapshot sha256 {report.snapshot_sha256}")
    for kind, count in report.counts.items():
        click.echo(f"  {kind:<9} {verb} {count.imported:>7}   skipped (already there) {count.skipped:>7}")
    click.echo(
        f"  rates created with the defaults: {report.rates_created}; tickets generated: {report.tickets_generated}; "
        f"OCCUPIED spots without an active session set AVAILABLE: {report.spots_normalised}"
    )


@main.command("archive")
@click.option(
    "--before",
    "before_text",
    required=True,
    metavar="DATE",
    help="Move completed sessions that ended before this date (2026-01-31 = midnight UTC) or time (with offset).",
)
@click.option("--batch-size", type=click.IntRange(1, 5000), default=500, show_default=True)
def archive(before_text: str, batch_size: int) -> None:
    """Move completed sessions (with tickets and payments) into the archive database (GARAGE_ARCHIVE_URL)."""
    from garage.cli.archive import ArchiveSetupFailed, archive_before, migrate_archive, parse_before

    settings = load_settings()
    try:
        before = parse_before(before_text)
        migrate_archive(settings)
    except (ValueError, ArchiveSetupFailed) as error:
        raise click.ClickException(str(error)) from error
    try:
        with ExitStack() as bars:
            updates: list[Callable[[int], None]] = []

            def start(total: int) -> None:
                bar = bars.enter_context(
                    click.progressbar(length=total, label=f"archiving {total} sessions", file=sys.stderr)
                )
                updates.append(bar.update)

            moved = asyncio.run(archive_before(settings, before, batch_size, CLI_ACTOR, start, lambda n: updates[0](n)))
    except GarageError as error:
        raise click.ClickException(str(error)) from error
    click.echo(
        f"archived {moved} sessions (with their tickets and payments) into {settings.archive_path}; "
        "every batch verified by counts and sums"
    )
