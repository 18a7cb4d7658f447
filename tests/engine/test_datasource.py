"""Which SQLite file the engine opens, and with which settings."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import pytest

from conftest import (
    FIND_MANY_USERS, SCHEMA, EngineProcess, create_database, create_user_query, sqlite_url, user_emails_in_file,
)
from engine_test_client import Prisma

pytestmark = pytest.mark.asyncio(loop_scope="session")


def schema_with_url(url_line: str) -> str:
    text = SCHEMA.read_text()
    old = '  url      = env("DATABASE_URL")'
    assert old in text
    return text.replace(old, f"  {url_line}")


async def test_relative_url_resolves_against_the_schema_folder(
    spawn_engine: Callable[..., EngineProcess], tmp_path: Path
) -> None:
    schema_dir = tmp_path / "project" / "prisma"
    schema_dir.mkdir(parents=True)
    schema = schema_dir / "schema.prisma"
    schema.write_text(schema_with_url('url = "file:./data/relative.db"'))
    database = create_database(schema_dir / "data" / "relative.db")
    elsewhere = tmp_path / "somewhere-else"
    (elsewhere / "data").mkdir(parents=True)

    engine = spawn_engine(database=None, schema=schema, cwd=elsewhere)
    response = engine.graphql(create_user_query("relative@example.com")).json()
    assert response["data"]["result"]["email"] == "relative@example.com", response
    assert user_emails_in_file(database) == ["relative@example.com"]
    assert not (elsewhere / "data" / "relative.db").exists()


async def test_relative_env_url_resolves_against_the_schema_folder(
    spawn_engine: Callable[..., EngineProcess], tmp_path: Path
) -> None:
    schema_dir = tmp_path / "schema-home"
    schema_dir.mkdir()
    schema = schema_dir / "schema.prisma"
    schema.write_text(SCHEMA.read_text())
    database = create_database(schema_dir / "env-relative.db")
    engine = spawn_engine(database=None, schema=schema, cwd=tmp_path, env={"DATABASE_URL": "file:env-relative.db"})
    assert engine.graphql(create_user_query("env@example.com")).json()["data"]["result"]["email"] == "env@example.com"
    assert user_emails_in_file(database) == ["env@example.com"]
    assert not (tmp_path / "env-relative.db").exists()


async def test_overwrite_datasources_wins(
    spawn_engine: Callable[..., EngineProcess], new_database: Callable[..., Path]
) -> None:
    from_env = new_database("from-env.db")
    from_override = new_database("from-override.db")
    engine = spawn_engine(
        database=from_env,
        env={"OVERWRITE_DATASOURCES": json.dumps([{"name": "db", "url": sqlite_url(from_override)}])},
    )
    assert engine.graphql(create_user_query("override@example.com")).status_code == 200
    assert user_emails_in_file(from_override) == ["override@example.com"]
    assert user_emails_in_file(from_env) == []


async def test_client_datasource_argument_is_used(
    new_database: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prisma(datasource=...) reaches the engine as OVERWRITE_DATASOURCES, over DATABASE_URL."""
    target = new_database("target.db")
    decoy = new_database("decoy.db")
    monkeypatch.setenv("DATABASE_URL", sqlite_url(decoy))
    client = Prisma(datasource={"url": sqlite_url(target)})
    await client.connect()
    try:
        await client.user.create(data={"email": "target@example.com"})
    finally:
        await client.disconnect()
    assert user_emails_in_file(target) == ["target@example.com"]
    assert user_emails_in_file(decoy) == []


async def test_wal_mode_and_foreign_keys(client: Prisma, session_database: Path) -> None:
    # Inside a transaction raw queries run on the writer connection (outside, a raw query that only
    # reads runs on the reader, which is query_only).
    async with client.tx() as tx:
        assert await tx.query_raw("PRAGMA journal_mode") == [{"journal_mode": "wal"}]
        assert await tx.query_raw("PRAGMA foreign_keys") == [{"foreign_keys": 1}]
        # defaults: synchronous FULL (2); no SQLite busy handler on the writer: it waits for another
        # process's lock on a timer instead (test_a_write_waits_for_another_process_without_blocking_reads)
        assert await tx.query_raw("PRAGMA synchronous") == [{"synchronous": 2}]
        assert await tx.query_raw("PRAGMA busy_timeout") == [{"timeout": 0}]
    assert await client.query_raw("PRAGMA query_only") == [{"query_only": 1}]  # the reader
    # WAL is a property of the file: another connection sees it too
    con = sqlite3.connect(session_database)
    try:
        assert con.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        con.close()


async def test_foreign_keys_are_enforced(client: Prisma) -> None:
    with pytest.raises(Exception, match="FOREIGN KEY constraint failed"):
        await client.execute_raw(
            "INSERT INTO Profile (id, bio, userId, updatedAt) VALUES ('p', 'b', 424242, '2024-01-01T00:00:00.000+00:00')"
        )
    assert await client.profile.count() == 0


async def test_sqlite_settings_from_the_environment(
    spawn_engine: Callable[..., EngineProcess], new_database: Callable[..., Path]
) -> None:
    engine = spawn_engine(
        database=new_database(), env={"ENGINE_SQLITE_SYNCHRONOUS": "normal", "ENGINE_BUSY_TIMEOUT_MS": "1234"}
    )

    def pragma(name: str) -> object:
        query = 'mutation {\n  result: queryRaw(query: "PRAGMA ' + name + '", parameters: "[]")\n}'
        body = engine.graphql(query).json()
        assert "errors" not in body, body
        return body["data"]["result"]

    assert "1" in json.dumps(pragma("synchronous"))  # NORMAL = 1
    assert "wal" in json.dumps(pragma("journal_mode"))


async def test_a_write_waits_for_another_process_without_blocking_reads(
    spawn_engine: Callable[..., EngineProcess], new_database: Callable[..., Path]
) -> None:
    """While another process holds the write lock, a write waits up to ENGINE_BUSY_TIMEOUT_MS and
    then fails as a timeout (P1008, which the service retries); meanwhile the engine keeps
    answering reads (SQLite's own busy handler would sleep inside the call and stop it); and once
    the lock is free the write goes through."""
    database = new_database()
    engine = spawn_engine(database=database, env={"ENGINE_BUSY_TIMEOUT_MS": "1500"})
    assert engine.graphql(create_user_query("before@example.com")).status_code == 200
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with ThreadPoolExecutor(1) as pool:
            started = time.monotonic()
            blocked_write = pool.submit(engine.graphql, create_user_query("blocked@example.com"))
            time.sleep(0.2)
            read_started = time.monotonic()
            read = engine.graphql(FIND_MANY_USERS)
            read_seconds = time.monotonic() - read_started
            answer = blocked_write.result(timeout=30).json()
            write_seconds = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert read.json()["data"]["result"] == [{"id": 1, "email": "before@example.com"}]
    assert read_seconds < 0.5, read_seconds  # answered while the write was waiting
    assert 1.4 < write_seconds < 10, write_seconds
    assert "P1008" in json.dumps(answer) or "timed out" in json.dumps(answer).lower(), answer
    assert engine.graphql(create_user_query("after@example.com")).json()["data"]["result"]["email"] == "after@example.com"
    assert user_emails_in_file(database) == ["before@example.com", "after@example.com"]


async def test_database_file_is_created_if_missing(
    spawn_engine: Callable[..., EngineProcess], tmp_path: Path
) -> None:
    """A missing file is created (empty): queries then fail with "no such table", the engine stays up."""
    missing = tmp_path / "missing.db"
    engine = spawn_engine(database=missing)
    assert missing.exists()
    body = engine.graphql(create_user_query("x@example.com")).json()
    assert body["errors"][0]["user_facing_error"]["error_code"] == "P2021"
    assert engine.http.get("/status").json() == {"status": "ok"}


@pytest.mark.parametrize(
    "env",
    [
        {"DATABASE_URL": "postgresql://localhost/db"},
        {"DATABASE_URL": "file::memory:"},
        {"DATABASE_URL": ""},
        {"OVERWRITE_DATASOURCES": "not json"},
    ],
    ids=["postgres", "memory", "empty", "bad-override"],
)
async def test_unusable_datasource_refuses_to_start(tmp_path: Path, env: dict[str, str]) -> None:
    with pytest.raises(RuntimeError, match="exited"):
        EngineProcess(workdir=tmp_path, database=None, env=env)


async def test_the_engine_starts_while_another_process_holds_the_database(
    spawn_engine: Callable[..., EngineProcess], new_database: Callable[..., Path]
) -> None:
    """A new file is switched to WAL at start, which needs the database to itself: an engine that
    starts while another process holds a lock on it (another uvicorn worker's engine starting at
    the same moment, a migration) waits for the lock instead of exiting."""
    database = new_database()  # not in WAL mode yet
    holder = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    def release() -> None:
        holder.execute("ROLLBACK")
        holder.close()

    released = threading.Timer(1.0, release)
    released.start()
    started = time.monotonic()
    try:
        engine = spawn_engine(database=database)
    finally:
        released.join()
    assert time.monotonic() - started >= 0.9  # it waited for the lock ...
    assert engine.alive()  # ... and serves
    assert engine.graphql(create_user_query("late@example.com")).json()["data"]["result"]["email"] == "late@example.com"
    con = sqlite3.connect(database)
    try:
        assert con.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        con.close()
