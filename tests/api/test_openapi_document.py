"""The OpenAPI document (routes/openapi.py) as clients consume it: GET /openapi.json is valid
OpenAPI 3.1, docs/openapi.json is exactly what is served (`make openapi` writes it), every
operation is named, tagged and exemplified, its responses are the ones it can give, and what the
service really answers conforms to what the document says."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import OpenAPIV31SpecValidator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from garage.errors import GarageError
from garage.routes.api import ENDPOINTS
from garage.routes.openapi import TAGS, render
from garage.vocabulary import (
    PaymentMethod, PaymentStatus, Role, SessionStatus, SpotStatus, SpotType, TicketStatus, VehicleType,
)
from tests.api.conftest import REPO, LiveServer
from tests.api.parking_data import API, new_garage, new_plate

COMMITTED = REPO / "docs" / "openapi.json"
JSON = "application/json; charset=utf-8"
METHODS = ("get", "put", "post", "delete", "patch")
VOCABULARY = (SpotType, SpotStatus, VehicleType, SessionStatus, TicketStatus, PaymentMethod, PaymentStatus, Role)
# Names the API gives its timestamps (API.md: createdAt, startTime, ...; the query's from/to/at).
TIMESTAMP_NAME = re.compile(r"^(at|from|to|start|activeAt|validFrom|validTo)$|[a-z](At|Time)$")


@pytest.fixture(scope="module")
def spec(anonymous: httpx.Client) -> dict[str, Any]:
    response = anonymous.get("/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def schemas_in(value: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object in `value` that is a schema, with where it is (a JSON pointer of sorts)."""
    if isinstance(value, dict):
        if "type" in value or "$ref" in value or "anyOf" in value or "oneOf" in value or "enum" in value:
            yield where, value
        for key, item in value.items():
            yield from schemas_in(item, f"{where}/{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from schemas_in(item, f"{where}/{index}")


def conformance(spec: dict[str, Any], schema: dict[str, Any]) -> Any:
    """A validator of `schema` (which may $ref the document's components), with formats checked."""
    registry: Registry[Any] = Registry().with_resource(
        "urn:garage-openapi", Resource.from_contents(spec, default_specification=DRAFT202012))
    if "$ref" in schema:
        schema = {"$ref": "urn:garage-openapi" + schema["$ref"]}
    return OAS31Validator(schema, registry=registry, format_checker=OAS31Validator.FORMAT_CHECKER)


def assert_conforms(spec: dict[str, Any], method: str, template: str, response: httpx.Response) -> None:
    """`response` is one the document declares for the operation, with a body its schema accepts."""
    declared = spec["paths"][template][method]["responses"]
    assert str(response.status_code) in declared, (method, template, response.status_code, response.text)
    content = declared[str(response.status_code)].get("content")
    if content is None:
        assert response.content == b"", (method, template)
        return
    assert response.headers["content-type"] == JSON, (method, template)
    errors = [error.message for error in conformance(spec, content["application/json"]["schema"])
              .iter_errors(response.json())]
    assert errors == [], (method, template, response.text[:500])


def test_the_served_document_is_valid_openapi_3_1(spec: dict[str, Any]) -> None:
    assert spec["openapi"] == "3.1.0"
    OpenAPIV31SpecValidator(spec).validate()
    assert spec["info"]["version"]


def test_the_committed_document_is_what_the_service_serves(spec: dict[str, Any]) -> None:
    assert COMMITTED.read_text(encoding="utf-8") == render(spec), (
        "docs/openapi.json differs from what GET /openapi.json serves: run `make openapi` and commit the result")


def test_make_openapi_writes_the_served_document_without_a_server(spec: dict[str, Any], tmp_path: Path) -> None:
    written = tmp_path / "openapi.json"
    subprocess.run([sys.executable, "-m", "garage.routes.openapi", str(written)], cwd=REPO, check=True,
                   env={"PATH": "/usr/bin:/bin"}, timeout=60)
    text = written.read_text(encoding="utf-8")
    assert text == render(spec) and text.endswith("}\n") and json.loads(text) == spec


def test_every_operation_is_named_tagged_and_described(spec: dict[str, Any]) -> None:
    ids = [operation.get("operationId") for _, _, operation in operations(spec)]
    assert len(ids) == len(set(ids)) == len(ENDPOINTS) + 4  # /health, /ready, /metrics, /openapi.json
    assert all(ep.operation_id for ep in ENDPOINTS), [ep.handler.__name__ for ep in ENDPOINTS if not ep.operation_id]
    for _, _, operation in operations(spec):
        assert re.fullmatch(r"(get|list|create|update|replace|delete|revoke|refund|check|stream|void)[A-Z][A-Za-z]*",
                            operation["operationId"]), operation["operationId"]
        assert operation["summary"] and operation["description"]
    assert {"checkIn", "checkOut", "listSessions", "getGarage", "createSpots"} <= set(ids)
    described = {tag["name"]: tag["description"] for tag in spec["tags"]}
    assert described == TAGS
    assert {tag for _, _, operation in operations(spec) for tag in operation["tags"]} == set(described)


def test_every_schema_is_a_named_component(spec: dict[str, Any]) -> None:
    text = json.dumps(spec)
    assert "$defs" not in text
    components = spec["components"]["schemas"]
    for ref in re.findall(r'"\$ref": "([^"]+)"', text):
        assert ref.startswith("#/components/schemas/") and ref.split("/")[-1] in components, ref
    for name, schema in components.items():
        assert schema["title"] == name and schema.get("description"), name
        assert not re.search(r"_|Out$|In$", name), f"{name}: a name for readers of the document, not a class name"


def test_properties_have_no_generated_titles(spec: dict[str, Any]) -> None:
    titled = [where for where, schema in schemas_in(spec) if "title" in schema
              and not re.fullmatch(r"/components/schemas/\w+", where)]
    assert titled == []


def test_enums_are_components_named_after_the_vocabulary(spec: dict[str, Any]) -> None:
    components = spec["components"]["schemas"]
    for enum in VOCABULARY:
        assert components[enum.__name__]["enum"] == [member.value for member in enum], enum
        assert components[enum.__name__]["type"] == "string"
    values = {frozenset(member.value for member in enum) for enum in VOCABULARY}
    inline = [where for where, schema in schemas_in(spec) if "enum" in schema
              and frozenset(schema["enum"]) in values and not re.fullmatch(r"/components/schemas/\w+", where)]
    assert inline == [], "a vocabulary enum is written out instead of referenced"


def test_every_timestamp_is_a_date_time(spec: dict[str, Any]) -> None:
    found = 0
    for where, schema in schemas_in(spec):
        for name, prop in schema.get("properties", {}).items():
            if TIMESTAMP_NAME.search(name):
                assert prop.get("format") == "date-time", f"{where}/properties/{name}"
                found += 1
            elif prop.get("format") == "date-time":
                pytest.fail(f"{where}/properties/{name} is a date-time without a timestamp's name")
    for path, method, operation in operations(spec):
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query" and TIMESTAMP_NAME.search(parameter["name"]):
                assert parameter["schema"].get("format") == "date-time", (method, path, parameter["name"])
                found += 1
    assert found >= 25


def test_request_bodies_have_examples_the_service_accepts(spec: dict[str, Any]) -> None:
    bodies = 0
    for path, method, operation in operations(spec):
        if "requestBody" not in operation:
            continue
        bodies += 1
        media = operation["requestBody"]["content"]["application/json"]
        assert "example" in media, (method, path)
        assert list(conformance(spec, media["schema"]).iter_errors(media["example"])) == [], (method, path)
        # and the service's own parser takes it, as it parses a body (routes/endpoint.py parse_body)
        model = next(ep.body for ep in ENDPOINTS if (f"{API}{ep.path}", ep.method.lower()) == (path, method))
        assert model is not None
        model.model_validate_json(json.dumps(media["example"]), strict=True)
    assert bodies == sum(1 for ep in ENDPOINTS if ep.body is not None) >= 11


def test_optional_request_fields_are_not_required(spec: dict[str, Any]) -> None:
    components = spec["components"]["schemas"]
    # the regression clients met: generated types made these required
    assert components["CheckInRequest"]["required"] == ["licensePlate"]
    assert components["CheckOutRequest"]["required"] == ["paymentMethod"]
    assert components["CreateSpotRequest"]["required"] == ["level", "number", "type"]
    for ep in ENDPOINTS:
        if ep.body is None or "root" in ep.body.model_fields:
            continue
        schema = components[ep.body.model_config.get("title") or ep.body.__name__]
        required = {info.alias or name for name, info in ep.body.model_fields.items() if info.is_required()}
        assert set(schema.get("required", [])) == required, ep.body
        # openapi-typescript makes a property with a `default` required in what it generates
        assert [name for name, prop in schema["properties"].items() if "default" in prop] == [], ep.body


def test_response_fields_are_always_present_and_nulls_are_typed(spec: dict[str, Any]) -> None:
    components = spec["components"]["schemas"]
    responses = {ep.response.model_config.get("title") or ep.response.__name__ for ep in ENDPOINTS
                 if ep.response is not None and "root" not in ep.response.model_fields}
    nullable = 0
    for name in responses:
        schema = components[name]
        assert set(schema["required"]) == set(schema["properties"]), name
        for prop in schema["properties"].values():
            nullable += isinstance(prop.get("type"), list)
            # a nullable scalar is `type: [X, "null"]`; anyOf stays only for a nullable reference
            assert all("$ref" in variant or variant == {"type": "null"} for variant in prop.get("anyOf", [])), name
    assert components["Session"]["properties"]["endTime"]["type"] == ["string", "null"]
    assert nullable >= 5


def _error_classes(cls: type[GarageError]) -> list[type[GarageError]]:
    return [sub for child in cls.__subclasses__() for sub in (child, *_error_classes(child))]


ERROR_STATUS = {cls.code: cls.status for cls in _error_classes(GarageError)}


def test_each_operation_lists_exactly_the_errors_it_can_give(spec: dict[str, Any]) -> None:
    declared = {(f"{API}{ep.path}", ep.method.lower()): ep for ep in ENDPOINTS}
    for path, method, operation in operations(spec):
        responses = operation["responses"]
        ep = declared.get((path, method))
        if ep is None:  # the service endpoints need no key
            assert operation["security"] == [] and "401" not in responses, path
            continue
        assert operation["security"] == [{"bearerAuth": []}]
        errors = {status for status in responses if int(status) >= 400}
        expected = {"400", "401", "429", "503"}
        # a key below the role, or a validator key where the endpoint does not admit one
        expected |= {"403"} if not (ep.role is Role.VIEWER and ep.admits_validator) else set()
        expected |= {"404"} if "NOT_FOUND" in ep.errors else set()
        # contract codes without a class of their own are 409 CONFLICT's (GarageError subclasses say theirs)
        expected |= {str(ERROR_STATUS.get(code, 409)) for code in ep.errors if code not in ("NOT_FOUND", "INSUFFICIENT_STORAGE")}
        expected |= {"413"} if ep.body is not None else set()
        expected |= {str(status) for status in ep.responses}
        assert errors == expected, (method, path)
        if "{" in path:  # a path id can always miss (a NUL in it too)
            assert "404" in responses, (method, path)
        if "409" in responses:
            assert responses["409"]["description"] == " | ".join(
                code for code in ep.errors if code not in ("NOT_FOUND", "INSUFFICIENT_STORAGE"))
        for status in ("429", "503"):
            assert "Retry-After" in responses[status]["headers"], (method, path, status)
        assert responses["429"]["description"].startswith("RATE_LIMITED")
        for status in errors:  # one error envelope for all
            assert responses[status]["content"] == {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    assert "507" in spec["paths"][f"{API}/admin/backups"]["post"]["responses"]
    assert [path for path, method, operation in operations(spec) if "507" in operation["responses"]] == [
        f"{API}/admin/backups"]


@pytest.fixture(scope="module")
def parked_and_paid(admin: httpx.Client) -> dict[str, str]:
    """Ids of one of everything, made through the API: a garage with spots, a vehicle, an active
    session and a completed one with its payment (refunded) and ticket, an API key."""
    garage_id, spots = new_garage(admin, [(1, "1", "STANDARD"), (1, "2", "STANDARD")])
    vehicle = admin.post(f"{API}/vehicles", json={"licensePlate": new_plate(), "type": "CAR"}).json()
    active = admin.post(f"{API}/garages/{garage_id}/check-in", json={"licensePlate": vehicle["licensePlate"]}).json()
    done = admin.post(f"{API}/garages/{garage_id}/check-in",
                      json={"licensePlate": new_plate(), "vehicleType": "CAR"}).json()
    paid = admin.post(f"{API}/sessions/{done['session']['id']}/check-out", json={"paymentMethod": "CASH"}).json()
    admin.post(f"{API}/payments/{paid['payment']['id']}/refund")
    key = admin.post(f"{API}/admin/api-keys", json={"name": f"doc {uuid.uuid4().hex[:6]}", "role": "viewer"}).json()
    hook = admin.post(f"{API}/admin/webhooks", json={"url": "http://127.0.0.1:9/doc"}).json()
    permit = admin.post(f"{API}/garages/{garage_id}/permits", json={
        "licensePlate": new_plate(), "validFrom": "2026-01-01T00:00:00Z", "validTo": "2026-02-01T00:00:00Z"}).json()
    validator = admin.post(f"{API}/garages/{garage_id}/validators",
                           json={"name": "Doc cafe", "kind": "FULL"}).json()
    return {"garages": garage_id, "spots": spots["1/1"], "vehicles": vehicle["id"], "sessions": active["session"]["id"],
            "tickets": paid["ticket"]["code"], "payments": paid["payment"]["id"], "api-keys": key["id"],
            "webhooks": hook["id"], "permits": permit["id"], "validators": validator["id"],
            "plate": active["session"]["licensePlate"]}


def test_every_read_answers_as_documented(spec: dict[str, Any], admin: httpx.Client,
                                          parked_and_paid: dict[str, str]) -> None:
    checked = streams = 0
    for template, method, operation in operations(spec):
        if method != "get" or not template.startswith(API):
            continue
        if "text/event-stream" in operation["responses"]["200"].get("content", {}):
            streams += 1  # never ends: tests/api/test_event_stream.py reads it
            continue
        path = re.sub(r"([\w-]+)/\{\w+\}", lambda m: f"{m[1]}/{parked_and_paid[m[1]]}", template)
        params = {"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"} if "reports" in template else {}
        if template.endswith("/garages/{id}/quote"):  # quote by plate: the active session's
            params = {"licensePlate": parked_and_paid["plate"]}
        response = admin.get(path, params=params)
        assert response.status_code == 200, (template, response.text)
        assert_conforms(spec, method, template, response)
        checked += 1
    assert checked + streams == sum(1 for ep in ENDPOINTS if ep.method == "GET") and streams == 1


def test_writes_and_errors_answer_as_documented(spec: dict[str, Any], admin: httpx.Client, viewer: httpx.Client,
                                                anonymous: httpx.Client) -> None:
    garage = admin.post(f"{API}/garages", json={"name": "doc", "address": "1 Doc Road", "capacity": 3})
    assert_conforms(spec, "post", f"{API}/garages", garage)
    garage_id = garage.json()["id"]
    one = admin.post(f"{API}/garages/{garage_id}/spots", json={"level": 0, "number": "1", "type": "LARGE"})
    bulk = admin.post(f"{API}/garages/{garage_id}/spots", json={"spots": [{"level": 0, "number": "2", "type": "EV"}]})
    for response in (one, bulk):
        assert_conforms(spec, "post", f"{API}/garages/{{id}}/spots", response)
    checked_in = admin.post(f"{API}/garages/{garage_id}/check-in", json={"licensePlate": new_plate(), "vehicleType": "VAN"})
    assert_conforms(spec, "post", f"{API}/garages/{{id}}/check-in", checked_in)
    ticket = checked_in.json()["ticket"]["code"]
    checked_out = admin.post(f"{API}/tickets/{ticket}/check-out", json={"paymentMethod": "CARD", "lostTicket": True})
    assert_conforms(spec, "post", f"{API}/tickets/{{code}}/check-out", checked_out)
    assert_conforms(spec, "delete", f"{API}/spots/{{id}}", admin.delete(f"{API}/spots/{one.json()['id']}"))
    # errors, each with the envelope and a status the operation declares
    assert_conforms(spec, "post", f"{API}/garages", admin.post(f"{API}/garages", json={"capacity": "3"}))
    assert_conforms(spec, "get", f"{API}/garages/{{id}}", admin.get(f"{API}/garages/nope"))
    assert_conforms(spec, "get", f"{API}/garages", anonymous.get(f"{API}/garages"))
    assert_conforms(spec, "post", f"{API}/garages", viewer.post(f"{API}/garages", json={}))
    full = admin.post(f"{API}/garages/{garage_id}/check-in", json={"licensePlate": new_plate(), "vehicleType": "VAN"})
    assert full.status_code == 409
    assert_conforms(spec, "post", f"{API}/garages/{{id}}/check-in", full)
    assert_conforms(spec, "post", f"{API}/sessions/{{id}}/check-out",
                    admin.post(f"{API}/sessions/{checked_out.json()['session']['id']}/check-out",
                               json={"paymentMethod": "CASH"}))


def test_the_service_endpoints_answer_as_documented(spec: dict[str, Any], anonymous: httpx.Client) -> None:
    for path in ("/health", "/ready"):
        assert_conforms(spec, "get", path, anonymous.get(path))
    assert anonymous.get("/metrics").headers["content-type"].startswith("text/plain")


def test_every_json_answer_names_its_charset(live: LiveServer, admin: httpx.Client, anonymous: httpx.Client) -> None:
    answers = {
        "a route's JSON": admin.get(f"{API}/garages"),
        "an error of a route": admin.get(f"{API}/garages/nope"),
        "an unknown path": anonymous.get("/nowhere"),
        "a method not allowed": anonymous.delete("/health"),
        "the body size limit": admin.post(f"{API}/garages", content=b"x" * (1024 * 1024 + 1)),
        "/health": anonymous.get("/health"),
        "/ready": anonymous.get("/ready"),
        "/openapi.json": anonymous.get("/openapi.json"),
        # written by the HTTP server itself (routes/http_protocol.py), before any route
        "a request target too long": httpx.get(f"{live.url}/{'x' * 9000}"),
    }
    assert {name: response.headers["content-type"] for name, response in answers.items()} == dict.fromkeys(answers, JSON)
    assert [response.status_code for response in answers.values()] == [200, 404, 404, 405, 413, 200, 200, 200, 414]
