"""Prisma Studio 7.10.1 (tools/studio/run-studio) on a SQLite database, offline.

Needs tools/studio installed: `npm ci --prefix tools/studio && npm run --prefix tools/studio
build-native` (Prisma 7.10.1 and better-sqlite3 compiled from source; see tools/studio/README.md).

Studio's browser UI runs SQL through one HTTP endpoint of the Studio server, POST /bff
(`{"procedure": "query", "query": {"sql", "parameters"}}`, answered `[error, rows]`). The test
sends the UI's own requests (copied from what the page sends, @prisma/studio-core 0.33.0): the
introspection query that fills the table list, and the first page of a table.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
STUDIO_DIR = REPO_ROOT / "tools" / "studio"
RUN_STUDIO = STUDIO_DIR / "run-studio"
INSTALL_HINT = (
    "tools/studio is not installed: run `npm ci --prefix tools/studio && "
    "npm run --prefix tools/studio build-native` at the repository root"
)

# The table list: what Studio's UI (studio-core 0.33.0, SQLite adapter) sends first.
INTROSPECTION_SQL = (
    'select "tl"."name", "ss"."sql", (select coalesce(json_group_array(json_object('
    "'default', \"agg\".\"default\", 'name', \"agg\".\"name\", 'pk', \"agg\".\"pk\", "
    "'datatype', \"agg\".\"datatype\", 'fk_table', \"agg\".\"fk_table\", "
    "'fk_column', \"agg\".\"fk_column\", 'computed', \"agg\".\"computed\", "
    "'nullable', \"agg\".\"nullable\")), '[]') from (select \"txi\".\"dflt_value\" as \"default\", "
    '"txi"."name", "txi"."pk", "txi"."type" as "datatype", "fkl"."table" as "fk_table", '
    '"fkl"."to" as "fk_column", "txi"."hidden" in (?, ?) as "computed", '
    '"txi"."notnull" = ? as "nullable" from pragma_table_xinfo("tl"."name") as "txi" '
    'left join pragma_foreign_key_list("tl"."name") as "fkl" on "fkl"."from" = "txi"."name" '
    'where "txi"."hidden" != ?) as agg) as "columns" from pragma_table_list() as "tl" '
    'left join "sqlite_schema" as "ss" on "ss"."type" = "tl"."type" and "ss"."name" = "tl"."name" '
    'where "tl"."type" in (?, ?) and "tl"."schema" = ? and "tl"."name" not like ?'
)
INTROSPECTION_PARAMETERS = [2, 3, 0, 1, "table", "view", "main", "sqlite_%"]

# A table's first page, as the UI asks for it (rows plus the total count on every row).
PAGE_SQL = (
    'with "__ps_agg__" as (select cast(coalesce(count(*), 0) as text) as "__ps_count__" '
    'from "Vehicle" where true) select "__ps_agg__"."__ps_count__", "id", "plate" from "Vehicle" '
    'inner join "__ps_agg__" on true where true order by "id" asc limit ? offset 0'
)


def make_database(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")  # as the service runs its databases
        db.executescript(
            """
            CREATE TABLE Vehicle (id INTEGER PRIMARY KEY, plate TEXT NOT NULL UNIQUE);
            CREATE TABLE Ticket (
                id INTEGER PRIMARY KEY,
                vehicleId INTEGER NOT NULL REFERENCES Vehicle (id),
                amountCents INTEGER NOT NULL
            );
            INSERT INTO Vehicle (plate) VALUES ('AB123CD'), ('EF456GH');
            INSERT INTO Ticket (vehicleId, amountCents) VALUES (1, 450), (2, 1200), (1, 300);
            """
        )
    db.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bff(base: str, sql: str, parameters: list[Any]) -> list[dict[str, Any]]:
    response = httpx.post(
        f"{base}/bff",
        json={"procedure": "query", "query": {"sql": sql, "parameters": parameters}},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    error, rows = response.json()
    assert error is None, error
    assert isinstance(rows, list)
    return rows


@pytest.fixture
def studio(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """run-studio on a new database, started from an unrelated directory with a DATABASE_URL
    relative to the repository root; yields (base URL, database path) and stops it after."""
    if not (STUDIO_DIR / "node_modules" / "prisma" / "package.json").is_file():
        pytest.fail(INSTALL_HINT)
    database = tmp_path / "garage.db"
    make_database(database)
    port = free_port()
    relative = os.path.relpath(database, REPO_ROOT)
    env = {**os.environ, "DATABASE_URL": f"file:./{relative}?connection_limit=1"}
    log = tmp_path / "studio.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(RUN_STUDIO), "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            if proc.poll() is not None:
                pytest.fail(f"run-studio exited with {proc.returncode}:\n{log.read_text()}")
            try:
                if httpx.get(f"{base}/", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"Studio did not answer on {base} within 15 s:\n{log.read_text()}")
            time.sleep(0.1)
        yield base, database
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                pytest.fail(f"Studio did not stop within 10 s of SIGTERM:\n{log.read_text()}")


def test_studio_lists_tables_and_rows(studio: tuple[str, Path]) -> None:
    base, database = studio

    page = httpx.get(f"{base}/", timeout=10)
    assert '"adapter":"sqlite"' in page.text  # the UI is configured for SQLite
    assert httpx.get(f"{base}/studio.js", timeout=10).status_code == 200

    tables = {row["name"]: row for row in bff(base, INTROSPECTION_SQL, INTROSPECTION_PARAMETERS)}
    assert set(tables) == {"Vehicle", "Ticket"}
    ticket_columns = {c["name"]: c for c in json.loads(tables["Ticket"]["columns"])}
    assert list(ticket_columns) == ["id", "vehicleId", "amountCents"]
    assert ticket_columns["vehicleId"]["fk_table"] == "Vehicle"
    assert ticket_columns["id"]["pk"] == 1

    rows = bff(base, PAGE_SQL, [25])
    assert [(r["id"], r["plate"], r["__ps_count__"]) for r in rows] == [
        (1, "AB123CD", "2"),
        (2, "EF456GH", "2"),
    ]

    # Studio answers only its own page: a request from another origin is refused.
    foreign = httpx.post(
        f"{base}/bff",
        json={"procedure": "query", "query": {"sql": "select 1", "parameters": []}},
        headers={"Origin": "http://example.com"},
        timeout=10,
    )
    assert foreign.status_code == 403

    # It served the file the relative URL names (resolved against the repository root).
    with sqlite3.connect(database) as db:
        assert db.execute("select count(*) from Ticket").fetchone() == (3,)
    db.close()


def test_run_studio_refuses_a_missing_database(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    result = subprocess.run(
        [str(RUN_STUDIO), "--url", f"file://{missing}"],
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert f"no database file at {missing}" in result.stderr
    assert not missing.exists()  # Studio would have created an empty database
