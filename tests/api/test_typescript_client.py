"""The TypeScript client (clients/typescript, npm package @garage/client) against the real service:
its node tests (`npm test`: tsc, then node's test runner) talk HTTP to a server started here, named by
GARAGE_URL and GARAGE_ADMIN_API_KEY, including its event stream and a webhook to a receiver of theirs.
They also check that src/schema.ts is what docs/openapi.json generates, and webhook signatures against
ones Python's hmac computes (python3 on PATH)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable

import pytest

from tests.api.conftest import REPO, LiveServer

CLIENT = REPO / "clients" / "typescript"
# Every node test the suite has today (live calls, events and webhooks, the event stream against a
# scripted server, webhook signatures, GarageError parsing, paginate, generated code); fewer passing
# means some were not found or not run.
LEAST_TESTS = 44
NPM_LIMIT_S = 300
# The spec reporter starts its summary lines with U+2139 INFORMATION SOURCE.
INFO = "\u2139"


def npm_test(env: dict[str, str]) -> tuple[int, str]:
    npm = shutil.which("npm")
    assert npm is not None, "npm is not on PATH"
    if not (CLIENT / "node_modules" / ".package-lock.json").exists():
        pytest.fail("clients/typescript/node_modules is missing: run `make node_modules`")
    result = subprocess.run(
        [npm, "test", "--prefix", str(CLIENT)],
        cwd=REPO,
        # npm's update check would reach for the registry on every run.
        env={**env, "npm_config_update_notifier": "false"},
        capture_output=True,
        text=True,
        timeout=NPM_LIMIT_S,
    )
    return result.returncode, result.stdout + result.stderr


def summary(output: str, name: str) -> int:
    """A count from the closing lines of node's spec reporter (an information sign, then `pass 13`)."""
    found = re.search(rf"^{INFO} {name} (\d+)$", output, re.MULTILINE)
    assert found is not None, f"no '{name}' count in the test runner's output:\n{output}"
    return int(found.group(1))


def without_service(env: dict[str, str]) -> dict[str, str]:
    return {key: value for key, value in env.items() if key not in ("GARAGE_URL", "GARAGE_ADMIN_API_KEY")}


def test_typescript_client_against_a_live_service(make_server: Callable[..., LiveServer]) -> None:
    # test/live-webhooks.test.ts registers a receiver on 127.0.0.1 (allowed in the test environment
    # anyway: said here, so that the test does not hang on that default)
    server = make_server(env={"GARAGE_WEBHOOK_ALLOW_PRIVATE": "true"})
    code, output = npm_test(
        {**without_service(dict(os.environ)), "GARAGE_URL": server.url, "GARAGE_ADMIN_API_KEY": server.admin_key}
    )
    assert code == 0, output
    assert summary(output, "fail") == 0, output
    assert summary(output, "pass") >= LEAST_TESTS, output
    for name in ("skipped", "todo", "cancelled"):
        assert summary(output, name) == 0, output


def test_node_tests_fail_clearly_without_a_service() -> None:
    code, output = npm_test(without_service(dict(os.environ)))
    assert code != 0, output
    assert "GARAGE_URL is not set" in output, output
