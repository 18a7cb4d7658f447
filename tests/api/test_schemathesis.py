"""Property-based run of the live /openapi.json (schemathesis): whatever the spec lets a client
send, the service answers without a 5xx. Bounded for CI (GARAGE_SCHEMATHESIS_EXAMPLES per
operation); `GARAGE_SCHEMATHESIS_EXAMPLES=200 pytest tests/api/test_schemathesis.py` is the larger run.

(schemathesis' own pytest plugin does not load under pytest 9, so operations are driven directly.)"""

from __future__ import annotations

import os
from typing import Any

import schemathesis
from schemathesis.core.result import Err
from hypothesis import HealthCheck, given, settings

from tests.api.conftest import LiveServer

EXAMPLES = int(os.environ.get("GARAGE_SCHEMATHESIS_EXAMPLES", "10"))


def test_no_server_errors_for_anything_the_spec_allows(live: LiveServer) -> None:
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        if isinstance(result, Err):  # the spec itself is broken: that error, not an AttributeError
            raise result.err()
        operation = result.ok()
        operations += 1

        @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def exercise(case: schemathesis.Case[Any]) -> None:
            response = case.call(headers={"Authorization": f"Bearer {live.admin_key}"})
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} {case.query} {case.body!r:.200} -> "
                                f"{response.status_code} {response.text[:200]}")

        exercise()
    assert operations >= 20
    assert failures == []
