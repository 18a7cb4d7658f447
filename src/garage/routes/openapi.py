"""The OpenAPI 3.1 document of the API, served at GET /openapi.json and committed as
docs/openapi.json (`make openapi`: `python -m garage.routes.openapi docs/openapi.json`, no server
needed), which typed clients are generated from (clients/typescript).

Everything in it is derived, so the document and the service cannot drift apart:
- paths and operations from the declared endpoints (routes/api.py, routes/endpoint.py): their
  operationId, tag, summary, role, request and response models;
- schemas from the pydantic models, one component each (named by the model's `title`), requests
  as pydantic validates them, responses as it serialises them; enums from garage/vocabulary.py;
- each operation's error answers from what it declares (`errors`: contract codes, their status from
  garage/errors.py) and from what every request of its kind can meet (authentication, throttling,
  body parsing, the database).

What tests/api/test_openapi_document.py holds it to: valid OpenAPI 3.1, the committed copy equal to
the served one, every operation with an operationId, a described tag and an example body.
"""

from __future__ import annotations

import inspect
import json
import re
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, models_json_schema
from pydantic_core import core_schema
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from garage.errors import Conflict, DatabaseUnavailable, GarageError
from garage.routes.api import ENDPOINTS
from garage.routes.endpoint import MAX_JSON_DEPTH, Endpoint
from garage.routes.models import JsonResponse
from garage.vocabulary import PaymentMethod, PaymentStatus, Role, SessionStatus, SpotType, TicketStatus, VehicleType

API_VERSION = "1.0.0"
"""The contract's version (API.md): 1.x while changes are additive."""

PREFIX = "/api/v1"
SCHEMAS = "#/components/schemas/"
SECURITY_SCHEME = "bearerAuth"

TAGS: dict[str, str] = {
    "garages": "Garages (admin writes) and their live occupancy",
    "rates": "A garage's rate: what parking there costs",
    "spots": "Parking spots: operators change a spot's status, admins everything else",
    "vehicles": "Vehicles by licence plate, with their owners (encrypted at rest) and parking history",
    "parking": "The parking flow of gates and pay stations: check-in, quote, check-out",
    "sessions": "Parking sessions and their tickets",
    "payments": "Payments taken at check-out, and refunds (admin)",
    "reports": "Usage reports per hour or day, as JSON or CSV",
    "permits": "Monthly permits (free parking for a plate within their validity) and the deny list",
    "validations": "Merchant validations: validators (merchants' discount programmes) and validating tickets",
    "events": "The event log: every change gates, signs and consoles hear about, in commit order",
    "admin": "API keys, the audit log and backups (admin only)",
    "service": "Health, readiness, metrics and this document: no API key needed",
}
"""Every tag an operation may carry, in the order the document lists them, with its description."""

ENUM_DESCRIPTIONS: dict[str, str] = {
    SpotType.__name__: "A spot's size or kind; HANDICAP spots are given only when asked for by spotId",
    VehicleType.__name__: "A vehicle's kind: which spot types it fits (API.md, Clarifications: Spot fit)",
    SessionStatus.__name__: "ACTIVE while the vehicle is parked",
    TicketStatus.__name__: "OPEN until check-out, then PAID (or LOST when checked out as a lost ticket)",
    PaymentMethod.__name__: "How a check-out was paid",
    PaymentStatus.__name__: "REFUNDED once refunded (POST /payments/{id}/refund)",
    "Bucket": "The width of a report bucket: a UTC hour or a UTC day",
}
"""Descriptions of the enums whose class has no docstring (a docstring, as Role's, is used as is)."""

# What every request must respect (routes/endpoint.py, routes/auth.py, routes/http_protocol.py;
# defaults shown, docs/operations.md "HTTP limits and hostile input").
LIMITS = (
    "Limits (server-side ones at their defaults; every refusal carries the error envelope): request bodies "
    f"are strict JSON in UTF-8, nested at most {MAX_JSON_DEPTH} levels, no key twice, no NaN/Infinity, each "
    'field the JSON type its schema names (no "100" for an integer, no 1 for a boolean, no number for a '
    "timestamp; else 400 VALIDATION_ERROR), at most 1 MiB (413 PAYLOAD_TOO_LARGE); endpoints without a "
    "request body accept none or {} (else 400); Authorization must be sent once (else 400); the request "
    "target at most 8 KiB (414 URI_TOO_LONG), all headers together at most 16 KiB (431 HEADERS_TOO_LARGE); "
    "a request must arrive in full within 10 s of its first byte (408 REQUEST_TIMEOUT); idle keep-alive "
    "connections are closed after 5 s. These refusals of the HTTP server itself (408, 413 for any request, "
    "414, 431) and 500 INTERNAL (a fault of the service) can meet any request and are not repeated under "
    "each operation."
)

DESCRIPTION = f"""Parking garage management: garages, spots, vehicles, the parking flow (check-in, quote,
check-out), payments, reports and administration.

Conventions: JSON in and out (`application/json; charset=utf-8`), field names camelCase; ids are
opaque strings; timestamps are ISO 8601 strings in UTC with a `Z` and milliseconds in responses, and
must be ISO 8601 strings with a UTC offset in requests (a number is refused); money is integer cents
in the garage's currency. Lists take `limit` (1 to 200, default 50) and `cursor` (the previous page's
`nextCursor`). Every `/api/v1` request needs `Authorization: Bearer <api key>`; roles include the
ones after them: admin > operator > viewer. A `validator` key (a merchant's, bound to one validator)
stands outside that ladder: it may call only the operations that say so (reading a ticket, validating
it), everything else answers it 403. Every error answer has the body
`{{"error": {{"code", "message", "details"}}}}` (the `Error` schema).

{LIMITS}"""

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "description": "The body of every error answer (any non-2xx status)",
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "additionalProperties": False,
            "properties": {
                "code": {
                    "type": "string",
                    "description": "SCREAMING_SNAKE contract code, e.g. VALIDATION_ERROR, NOT_FOUND, GARAGE_FULL; "
                    "each operation's responses name the codes it answers with. New codes may be added",
                    "examples": ["VALIDATION_ERROR"],
                },
                "message": {
                    "type": "string",
                    "description": "Human readable; never a stack trace or SQL",
                    "examples": ["The request body is invalid"],
                },
                "details": {
                    "type": "object",
                    "description": "400 VALIDATION_ERROR: `fields` (each bad field -> what is wrong with it) and "
                    "`location` (body, query or header); otherwise code-specific, often empty",
                    "examples": [{"fields": {"capacity": "Input should be a valid integer"}, "location": "body"}],
                },
            },
        }
    },
}

EXPLAINED = {"NOT_FOUND": "what the request names (in its path, or an id in its body) does not exist or was deleted"}
"""What a declared code means, where its name alone does not say (a 409's codes are listed bare)."""

RETRY_AFTER: dict[str, Any] = {
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "schema": {"type": "integer", "minimum": 0},
    },
}


def build_spec(endpoints: Sequence[Endpoint] = ENDPOINTS, prefix: str = PREFIX) -> dict[str, Any]:
    """The document describing `endpoints` (under `prefix`) and the service endpoints."""
    refs, schemas = _component_schemas(endpoints)
    # a query model's properties become parameters: it is no schema of anything itself
    queries = {ep.query: schemas[_name(refs[ep.query, "validation"])] for ep in endpoints if ep.query}
    for query in queries:
        del schemas[_name(refs[query, "validation"])]
    examples = {ep.body: schemas[_name(refs[ep.body, "validation"])].get("examples") for ep in endpoints if ep.body}
    schemas.update(SERVICE_SCHEMAS)
    for schema in schemas.values():
        _state_defaults_in_descriptions(schema)
    paths: dict[str, Any] = {}
    for ep in endpoints:
        paths.setdefault(prefix + ep.path, {})[ep.method.lower()] = _operation(ep, refs, queries, examples)
    paths.update(SERVICE_PATHS)
    used = {tag for path in paths.values() for operation in path.values() for tag in operation["tags"]}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Garage API", "version": API_VERSION, "description": DESCRIPTION},
        "tags": [{"name": tag, "description": TAGS.get(tag, "")} for tag in [*TAGS, *sorted(used - set(TAGS))]],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key: `Authorization: Bearer <api key>` (POST /api/v1/admin/api-keys)",
                }
            },
        },
    }


Mode = Literal["validation", "serialization"]


class _Generator(GenerateJsonSchema):
    def field_title_should_be_set(self, schema: Any) -> bool:
        # pydantic's would be the field name re-cased ("Createdat"): the name and description say it
        return False

    def enum_schema(self, schema: core_schema.EnumSchema) -> dict[str, Any]:
        generated = super().enum_schema(schema)
        if "description" not in generated and (said := ENUM_DESCRIPTIONS.get(schema["cls"].__name__)):
            generated["description"] = said
        return generated


def _component_schemas(endpoints: Sequence[Endpoint]) -> tuple[dict[tuple[Any, Mode], str], dict[str, Any]]:
    """Every model's schema (and the models and enums they use) as a component, named by its title:
    (model, mode) -> its $ref, and the components."""
    models: dict[tuple[Any, Mode], None] = {}
    for ep in endpoints:
        for model in (ep.body, ep.query):
            if model is not None:
                models[model, "validation"] = None
        if _is_model(ep.response):
            models[ep.response, "serialization"] = None
    found, generated = models_json_schema(
        list(models), by_alias=True, ref_template=SCHEMAS + "{model}", schema_generator=_Generator
    )
    definitions: dict[str, Any] = generated.get("$defs", {})
    # pydantic names a component after its class; the document uses the model's title (its class
    # name unless the model says otherwise), a name chosen for the readers of the document.
    titles = {name: schema.get("title", name) for name, schema in definitions.items()}
    twice = sorted({title for title in titles.values() if list(titles.values()).count(title) > 1})
    if twice:
        raise ValueError(f"two schemas are titled {', '.join(twice)}: give the models distinct titles")
    renamed = {SCHEMAS + old: SCHEMAS + new for old, new in titles.items()}
    schemas = {titles[name]: _document_schema(schema, renamed) for name, schema in definitions.items()}
    refs = {key: renamed[ref["$ref"]] for key, ref in found.items()}
    return refs, schemas


def _document_schema(schema: Any, renamed: dict[str, str]) -> Any:
    """`schema` with its references renamed and each nullable scalar written as `type: [X, "null"]`."""
    if isinstance(schema, list):
        return [_document_schema(item, renamed) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _document_schema(value, renamed) for key, value in schema.items()}
    if "$ref" in out:
        out["$ref"] = renamed.get(out["$ref"], out["$ref"])
    variants = out.get("anyOf")
    if isinstance(variants, list) and len(variants) == 2 and {"type": "null"} in variants:
        other = next(variant for variant in variants if variant != {"type": "null"})
        if isinstance(other.get("type"), str) and "enum" not in other and "$ref" not in other:
            del out["anyOf"]
            out = {**other, **out, "type": [other["type"], "null"]}
    return out


def _state_defaults_in_descriptions(schema: dict[str, Any]) -> None:
    """Request fields' defaults, moved from `default` into their description. openapi-typescript
    (and others) make a property with a `default` required in the types they generate, as it would
    be in a response; no response field here has one, and a request field with one is optional."""
    for prop in schema.get("properties", {}).values():
        if "default" in prop:
            default = prop.pop("default")
            if default is not None:
                said = f"Default: `{json.dumps(default)}`."
                said_before = prop.get("description", "").rstrip(".")
                prop["description"] = f"{said_before}. {said}" if said_before else said


def _name(ref: str) -> str:
    return ref.removeprefix(SCHEMAS)


def _operation(
    ep: Endpoint,
    refs: dict[tuple[Any, Mode], str],
    queries: dict[Any, dict[str, Any]],
    examples: dict[Any, list[Any] | None],
) -> dict[str, Any]:
    operation: dict[str, Any] = {"tags": [ep.tag], "summary": ep.summary, "description": _description(ep)}
    if ep.operation_id is not None:  # tests/api/test_openapi_document.py requires one
        operation["operationId"] = ep.operation_id
    operation["security"] = [{SECURITY_SCHEME: []}]
    operation["parameters"] = [_path_parameter(ep.path, name) for name in re.findall(r"\{(\w+)\}", ep.path)]
    if ep.query is not None:
        operation["parameters"] += _query_parameters(queries[ep.query])
    if ep.body is not None:
        ref = refs[ep.body, "validation"]
        media: dict[str, Any] = {"schema": {"$ref": ref}}
        if example := examples[ep.body]:  # the model's first (test_openapi_document.py requires one)
            media["example"] = example[0]
        operation["requestBody"] = {"required": True, "content": {"application/json": media}}
    operation["responses"] = _responses(ep, refs)
    return operation


def _description(ep: Endpoint) -> str:
    allowed = [role.value for role in Role if role in ep.roles]
    who = f"Needs an API key with the role {' or '.join(allowed)}."
    said = inspect.getdoc(ep.handler)
    return f"{said}\n\n{who}" if said else who


def _path_parameter(path: str, name: str) -> dict[str, Any]:
    segments = path.split("/")
    collection = segments[segments.index("{" + name + "}") - 1]
    noun = collection.removesuffix("s").replace("-", " ")
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": f"The {noun}'s {name}",
        "schema": {"type": "string"},
    }


def _query_parameters(schema: dict[str, Any]) -> list[dict[str, Any]]:
    parameters = []
    for name, prop in schema.get("properties", {}).items():
        prop = _not_null(prop)
        description = prop.pop("description", None)
        parameter: dict[str, Any] = {"name": name, "in": "query", "required": name in schema.get("required", [])}
        if description:
            parameter["description"] = description
        parameter["schema"] = prop
        parameters.append(parameter)
    return parameters


def _not_null(prop: dict[str, Any]) -> dict[str, Any]:
    """A query parameter's schema without `null`: a parameter is sent with a value, or left out."""
    prop = dict(prop)
    if prop.get("default", ...) is None:
        del prop["default"]
    if isinstance(prop.get("type"), list):
        types = [kind for kind in prop["type"] if kind != "null"]
        prop["type"] = types[0] if len(types) == 1 else types
    if isinstance(prop.get("anyOf"), list):
        variants = [variant for variant in prop.pop("anyOf") if variant != {"type": "null"}]
        prop = {**variants[0], **prop} if len(variants) == 1 else {"anyOf": variants, **prop}
    return prop


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def _error_statuses() -> dict[str, int]:
    """Contract code -> status, from the error hierarchy (garage/errors.py)."""

    def subclasses(cls: type[GarageError]) -> Iterator[type[GarageError]]:
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    return {cls.code: cls.status for cls in subclasses(GarageError)}


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description}
    if headers:
        response["headers"] = headers
    response["content"] = {"application/json": {"schema": {"$ref": SCHEMAS + "Error"}}}
    return response


def _responses(ep: Endpoint, refs: dict[tuple[Any, Mode], str]) -> dict[str, Any]:
    success: dict[str, Any] = {"description": "No content" if ep.status == 204 else "Success"}
    if ep.event_stream:
        success["description"] = (
            "Server-Sent Events: `id: <event id>`, `event: <type>`, `data: <the Event as JSON>` per event, and a "
            "comment line at least every 15 s. Resume with the `Last-Event-ID` header (or `after`)."
        )
        success["content"] = {"text/event-stream": {"schema": {"type": "string"}}}
    elif _is_model(ep.response):
        success["content"] = {"application/json": {"schema": {"$ref": refs[ep.response, "serialization"]}}}
        if ep.csv:
            success["content"]["text/csv"] = {
                "schema": {"type": "string"},
                "example": "start,checkIns,checkOuts,revenueCents,peakOccupied\n2026-01-31T00:00:00.000Z,12,9,4500,7\n",
            }
    responses: dict[int, dict[str, Any]] = {ep.status: success}

    accepted = "the request body is not valid JSON, or a field is missing, unknown or invalid" if ep.body else ""
    if ep.query is not None:
        accepted = "; ".join(filter(None, [accepted, "a query parameter is invalid"]))
    if ep.body is None:
        accepted = "; ".join(filter(None, [accepted, "a request body other than none or {}"]))
    responses[400] = _error(
        f"VALIDATION_ERROR: {accepted}; Authorization sent twice. `details.fields` names each bad field"
    )
    responses[401] = _error("UNAUTHENTICATED: no API key, or an unknown or revoked one")
    if set(Role) - ep.roles:
        responses[403] = _error(_forbidden(ep))
    statuses = _error_statuses()
    by_status: dict[int, list[str]] = {}
    for code in ep.errors:
        by_status.setdefault(statuses.get(code, Conflict.status), []).append(code)
    for status, codes in by_status.items():
        said = EXPLAINED.get(codes[0]) if len(codes) == 1 else None
        responses[status] = _error(f"{codes[0]}: {said}" if said else " | ".join(codes))
    if ep.body is not None:
        responses[413] = _error("PAYLOAD_TOO_LARGE: the request body is larger than 1 MiB")
    responses[429] = _error(
        "RATE_LIMITED: too many requests with a missing or wrong API key from this address in the last minute "
        "(GARAGE_AUTH_FAILURES_PER_MINUTE, default 20); requests with a valid key are never throttled",
        RETRY_AFTER,
    )
    responses[DatabaseUnavailable.status] = _error(
        "DATABASE_UNAVAILABLE: the database is busy, restarting or out of disk space", RETRY_AFTER
    )
    for status, description in ep.responses.items():
        responses[status] = _error(description)
    return {str(status): responses[status] for status in sorted(responses)}


def _forbidden(ep: Endpoint) -> str:
    """The 403's description: which keys are refused (an endpoint refusing more declares its own
    403 in `responses`)."""
    why = []
    if set(Role) - ep.roles - {Role.VALIDATOR}:
        why.append(f"the key's role is below {ep.role.value}")
    if Role.VALIDATOR not in ep.roles:
        why.append("a validator key (it may only read tickets and validate them)")
    return "FORBIDDEN: " + "; or ".join(why)


SERVICE_SCHEMAS: dict[str, Any] = {
    "Error": ERROR_SCHEMA,
    "Health": {
        "title": "Health",
        "description": "The process is up",
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"const": "ok"}},
    },
    "Readiness": {
        "title": "Readiness",
        "description": "Whether the service can serve requests, and if not why (runtime/readiness.py)",
        "type": "object",
        "required": ["status", "database", "pendingMigrations", "integrity"],
        "properties": {
            "status": {"enum": ["ready", "not ready"], "type": "string"},
            "database": {"enum": ["ok", "unavailable"], "type": "string"},
            "pendingMigrations": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Migrations not applied yet (the service is not ready until they are)",
            },
            "integrity": {
                "enum": ["ok", "damaged"],
                "type": "string",
                "description": "damaged once the background integrity check found the database file damaged",
            },
            "disk": {
                "type": "object",
                "description": "Free space on the database's file system (absent when it cannot be read)",
                "required": ["status", "freeBytes", "minFreeBytes"],
                "properties": {
                    "status": {"enum": ["ok", "low"], "type": "string"},
                    "freeBytes": {"type": "integer"},
                    "minFreeBytes": {"type": "integer", "description": "GARAGE_MIN_FREE_BYTES"},
                },
            },
            "problem": {"type": "string", "description": "What is wrong; only when not ready"},
        },
    },
}


def _service(operation_id: str, summary: str, responses: dict[str, Any]) -> dict[str, Any]:
    return {
        "get": {
            "tags": ["service"],
            "summary": summary,
            "description": "Needs no API key.",
            "operationId": operation_id,
            "security": [],
            "responses": responses,
        }
    }


SERVICE_PATHS: dict[str, Any] = {
    "/health": _service(
        "getHealth",
        "The process is up",
        {"200": {"description": "Up", "content": {"application/json": {"schema": {"$ref": SCHEMAS + "Health"}}}}},
    ),
    "/ready": _service(
        "getReadiness",
        "Ready to serve: database reachable, migrations applied, disk space above the minimum, file not damaged",
        {
            "200": {
                "description": "Ready",
                "content": {"application/json": {"schema": {"$ref": SCHEMAS + "Readiness"}}},
            },
            "503": {
                "description": "Not ready; `problem` says why",
                "headers": RETRY_AFTER,
                "content": {"application/json": {"schema": {"$ref": SCHEMAS + "Readiness"}}},
            },
        },
    ),
    "/metrics": _service(
        "getMetrics",
        "Prometheus metrics: requests, database queries, disk space, sessions and occupancy",
        {
            "200": {
                "description": "Prometheus text exposition format",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            },
            "503": _error("DATABASE_UNAVAILABLE: the live gauges could not be read from the database", RETRY_AFTER),
        },
    ),
    "/openapi.json": _service(
        "getOpenApiDocument",
        "This document",
        {
            "200": {
                "description": "The OpenAPI 3.1 document",
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        },
    ),
}


def render(spec: dict[str, Any]) -> str:
    """The committed form of the document (docs/openapi.json): pretty, keys sorted, one final newline."""
    return json.dumps(spec, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def openapi_json(endpoints: Sequence[Endpoint]) -> Callable[[Request], Awaitable[Response]]:
    spec: dict[str, Any] = {}

    async def serve(_: Request) -> Response:
        if not spec:  # built on the first request, not at startup
            spec.update(build_spec(endpoints))
        return JsonResponse(spec)

    return serve


def routes(endpoints: Sequence[Endpoint]) -> list[Route]:
    """/openapi.json describing `endpoints`."""
    return [Route("/openapi.json", openapi_json(endpoints), methods=["GET"])]


def main(argv: Sequence[str]) -> int:
    """`python -m garage.routes.openapi PATH`: writes the document the service serves to PATH."""
    if len(argv) != 1:
        print("usage: python -m garage.routes.openapi PATH (e.g. docs/openapi.json)", file=sys.stderr)
        return 2
    Path(argv[0]).write_text(render(build_spec()), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
