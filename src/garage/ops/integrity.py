"""Checks of the database *file*, with Python's sqlite3 opened read-only.

Why sqlite3 and not a repository method through Prisma: these checks must run before the query
engine opens the file (a damaged file can make the engine fail in ways that hide the cause, and the
engine's writer connection would start writing to it), and `garage doctor`/`garage restore` must
work when no engine can start at all. The repositories stay the only Prisma callers; nothing here
writes (mode=ro)."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from garage.ops.backups import BackupStore

# How many lines of a check's report end up in a message.
REPORTED_LINES = 5


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
    return [f"foreign_key_check: {table} rowid {rowid} references a missing {parent} row"
            for table, rowid, parent, _ in rows[:REPORTED_LINES]]


def database_problems(path: Path, *, thorough: bool = False) -> list[str]:
    """Empty when the file is sound: structure first, then foreign keys (only meaningful on a
    structurally sound file, and the schema from the migrations must be in place)."""
    try:
        with read_only(path) as connection:
            problems = structure_problems(connection, thorough=thorough)
            return problems or foreign_key_problems(connection)
    except sqlite3.DatabaseError as error:
        return [f"cannot read the file: {error}"]


class DatabaseDamaged(RuntimeError):
    """The service refuses to serve the file; the message says what to do."""


def restore_advice(backups: BackupStore) -> str:
    newest = backups.newest()
    if newest is not None:
        return f"garage restore {newest.path}"
    return f"garage restore FILE   (no backup found in {backups.directory}: use your off-site copy)"


def refuse_damaged_database(database: Path, backups: BackupStore) -> None:
    """Raises DatabaseDamaged unless the file passes quick_check and foreign_key_check. A missing
    file passes: the engine creates it and readiness reports the pending migrations."""
    if not database.exists():
        return
    problems = database_problems(database)
    if problems:
        damaged = DatabaseDamaged(
            f"The database file {database} is damaged; the service will not serve it.\n"
            + "".join(f"  {problem}\n" for problem in problems)
            + "Stop every garage process, then restore the newest verified backup:\n"
            + f"  {restore_advice(backups)}\n"
            + "(runbook: docs/operations.md, section Corruption)"
        )
        # Said plainly before uvicorn prints the traceback of the failed startup.
        logging.getLogger("garage").critical("%s", damaged)
        raise damaged
