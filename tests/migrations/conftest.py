"""Migration toolchain tests: the real `prisma` front door (tools/prisma, installed as
.venv/bin/prisma) running Prisma CLI 6.19.3 on the wasm schema engine, on real SQLite files in
temporary folders. No mocks. Each CLI run costs ~1 s (Node start): tests share a deployed
database file (copied, never written) where they can.

Helpers:
- `prisma(*args, db=..., ...)` runs a command and returns the CompletedProcess (text output).
- `deployed_db`: a database file on which `prisma migrate deploy` ran (session-wide, read-only:
  copy it with `copy_db` before writing).
- `migrations_copy(tmp_path)`: a scratch copy of prisma/migrations (for tests that add migrations;
  the CLI is pointed at it with GARAGE_MIGRATIONS_DIR).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from tests.database import copy_database

copy_db = copy_database  # for the migration tests (an assignment: mypy sees it exported)

REPO = Path(__file__).resolve().parents[2]
FRONT_DOOR = REPO / "tools" / "prisma"
MIGRATIONS = REPO / "prisma" / "migrations"
SCHEMA = REPO / "schema.prisma"
CLI_TIMEOUT_S = 120


def migration_names(folder: Path = MIGRATIONS) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if (p / "migration.sql").is_file())


def prisma(
    *args: str,
    db: Path | None = None,
    migrations: Path | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = CLI_TIMEOUT_S,
    check: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Runs the project's `prisma` command (tools/prisma) and captures its output."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("GARAGE_MIGRATE", "PRISMA_"))}
    full_env.pop("DATABASE_URL", None)
    full_env.pop("GARAGE_MIGRATIONS_DIR", None)
    full_env.pop("GARAGE_SEED_COMMAND", None)
    if db is not None:
        full_env["DATABASE_URL"] = f"file:{db}"
    if migrations is not None:
        full_env["GARAGE_MIGRATIONS_DIR"] = str(migrations)
    full_env.update(env or {})
    result = subprocess.run(
        [str(FRONT_DOOR), *args],
        cwd=cwd or REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"prisma {' '.join(args)} exited {result.returncode}:\n{output(result)}")
    return result


def output(result: subprocess.CompletedProcess[str]) -> str:
    return f"{result.stdout}\n{result.stderr}"




def schema_objects(db: Path) -> dict[str, str]:
    """`{"table:X" | "index:X": sql}` for every object that is not SQLite's own."""
    con = sqlite3.connect(db)
    try:
        rows = con.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name"
        ).fetchall()
    finally:
        con.close()
    return {f"{t}:{n}": s for t, n, s in rows}


@pytest.fixture(scope="session")
def deployed_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("deployed") / "garage.db"
    result = prisma("migrate", "deploy", db=db, check=True)
    assert "All migrations have been successfully applied" in result.stdout, output(result)
    return db


@pytest.fixture
def fresh_copy(deployed_db: Path, tmp_path: Path) -> Path:
    return copy_db(deployed_db, tmp_path / "copy.db")


@pytest.fixture
def migrations_copy(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, folder)
    yield folder
