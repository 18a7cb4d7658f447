"""The database file on its disk: how big it is, how much room is left, and whether an error
says the disk is full (SQLite's SQLITE_FULL or the OS's ENOSPC, as the engine passes them through:
engine/src/adapter-errors.js). Used by the error translation (garage/db/errors.py) and by the
runtime's disk space watch (garage/runtime/diskspace.py)."""

from __future__ import annotations

import os
import re
from pathlib import Path

# What SQLite (SQLITE_FULL, extended code 13, through the engine and the client) and the OS
# (ENOSPC) say when there is no room. The engine's text for a failed statement reads
# `SqliteError { extended_code: 13, message: Some("database or disk is full") }`, for a failed
# raw query "Raw query failed. Code: `13`. Message: `database or disk is full`", for a failed
# COMMIT "Error in external connector (id 0): database or disk is full (SQLITE_FULL, extended code 13)".
DISK_FULL = re.compile(
    r"database or disk is full|SQLITE_FULL|extended_code: 13\b|No space left on device|\bENOSPC\b", re.IGNORECASE
)


def free_bytes(path: Path) -> int:
    """Free bytes on the file system holding `path` (or its nearest existing parent), as `df`
    shows them ("Avail"): without the blocks a file system may reserve for root, so a service
    running as root is warned before the last, reserved, blocks go too."""
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    stats = os.statvfs(existing)
    return stats.f_bavail * stats.f_frsize


def says_disk_full(error: BaseException) -> bool:
    """Whether `error`, or an error it was raised from, is SQLite's or the OS's "disk is full"."""
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        if DISK_FULL.search(str(current)) or DISK_FULL.search(str(getattr(current, "data", "") or "")):
            return True
        seen.append(current)
        current = current.__cause__ or current.__context__
    return False


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def database_bytes(database: Path) -> int:
    """The database's size on disk with its WAL: what a full copy of it (a backup) may take."""
    return file_size(database) + file_size(Path(f"{database}-wal"))


def format_bytes(count: int) -> str:
    if abs(count) < 1024:
        return f"{count} bytes"
    size = count / 1024
    for unit in ("KiB", "MiB"):
        if abs(size) < 1024:
            return f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"
