"""Checks of the database *file*, with Python's sqlite3 opened read-only, and what to do when one
fails.

Why sqlite3 and not a repository method through Prisma: these checks must run before the query
engine opens the file (a damaged file can make the engine fail in ways that hide the cause, and the
engine's writer connection would start writing to it), and `garage doctor`/`garage restore` must
work when no engine can start at all. The repositories stay the only Prisma callers; nothing here
writes to the database (mode=ro).

Where each check runs:
- `garage check` (run by `make run` before `prisma migrate deploy`) and every worker's start-up:
  quick_check + foreign_key_check (O(N), fast), or the full integrity_check when an earlier
  background check recorded damage (see below);
- in the background while serving (runtime/scheduler.py, one worker): the full integrity_check, which
  also compares every index with its table (a flipped byte in an index entry passes quick_check);
- `garage doctor`, `garage restore` (the snapshot and the copy) and `garage restore --to`: the full
  integrity_check.
A damage the background check finds is written to `<database>.damaged` beside the database: every
worker's /ready answers 503 while it exists, and the next start runs the full check (and deletes
the file once the database passes it again, e.g. after `garage restore`)."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from garage.config import Settings
from garage.errors import OperationalFailure
from garage.runtime.backups import BackupStore

log = logging.getLogger("garage.integrity")

# How many lines of a check's report end up in a message.
REPORTED_LINES = 5
RUNBOOK = "(runbook: docs/operations.md, section Corruption)"


@contextmanager
def read_only(path: Path) -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        yield connection
    finally:
        connection.close()


def structure_problems(connection: sqlite3.Connection, *, thorough: bool = False) -> list[str]:
    """SQLite's own check of pages, b-trees and indexes. quick_check is O(N) and skips only the
    index-content cross-check; integrity_check (thorough) also does that."""
    pragma = "integrity_check" if thorough else "quick_check"
    try:
        rows = connection.execute(f"PRAGMA {pragma}").fetchall()
    except sqlite3.DatabaseError as error:  # "file is not a database", "disk image is malformed"
        return [f"{pragma}: {error}"]
    if rows == [("ok",)]:
        return []
    return [f"{pragma}: {row[0]}" for row in rows[:REPORTED_LINES]]


def foreign_key_problems(connection: sqlite3.Connection) -> list[str]:
    try:
        rows = connection.execute("PRAGMA foreign_key_check").fetchall()
    except sqlite3.DatabaseError as error:
        return [f"foreign_key_check: {error}"]
    return [
        f"foreign_key_check: {table} rowid {rowid} references a missing {parent} row"
        for table, rowid, parent, _ in rows[:REPORTED_LINES]
    ]


def database_problems(path: Path, *, thorough: bool = False) -> list[str]:
    """Empty when the file is sound: structure first, then foreign keys (only meaningful on a
    structurally sound file, and the schema from the migrations must be in place)."""
    try:
        with read_only(path) as connection:
            problems = structure_problems(connection, thorough=thorough)
            return problems or foreign_key_problems(connection)
    except sqlite3.DatabaseError as error:
        return [f"cannot read the file: {error}"]


class DatabaseDamaged(OperationalFailure):
    """The service refuses to serve the file; the message says what to do."""


# --- what the background check found, shared by every worker through a file -----------------


def damage_record_path(database: Path) -> Path:
    return database.with_name(database.name + ".damaged")


def record_damage(database: Path, problems: list[str]) -> None:
    """Leaves the report beside the database (0600) for every worker's /ready and the next start.
    A full disk must not hide the damage: the log line is written whatever happens here."""
    path = damage_record_path(database)
    try:
        path.touch(mode=0o600)
        path.write_text("".join(f"{problem}\n" for problem in problems))
    except OSError as error:
        log.error("could not write %s (%s); the damage is only in this log", path, error)


def recorded_damage(database: Path) -> str | None:
    """The recorded report, or None when no check has found damage since the last sound one."""
    try:
        return damage_record_path(database).read_text().strip() or "damage recorded"
    except FileNotFoundError:
        return None


def clear_damage(database: Path) -> None:
    damage_record_path(database).unlink(missing_ok=True)


# --- the way back ------------------------------------------------------------------------------


def replica_available(settings: Settings) -> bool:
    """A Litestream replica to restore from: a local replica folder with files in it, or a remote
    replica URL (configured: whether it is current only `litestream ltx` can say)."""
    if settings.replica_url_setting:
        return True
    folder = settings.replica_dir
    return folder.is_dir() and any(path.is_file() for path in folder.rglob("*"))


@dataclass(frozen=True)
class RestoreOption:
    summary: str
    commands: tuple[str, ...]


def restore_options(settings: Settings) -> list[RestoreOption]:
    """The ways back, least data lost first: the point-in-time restore from the replica (it holds
    every write it received, up to one sync interval before the damage), then the newest backup."""
    options: list[RestoreOption] = []
    if replica_available(settings):
        moment = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        options.append(
            RestoreOption(
                "point-in-time from the Litestream replica, which holds every write it received (a current replica "
                "loses nothing acknowledged); it writes a new file and checks it - "
                "if that check fails, pick an earlier time",
                (f"garage restore --to {moment}", "garage restore <the file it wrote>"),
            )
        )
    store = BackupStore(settings.backup_dir)
    newest = store.newest()
    if newest is not None:
        age = datetime.now(UTC) - newest.created_at
        options.append(
            RestoreOption(
                f"the newest verified backup, taken {int(age.total_seconds() // 60)} min ago "
                "(writes made after it are lost)",
                (f"garage restore {newest.path}",),
            )
        )
    else:
        options.append(
            RestoreOption(f"no backup found in {store.directory}: use your off-site copy", ("garage restore FILE",))
        )
    return options


def restore_advice(settings: Settings) -> str:
    """The restore commands on one line, first choice first (for `garage doctor`)."""
    return "; else ".join(", then ".join(option.commands) for option in restore_options(settings))


def damage_message(settings: Settings, problems: list[str], *, consequence: str) -> str:
    lines = [
        f"The database file {settings.database_path} is damaged; {consequence}.",
        *(f"  {problem}" for problem in problems),
        "Stop every garage process, then restore it (least data lost first):",
    ]
    for number, option in enumerate(restore_options(settings), start=1):
        lines.append(f"  {number}. {option.summary}:")
        lines.extend(f"       {command}" for command in option.commands)
    lines.append(RUNBOOK)
    return "\n".join(lines)


def damage_at_start(settings: Settings, *, thorough: bool = False) -> str | None:
    """What to tell the operator when the file must not be served, else None: the file passes
    quick_check and foreign_key_check - or the full integrity_check when `thorough` or when a
    background check recorded damage (the record is deleted once the file passes it again). A
    missing file passes: `prisma migrate deploy` or the engine creates it, and readiness reports
    the pending migrations."""
    database = settings.database_path
    if not database.exists():
        return None
    recorded = recorded_damage(database) is not None
    problems = database_problems(database, thorough=thorough or recorded)
    if problems:
        return damage_message(settings, problems, consequence="the service will not serve it")
    if recorded:
        clear_damage(database)
        log.warning(
            "%s passes integrity_check again: the damage recorded in %s is cleared",
            database,
            damage_record_path(database),
        )
    return None


def refuse_damaged_database(settings: Settings) -> None:
    """Every worker's start-up: raises DatabaseDamaged when damage_at_start has something to say."""
    message = damage_at_start(settings)
    if message is not None:
        # Said plainly before uvicorn prints the traceback of the failed startup.
        log.critical("%s", message)
        raise DatabaseDamaged(message)


def check_in_background(settings: Settings) -> list[str]:
    """The full check of the live file (blocking: call it in a thread). Damage is recorded for
    /ready and the next start, and logged as CRITICAL with the way back; the service keeps
    answering until an operator stops it and restores."""
    database = settings.database_path
    if not database.exists():
        return []
    problems = database_problems(database, thorough=True)
    if problems and all("database is locked" in problem for problem in problems):
        log.warning("integrity check postponed: %s", "; ".join(problems))  # busy, not damaged
        return []
    if problems:
        record_damage(database, problems)
        log.critical(
            "%s",
            damage_message(
                settings,
                problems,
                consequence=("the background integrity check found it; /ready answers 503 until it is restored"),
            ),
        )
    elif recorded_damage(database) is not None:
        clear_damage(database)
    return problems
