"""POST/GET /admin/backups: a consistent, verified copy while the service keeps serving."""

from __future__ import annotations

import sqlite3
import stat
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.api.conftest import LiveServer
from tests.api.parking_data import API, new_garage


def test_backup_while_serving_is_a_complete_verified_copy(live: LiveServer, admin: httpx.Client) -> None:
    new_garage(admin, [(1, "1", "STANDARD")])
    with ThreadPoolExecutor(max_workers=4) as pool:  # writes keep flowing during the backup
        writes = [pool.submit(new_garage, admin, [(1, str(n), "COMPACT")]) for n in range(8)]
        created = admin.post(f"{API}/admin/backups")
        for write in writes:
            write.result()
    assert created.status_code == 201, created.text
    backup = created.json()
    assert set(backup) == {"name", "sizeBytes", "createdAt"} and backup["createdAt"].endswith("Z")
    path = live.database.parent / "backups" / backup["name"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.stat().st_size == backup["sizeBytes"] > 0
    copy = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        assert copy.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert copy.execute("PRAGMA foreign_key_check").fetchall() == []
        garages_in_copy = copy.execute("SELECT count(*) FROM Garage").fetchone()[0]
    finally:
        copy.close()
    live_db = sqlite3.connect(f"file:{live.database}?mode=ro", uri=True)
    try:
        garages_now = live_db.execute("SELECT count(*) FROM Garage").fetchone()[0]
    finally:
        live_db.close()
    assert 1 <= garages_in_copy <= garages_now  # a snapshot: never more than the live file holds

    listed = admin.get(f"{API}/admin/backups").json()
    assert listed["items"][0] == backup and listed["nextCursor"] is None


def test_backups_are_admin_only(operator: httpx.Client, viewer: httpx.Client, anonymous: httpx.Client) -> None:
    for client, status in ((operator, 403), (viewer, 403), (anonymous, 401)):
        assert client.post(f"{API}/admin/backups").status_code == status
        assert client.get(f"{API}/admin/backups").status_code == status


def test_a_backup_without_room_is_documented_as_507(anonymous: httpx.Client) -> None:
    """The full-disk behaviour itself runs on a real full file system: tests/ops/test_disk_full.py."""
    responses = anonymous.get("/openapi.json").json()["paths"]["/api/v1/admin/backups"]["post"]["responses"]
    assert responses["507"]["description"].startswith("INSUFFICIENT_STORAGE")
