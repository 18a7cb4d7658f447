"""The one `prisma` command (tools/prisma, installed as .venv/bin/prisma by `make venv`): each
command reaches the CLI that can run it, from any directory, with one meaning for relative URLs."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.migrations.conftest import CLI_TIMEOUT_S, FRONT_DOOR, REPO, migration_names, output, prisma


def test_the_venv_prisma_is_the_front_door() -> None:
    installed = REPO / ".venv" / "bin" / "prisma"
    if not installed.exists():
        pytest.skip("no .venv (run `make venv`)")
    text = installed.read_text()
    assert "garage prisma front door" in text and str(FRONT_DOOR) in text


def test_py_commands_reach_prisma_client_python(tmp_path: Path) -> None:
    result = prisma("py", "version", cwd=tmp_path)
    assert result.returncode == 0, output(result)
    lines = {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in result.stdout.splitlines() if ":" in line)}
    assert lines["prisma client python"] == "0.15.0"
    assert lines["prisma"] == "5.17.0"  # the CLI its generator runs under


def test_schema_commands_reach_prisma_6_from_any_directory(tmp_path: Path) -> None:
    result = prisma("validate", cwd=tmp_path)
    assert result.returncode == 0, output(result)
    assert "is valid" in result.stdout
    assert "prisma.config.ts" in result.stderr  # Loaded Prisma config from .../prisma.config.ts


def test_relative_sqlite_urls_are_relative_to_the_repository_root(tmp_path: Path) -> None:
    """file:./x.db means <repo>/x.db (where schema.prisma is), as for Prisma's and our engine,
    whatever the current directory (the adapter alone would use the current directory)."""
    name = f"build/test-relative-{uuid.uuid4().hex}.db"
    (REPO / "build").mkdir(exist_ok=True)
    try:
        result = prisma("migrate", "deploy", cwd=tmp_path, env={"DATABASE_URL": f"file:./{name}"})
        assert result.returncode == 0, output(result)
        assert (REPO / name).is_file()
        assert not (tmp_path / name).exists()
        con = sqlite3.connect(REPO / name)
        try:
            assert [r[0] for r in con.execute("SELECT migration_name FROM _prisma_migrations")] == migration_names()
        finally:
            con.close()
    finally:
        for suffix in ("", "-wal", "-shm", "-journal"):
            (REPO / f"{name}{suffix}").unlink(missing_ok=True)


def test_dotenv_supplies_the_database_url(tmp_path: Path) -> None:
    """With no DATABASE_URL in the environment the config reads .env (development default)."""
    env_file = (REPO / ".env").read_text()
    assert 'DATABASE_URL="file:./dev.db"' in env_file
    assert "GARAGE_ADMIN_API_KEY" in env_file and "DEV ONLY" in env_file
    result = prisma("validate", cwd=tmp_path)  # DATABASE_URL unset: the schema's env() must resolve
    assert result.returncode == 0, output(result)


def test_studio_goes_to_tools_studio() -> None:
    if not (REPO / "tools" / "studio" / "run-studio").exists():
        pytest.skip("tools/studio/run-studio not in this checkout")
    result = prisma("studio", "--help")
    assert result.returncode == 0, output(result)
    assert "run-studio" in result.stdout


def test_make_migrate_deploys_to_database_url(tmp_path: Path) -> None:
    db = tmp_path / "make.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PRISMA_", "GARAGE_", "MAKE"))}
    env["DATABASE_URL"] = f"file:{db}"
    result = subprocess.run(["make", "--no-print-directory", "migrate"], cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, output(result)
    assert "All migrations have been successfully applied" in result.stdout
    con = sqlite3.connect(db)
    try:
        assert [r[0] for r in con.execute("SELECT migration_name FROM _prisma_migrations")] == migration_names()
    finally:
        con.close()


def test_dotenv_is_read_by_dotenv_and_the_environment_wins(tmp_path: Path) -> None:
    """tools/prisma reads .env with the npm dotenv package (as prisma.config.ts does): quoted values
    keep their `#` and spaces, comments are dropped, and variables already set win over the file.
    Seen through `prisma studio` in a scratch checkout whose run-studio prints what it received."""
    (tmp_path / "tools" / "studio").mkdir(parents=True)
    shutil.copy2(FRONT_DOOR, tmp_path / "tools" / "prisma")
    (tmp_path / "node_modules").symlink_to(REPO / "node_modules")
    run_studio = tmp_path / "tools" / "studio" / "run-studio"
    run_studio.write_text("#!/usr/bin/env bash\nenv -0\n")
    run_studio.chmod(0o755)
    (tmp_path / ".env").write_text(
        "# a comment line\n"
        "DOTENV_PLAIN=plain # a trailing comment\n"
        'DOTENV_DOUBLE="spaces # and a hash"\n'
        "DOTENV_SINGLE='$HOME is not expanded'\n"
        "DOTENV_APOSTROPHE=\"it's\"\n"
        'DOTENV_NEWLINE="one\\ntwo"\n'
        "DOTENV_SET=from-the-file\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOTENV_")}
    env["DOTENV_SET"] = "from-the-environment"
    result = subprocess.run([str(tmp_path / "tools" / "prisma"), "studio"], env=env, capture_output=True,
                            text=True, timeout=CLI_TIMEOUT_S, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, output(result)
    received = dict(entry.split("=", 1) for entry in result.stdout.split("\0") if entry.startswith("DOTENV_"))
    assert received == {
        "DOTENV_PLAIN": "plain",
        "DOTENV_DOUBLE": "spaces # and a hash",
        "DOTENV_SINGLE": "$HOME is not expanded",
        "DOTENV_APOSTROPHE": "it's",
        "DOTENV_NEWLINE": "one\ntwo",
        "DOTENV_SET": "from-the-environment",
    }
