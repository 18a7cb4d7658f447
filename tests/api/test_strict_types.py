"""Request bodies are parsed strictly: each field must arrive as the JSON type the OpenAPI document
names (no "100" for an integer, no true for an integer, no 1 for a boolean, no number for a string),
and a timestamp, in a body or a query, is an ISO 8601 string, never a number (which pydantic would
otherwise read as seconds since 1970). Query strings are text and stay parsed from text (limit=10).

The walkers take every operation from the served document, so an endpoint added later is covered
without being listed here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.parking_data import API, new_garage, new_plate

ISO = "2020-01-31T08:00:00Z"
UNIX = 1580457600  # the same instant, as pydantic would read a number


@pytest.fixture(scope="module")
def spec(anonymous: httpx.Client) -> dict[str, Any]:
    return dict(anonymous.get("/openapi.json").json())


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].split("/")[-1]]
    return schema


def scalar_type(spec: dict[str, Any], prop: dict[str, Any]) -> str | None:
    """"date-time", "integer", "boolean" or "string" for a property of that JSON type (nullable or
    not; enums are strings), else None (arrays, objects)."""
    variants = [resolve(spec, v) for v in prop.get("anyOf", [prop]) if v != {"type": "null"}]
    if len(variants) != 1:
        return None
    schema = resolve(spec, variants[0])
    kinds = [kind for kind in ([schema["type"]] if isinstance(schema.get("type"), str) else schema.get("type", []))
             if kind != "null"]
    if kinds == ["string"] and schema.get("format") == "date-time":
        return "date-time"
    return kinds[0] if kinds and kinds[0] in ("integer", "boolean", "string") else None


# For each JSON type, values of other JSON types that a lax parser would coerce into it.
WRONG: dict[str, list[Any]] = {
    "date-time": [UNIX, float(UNIX), True, str(UNIX)],
    "integer": ["100", True, 1.5, 100.0],
    "boolean": [1, 0, "true"],
    "string": [1, True],
}


def body_operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """(method, path with its ids filled in, the example body, the properties of the example's schema)."""
    for template, item in spec["paths"].items():
        for method, operation in item.items():
            if "requestBody" not in operation:
                continue
            media = operation["requestBody"]["content"]["application/json"]
            schema = resolve(spec, media["schema"])
            if "oneOf" in schema:  # the branch the example is (a bulk body or one spot)
                schema = next(branch for branch in map(lambda v: resolve(spec, v), schema["oneOf"])
                              if set(media["example"]) <= set(branch["properties"]))
            yield method, template.replace("{id}", "no-such-id").replace("{code}", "NOSUCHCODE"), \
                dict(media["example"]), schema["properties"]


def assert_refused(response: httpx.Response, field: str, sent: Any) -> None:
    assert response.status_code == 400, (field, sent, response.status_code, response.text)
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert field in error["details"]["fields"], (field, sent, error)


def test_every_body_field_takes_only_its_own_json_type(spec: dict[str, Any], admin: httpx.Client) -> None:
    tried: set[str] = set()
    for method, path, example, properties in body_operations(spec):
        for name, prop in properties.items():
            kind = scalar_type(spec, prop)
            for sent in WRONG.get(kind or "", []):
                response = admin.request(method, path, json={**example, name: sent})
                assert_refused(response, name, sent)
                tried.add(f"{kind}")
    assert tried == set(WRONG)


def test_every_timestamp_in_a_body_or_a_query_must_be_iso_text(spec: dict[str, Any], admin: httpx.Client) -> None:
    """The generic walk over the document: each date-time body field and query parameter, sent as
    a number (or a string of digits), is 400 naming it."""
    refused = []
    for method, path, example, properties in body_operations(spec):
        for name, prop in properties.items():
            if scalar_type(spec, prop) == "date-time":
                for sent in (UNIX, str(UNIX)):
                    assert_refused(admin.request(method, path, json={**example, name: sent}), name, sent)
                refused.append(f"{method} {path} {name}")
                # the same body with an ISO timestamp is past this field's validation: the unknown id, or a
                # rule between fields (a permit's window) that names another
                passed = admin.request(method, path, json={**example, name: ISO})
                assert passed.status_code == 404 or (
                    passed.status_code == 400 and name not in passed.json()["error"]["details"].get("fields", {})
                ), (method, path, name, passed.text)
    for template, item in spec["paths"].items():
        for method, operation in item.items():
            parameters = [p for p in operation.get("parameters", []) if p["in"] == "query"]
            required = {p["name"]: valid_value(spec, p["schema"], index) for index, p in enumerate(parameters)
                        if p["required"]}
            path = template.replace("{id}", "no-such-id")
            for parameter in parameters:
                if scalar_type(spec, parameter["schema"]) != "date-time":
                    continue
                for sent in (str(UNIX), "1.5e9", "true"):
                    response = admin.request(method, path, params={**required, parameter["name"]: sent})
                    assert_refused(response, parameter["name"], sent)
                refused.append(f"{method} {template} ?{parameter['name']}")
    # check-in and check-out at; quote at; from/to of sessions, payments, audit and the usage report
    assert len(refused) >= 12, refused


def valid_value(spec: dict[str, Any], schema: dict[str, Any], index: int) -> str:
    """A query value the parameter accepts (date-times one day apart, in parameter order)."""
    schema = resolve(spec, schema)
    if schema.get("format") == "date-time":
        return f"2026-01-{10 + index:02d}T00:00:00Z"
    if "enum" in schema:
        return str(schema["enum"][0])
    return {"integer": "1", "boolean": "false"}.get(schema.get("type", ""), "x")


def test_the_contracts_coercions_are_refused(admin: httpx.Client, operator: httpx.Client) -> None:
    garage_id, spots = new_garage(admin, [(1, "1", "STANDARD")])
    garages: list[tuple[dict[str, Any], str]] = [
        ({"name": "G", "address": "A", "capacity": "100"}, "capacity"),
        ({"name": "G", "address": "A", "capacity": True}, "capacity"),
        ({"name": "G", "address": "A", "capacity": 100.0}, "capacity"),
        ({"name": 123, "address": "A", "capacity": 100}, "name"),
        ({"name": "G", "address": "A", "capacity": 100, "timezone": 0}, "timezone"),
    ]
    for body, field in garages:
        assert_refused(admin.post(f"{API}/garages", json=body), field, body[field])
    assert_refused(admin.post(f"{API}/garages/{garage_id}/spots", json={"level": "1", "number": "2", "type": "EV"}),
                   "level", "1")
    assert_refused(admin.post(f"{API}/garages/{garage_id}/spots", json={"level": 1, "number": 2, "type": "EV"}),
                   "number", 2)
    assert_refused(admin.patch(f"{API}/spots/{spots['1/1']}", json={"level": False}), "level", False)
    assert_refused(admin.put(f"{API}/garages/{garage_id}/rates", json={
        "hourlyRateCents": "300", "incrementMinutes": 15, "graceMinutes": 10, "dailyMaxCents": 2500,
        "lostTicketFeeCents": 5000}), "hourlyRateCents", "300")
    plate = new_plate()
    assert_refused(operator.post(f"{API}/garages/{garage_id}/check-in", json={"licensePlate": 12345678}),
                   "licensePlate", 12345678)
    assert_refused(operator.post(f"{API}/garages/{garage_id}/check-in",
                                 json={"licensePlate": plate, "vehicleType": "CAR", "at": UNIX}), "at", UNIX)
    assert_refused(operator.post(f"{API}/vehicles", json={"licensePlate": plate, "type": "CAR", "ownerPhone": 1234}),
                   "ownerPhone", 1234)
    session = operator.post(f"{API}/garages/{garage_id}/check-in",
                            json={"licensePlate": plate, "vehicleType": "CAR", "at": "2020-01-31T08:00:00+01:00"})
    assert session.status_code == 201, session.text
    session_id = session.json()["session"]["id"]
    wrong: list[tuple[dict[str, Any], str]] = [({"paymentMethod": "CASH", "lostTicket": 1}, "lostTicket"),
                                               ({"paymentMethod": "CASH", "lostTicket": "false"}, "lostTicket"),
                                               ({"paymentMethod": "CASH", "at": True}, "at"),
                                               ({"paymentMethod": 1}, "paymentMethod"),
                                               ({"paymentMethod": "CASH", "reference": 42}, "reference")]
    for body, field in wrong:
        assert_refused(operator.post(f"{API}/sessions/{session_id}/check-out", json=body), field, body[field])
    # nothing above checked out: the strict body below does
    done = operator.post(f"{API}/sessions/{session_id}/check-out", json={"paymentMethod": "CASH", "lostTicket": False})
    assert done.status_code == 200, done.text
    assert done.json()["session"]["startTime"] == "2020-01-31T07:00:00.000Z"


def test_query_strings_are_still_read_from_text(admin: httpx.Client) -> None:
    garage_id, _ = new_garage(admin, [(1, "1", "STANDARD"), (2, "1", "EV")])
    page = admin.get(f"{API}/garages/{garage_id}/spots", params={"limit": "1", "level": "2"})
    assert page.status_code == 200 and [spot["level"] for spot in page.json()["items"]] == [2]
    report = admin.get(f"{API}/garages/{garage_id}/reports/usage",
                       params={"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00+00:00",
                               "includeArchive": "true", "bucket": "hour"})
    assert report.status_code == 200 and len(report.json()["buckets"]) == 24
    assert_refused(admin.get(f"{API}/garages/{garage_id}/reports/usage", params={"from": "0", "to": ISO}), "from", "0")
    assert_refused(admin.get(f"{API}/sessions", params={"to": "1769846400.5"}), "to", "1769846400.5")
    assert admin.get(f"{API}/sessions", params={"from": ISO, "to": "2020-02-01T00:00:00.000Z"}).status_code == 200
