"""`garage archive --before DATE` against a live service: completed sessions before the date move
with their tickets and payments; counts and revenue across live + archive equal the totals before;
a second run changes nothing; reports can include the archive."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import LiveServer, start_server
from tests.api.parking_data import API, new_garage, parked
from tests.database import REPO

OLD = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)
RECENT = datetime(2026, 3, 5, 8, 0, tzinfo=timezone.utc)
CUTOFF = "2026-02-15"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = start_server(tmp_path, env={"GARAGE_REPLICATION": "false"})
    yield live
    live.stop()


def totals(database: Path) -> dict[str, int]:
    """Verification, read with sqlite3 read-only: what must survive archiving."""
    if not database.exists():
        return {"sessions": 0, "completed": 0, "tickets": 0, "payments": 0, "fees": 0, "revenue": 0, "refunded": 0}
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        def one(sql: str) -> int:
            return int(connection.execute(sql).fetchone()[0])

        return {
            "sessions": one('SELECT count(*) FROM "Session"'),
            "completed": one("SELECT count(*) FROM \"Session\" WHERE status = 'COMPLETED'"),
            "tickets": one('SELECT count(*) FROM "Ticket"'),
            "payments": one('SELECT count(*) FROM "Payment"'),
            "fees": one('SELECT coalesce(sum("feeCents"), 0) FROM "Session"'),
            "revenue": one("SELECT coalesce(sum(\"amountCents\"), 0) FROM \"Payment\" WHERE status = 'COMPLETED'"),
            "refunded": one("SELECT coalesce(sum(\"amountCents\"), 0) FROM \"Payment\" WHERE status = 'REFUNDED'"),
        }
    finally:
        connection.close()


def combined(live: dict[str, int], archive: dict[str, int]) -> dict[str, int]:
    return {key: live[key] + archive[key] for key in live}


def archive(server: LiveServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "garage", "archive", *args], cwd=REPO, capture_output=True, text=True, timeout=300,
        env={**os.environ, "GARAGE_ENV": "test", "DATABASE_URL": f"file:{server.database}"},
    )


def park_and_leave(client: httpx.Client, garage_id: str, start: datetime, minutes: int) -> dict[str, object]:
    entry = parked(client, garage_id, at=start.isoformat())
    response = client.post(f"{API}/sessions/{entry['session']['id']}/check-out",
                           json={"paymentMethod": "CARD", "at": (start + timedelta(minutes=minutes)).isoformat()})
    assert response.status_code == 200, response.text
    return dict(response.json())


def usage(client: httpx.Client, garage_id: str, **params: str) -> list[dict[str, object]]:
    response = client.get(f"{API}/garages/{garage_id}/reports/usage",
                          params={"from": "2026-01-01T00:00:00Z", "to": "2026-04-01T00:00:00Z", **params})
    assert response.status_code == 200, response.text
    return list(response.json()["buckets"])


def test_archive_moves_old_completed_sessions_and_every_total_survives(server: LiveServer) -> None:
    admin = server.client(server.admin_key)
    garage_id, _ = new_garage(admin, [(0, str(n), "STANDARD") for n in range(1, 6)])
    old = [park_and_leave(admin, garage_id, OLD + timedelta(hours=i), 45 + 30 * i) for i in range(5)]
    recent = [park_and_leave(admin, garage_id, RECENT + timedelta(hours=i), 90) for i in range(2)]
    refund = admin.post(f"{API}/payments/{old[0]['payment']['id']}/refund")  # type: ignore[index]
    assert refund.status_code == 200, refund.text
    parked(admin, garage_id, at=OLD.isoformat())  # ACTIVE: never archived, however old
    archive_file = server.database.with_name("garage-archive.db")
    before = totals(server.database)
    report_before = usage(admin, garage_id)
    assert before["revenue"] > 0 and before["refunded"] > 0

    first = archive(server, "--before", CUTOFF, "--batch-size", "2")
    assert first.returncode == 0, first.stderr
    assert "archived 5 sessions" in first.stdout
    live_after, archived = totals(server.database), totals(archive_file)
    assert combined(live_after, archived) == before
    assert (archived["sessions"], live_after["sessions"]) == (5, 3)  # 2 recent + 1 active stay live
    assert stat.S_IMODE(archive_file.stat().st_mode) == 0o600
    for payment in (entry["payment"] for entry in old):
        assert admin.get(f"{API}/payments/{payment['id']}").status_code == 404  # type: ignore[index]
    for payment in (entry["payment"] for entry in recent):
        assert admin.get(f"{API}/payments/{payment['id']}").status_code == 200  # type: ignore[index]

    # the audit names sessions as the API does (Session), one ARCHIVE row per batch of 2
    archived_rows = admin.get(f"{API}/admin/audit", params={"entity": "Session", "limit": 200}).json()["items"]
    assert len([row for row in archived_rows if row["action"] == "ARCHIVE"]) == 3

    # reports: the live database alone lost January; with the archive the report is as before
    assert usage(admin, garage_id, includeArchive="true") == report_before
    assert usage(admin, garage_id) != report_before

    again = archive(server, "--before", CUTOFF)
    assert again.returncode == 0, again.stderr
    assert "archived 0 sessions" in again.stdout
    assert (totals(server.database), totals(archive_file)) == (live_after, archived)


def test_archive_refuses_a_date_it_cannot_read(server: LiveServer) -> None:
    result = archive(server, "--before", "2026-13-45")
    assert result.returncode != 0 and "2026-13-45" in result.stderr
