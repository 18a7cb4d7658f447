"""`garage doctor`'s replica line: how far the local Litestream replica trails the database."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from garage.config import load_settings
from garage.cli.doctor import REPLICA_LAG_LIMIT, examine


def replica_finding(database: Path, **env: str) -> tuple[bool, str]:
    settings = load_settings(DATABASE_URL=f"file:{database}", GARAGE_ENV="test", **env)
    (finding,) = [f for f in examine(settings) if f.topic == "replica"]
    return finding.ok, finding.detail


def test_replica_lag_is_reported_from_file_times(tmp_path: Path) -> None:
    database = tmp_path / "garage.db"
    sqlite3.connect(database).close()
    replica = tmp_path / "replica"

    ok, detail = replica_finding(database, GARAGE_REPLICA_DIR=str(replica))
    assert not ok and "no replica" in detail

    (replica / "ltx" / "0").mkdir(parents=True)
    segment = replica / "ltx" / "0" / "0000000000000001-0000000000000001.ltx"
    segment.write_bytes(b"x")
    written = database.stat().st_mtime
    os.utime(segment, (written + 1, written + 1))
    ok, detail = replica_finding(database, GARAGE_REPLICA_DIR=str(replica))
    assert ok and "0.0 s behind" in detail

    stale = written - REPLICA_LAG_LIMIT.total_seconds() - 60
    os.utime(segment, (stale, stale))
    ok, detail = replica_finding(database, GARAGE_REPLICA_DIR=str(replica))
    assert not ok and "BEHIND" in detail


def test_replica_line_when_replication_is_off_or_remote(tmp_path: Path) -> None:
    database = tmp_path / "garage.db"
    sqlite3.connect(database).close()
    assert replica_finding(database, GARAGE_REPLICATION="false") == (True, "replication off (GARAGE_REPLICATION=false)")
    ok, detail = replica_finding(database, GARAGE_REPLICA_URL="s3://bucket/garage")
    assert ok and "remote replica" in detail
