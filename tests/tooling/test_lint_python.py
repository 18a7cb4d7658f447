"""The Python lint gate (`make lint-python`: ruff, configured in pyproject.toml [tool.ruff]): the tree
passes it, and its configuration still catches the kinds of bug it was chosen for, where it applies
(src/garage, bench/, seed.py) - so a config edit that quietly drops a rule group or the scope fails here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RUFF = Path(sys.executable).parent / "ruff"

# One bug per rule group the config selects on purpose; the probe is checked as if it were a module of
# src/garage (--stdin-filename), so the project's config and per-file ignores apply.
PROBE = '''\
import asyncio
import os
import time


async def wait() -> None:
    time.sleep(1)


def callbacks() -> list[object]:
    found = []
    for name in ("a", "b"):
        found.append(lambda: name)
    return found


def rows(table: str) -> str:
    return f"SELECT * FROM {table} WHERE id = 1"


def swallow() -> None:
    try:
        asyncio.get_running_loop()
    except Exception:
        pass
'''
EXPECTED = {"F401", "ASYNC251", "B023", "S608", "BLE001"}


def ruff(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(RUFF), *args], cwd=REPO, input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


def reported_codes(filename: str) -> set[str]:
    result = ruff("check", "--no-cache", "--output-format", "concise", "--stdin-filename", filename, "-", stdin=PROBE)
    return {line.split(" ", 2)[1] for line in result.stdout.splitlines() if line.startswith(filename + ":")}


def test_the_tree_passes_ruff_check_and_format() -> None:
    check = ruff("check", "--no-cache")
    assert check.returncode == 0, check.stdout + check.stderr
    layout = ruff("format", "--check", "--no-cache")
    assert layout.returncode == 0, layout.stdout + layout.stderr


def test_the_config_catches_what_its_rules_were_chosen_for() -> None:
    assert reported_codes("src/garage/lint_probe.py") >= EXPECTED


def test_benchmarks_may_build_sql_from_their_own_names_and_block_in_async_drivers() -> None:
    codes = reported_codes("bench/lint_probe.py")
    assert {"F401", "B023", "BLE001"} <= codes
    assert not codes & {"S608", "ASYNC251"}
