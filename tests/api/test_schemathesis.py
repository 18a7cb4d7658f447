"""Property-based run of the live /openapi.json (schemathesis): whatever the spec lets a client
send, the service answers without a 5xx, and as the document says: with a status the operation
lists, its media type, headers and a body its response schema accepts. Bounded for CI
(GARAGE_SCHEMATHESIS_EXAMPLES per operation); `GARAGE_SCHEMATHESIS_EXAMPLES=200 pytest
tests/api/test_schemathesis.py` is the larger run.

(schemathesis' own pytest plugin does not load under pytest 9, so operations are driven directly.)"""

from __future__ import annotations

import os
from typing import Any

import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance, response_headers_conformance, response_schema_conformance, status_code_conformance,
)
from hypothesis import HealthCheck, given, settings

from tests.api.conftest import LiveServer

EXAMPLES = int(os.environ.get("GARAGE_SCHEMATHESIS_EXAMPLES", "10"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]


def test_anything_the_spec_allows_is_answered_as_documented_without_server_errors(live: LiveServer) -> None:
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
            try:
                case.validate_response(response, checks=CHECKS)
            except FailureGroup as failed:
                failures.append(f"{case.method} {case.formatted_path} {case.query} {case.body!r:.200} -> "
                                f"{response.status_code} {response.text[:200]}: {failed}"[:2000])

        exercise()
    assert operations >= 20
    assert failures == []
