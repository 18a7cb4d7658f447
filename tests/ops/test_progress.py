"""Progress for people: the import and key rotation report progress through callbacks, and the
commands show it as bars on stderr only when stderr is a terminal (ops/progress.py)."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bench.legacy_snapshot import build
from garage.config import load_settings
from garage.repositories.unit_of_work import Database
from garage.security.crypto import FieldCipher
from garage.services.legacy_import import LegacyImportService, read_snapshot
from garage.services.legacy_import.snapshot import READ_REPORT_EVERY
from tests.database import REPO, apply_migrations
from tests.ops.serving import ENV, garage
from tests.ops.test_legacy_import import connected

# What click's bar writes: its labels, the bar's fill and the carriage returns that redraw it.
IMPORT_LABELS = ("reading and checking", "checking against the database", "writing")
BAR_MARKS = ("\r", "[#", "#]", "█")


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "progress.db"
    apply_migrations(path)
    return path


@pytest.fixture
def snapshot_file(tmp_path: Path) -> Path:
    path = tmp_path / "snapshot.json"
    path.write_text(json.dumps(build(3000)))
    return path


def no_bar_in(stderr: str, labels: tuple[str, ...]) -> None:
    for text in labels + BAR_MARKS:
        assert text not in stderr, f"{text!r} in stderr:\n{stderr}"


def test_reading_reports_records_and_bytes_as_it_goes(snapshot_file: Path) -> None:
    heard: list[tuple[int, int]] = []
    with snapshot_file.open("rb") as source:
        snapshot, _, problems = read_snapshot(source, on_read=lambda records, read: heard.append((records, read)))
    assert problems == []
    records = sum(len(getattr(snapshot, kind)) for kind in ("garages", "spots", "vehicles", "sessions", "tickets", "payments"))
    # every READ_REPORT_EVERY records, and at the end unless that was just said
    assert records // READ_REPORT_EVERY <= len(heard) <= records // READ_REPORT_EVERY + 1, heard
    assert heard == sorted(set(heard)), heard  # strictly increasing
    assert heard[-1] == (records, snapshot_file.stat().st_size), heard


@pytest.mark.asyncio
async def test_planning_reports_the_records_compared_with_the_database(database: Path, snapshot_file: Path) -> None:
    heard: list[tuple[int, int]] = []
    async with connected(database) as db:
        cipher = FieldCipher(load_settings(DATABASE_URL=f"file:{database}", GARAGE_ENV="test").encryption_keys)
        with snapshot_file.open("rb") as source:
            await LegacyImportService(Database(db), cipher).run(
                source, actor="test", dry_run=True, on_planning=lambda done, total: heard.append((done, total)),
            )
    assert heard[0][0] == 0 and len({total for _, total in heard}) == 1, heard[:3]
    done = [done for done, _ in heard]
    assert done == sorted(set(done)) and done[-1] == heard[0][1] and len(done) > 2, heard


def test_import_and_rotation_write_no_bar_when_stderr_is_not_a_terminal(database: Path, snapshot_file: Path) -> None:
    imported = garage("import-memory-store", str(snapshot_file), database=database)
    assert imported.returncode == 0, imported.stderr
    no_bar_in(imported.stderr, IMPORT_LABELS)
    rotated = garage("rotate-keys", "--batch-size", "50", database=database)
    assert rotated.returncode == 0, rotated.stderr
    no_bar_in(rotated.stderr, ("re-encrypting",))
    # every sealed model is reported, those with nothing to re-encrypt too
    assert "re-encrypted under key" in rotated.stdout
    assert all(f"{model} rows" in rotated.stdout for model in ("Payment", "Vehicle", "Webhook")), rotated.stdout


def test_the_import_shows_its_bars_on_a_terminal(database: Path, snapshot_file: Path) -> None:
    """The other side of the test above: with stderr on a terminal, the bars are there."""
    main, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "garage", "import-memory-store", str(snapshot_file)], cwd=REPO,
        env={**os.environ, **ENV, "DATABASE_URL": f"file:{database}"},
        stdout=subprocess.PIPE, stderr=terminal, stdin=subprocess.DEVNULL,
    )
    os.close(terminal)
    shown = bytearray()

    def drain() -> None:  # a terminal's buffer is small: read while the command runs
        while True:
            try:
                chunk = os.read(main, 4096)
            except OSError:  # EIO: the command closed its end
                return
            if not chunk:
                return
            shown.extend(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    process.communicate(timeout=120)
    assert process.returncode == 0
    reader.join(timeout=10)
    os.close(main)
    text = shown.decode("utf-8", "replace")
    for label in IMPORT_LABELS:
        assert label in text, text
