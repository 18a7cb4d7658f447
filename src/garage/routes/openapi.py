"""GET /openapi.json, generated from the declared endpoints (routes/api.py) and their pydantic
models, and /docs."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from garage.routes.api import ENDPOINTS
from garage.routes.endpoint import MAX_JSON_DEPTH, Endpoint

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string", "example": "VALIDATION_ERROR"},
                "message": {"type": "string"},
                "details": {"type": "object"},
            },
        }
    },
}


def build_spec(endpoints: Sequence[Endpoint] = ENDPOINTS, prefix: str = "/api/v1") -> dict[str, Any]:
    models: list[tuple[type[BaseModel], Literal["validation", "serialization"]]] = []
    for ep in endpoints:
        if ep.body is not None:
            models.append((ep.body, "validation"))
        if isinstance(ep.response, type) and issubclass(ep.response, BaseModel):
            models.append((ep.response, "serialization"))
    refs, definitions = models_json_schema(models, by_alias=True, ref_template="#/components/schemas/{model}")
    definitions = definitions.get("$defs", {})
    paths: dict[str, Any] = {}
    for ep in endpoints:
        paths.setdefault(prefix + ep.path, {})[ep.method.lower()] = _operation(ep, refs)
    paths.update(SERVICE_PATHS)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Garage API",
            "version": "1.0.0",
            "description": "Parking garage management (API v1).\n\n" + LIMITS,
        },
        "paths": paths,
        "components": {
            "schemas": {**definitions, "Error": ERROR_SCHEMA},
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <api key>"}
            },
        },
    }


def _operation(ep: Endpoint, refs: dict[Any, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": ep.summary,
        "tags": [ep.tag],
        "operationId": ep.handler.__name__,
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"\{(\w+)\}", ep.path)
        ],
        "responses": {},
    }
    if ep.query is not None:
        schema = ep.query.model_json_schema(by_alias=True)
        for name, prop in schema.get("properties", {}).items():
            operation["parameters"].append(
                {"name": name, "in": "query", "required": name in schema.get("required", []), "schema": prop}
            )
    if ep.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(ep.body, "validation")]}},
        }
    success: dict[str, Any] = {"description": "Success"}
    if isinstance(ep.response, type) and issubclass(ep.response, BaseModel):
        success["content"] = {"application/json": {"schema": refs[(ep.response, "serialization")]}}
        if ep.csv:
            success["content"]["text/csv"] = {"schema": {"type": "string"}}
    operation["responses"][str(ep.status)] = success
    error_ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    operation["responses"]["400"] = {"description": "VALIDATION_ERROR", **error_ref}
    operation["security"] = [{"apiKey": []}]
    operation["responses"]["401"] = {"description": "UNAUTHENTICATED", **error_ref}
    operation["responses"]["403"] = {"description": "FORBIDDEN: needs the " + ep.role.value + " role", **error_ref}
    conflicts = [code for code in ep.errors if code != "NOT_FOUND"]
    if "NOT_FOUND" in ep.errors or "{" in ep.path:
        operation["responses"]["404"] = {"description": "NOT_FOUND", **error_ref}
    if conflicts:
        operation["responses"]["409"] = {"description": " | ".join(conflicts), **error_ref}
    operation["responses"]["413"] = {"description": "PAYLOAD_TOO_LARGE", **error_ref}
    operation["responses"]["503"] = {
        "description": "DATABASE_UNAVAILABLE (busy, restarting or out of disk space)",
        "headers": RETRY_AFTER,
        **error_ref,
    }
    for error_status, description in ep.responses.items():
        operation["responses"][str(error_status)] = {"description": description, **error_ref}
    return operation


# What every request must respect (routes/endpoint.py, routes/auth.py, routes/http_protocol.py;
# defaults shown, docs/operations.md "HTTP limits and hostile input").
LIMITS = (
    "Limits (server-side ones at their defaults; every refusal carries the error envelope): request bodies "
    f"are strict JSON in UTF-8, nested at most {MAX_JSON_DEPTH} levels, no key twice, no NaN/Infinity (else 400 "
    "VALIDATION_ERROR), at most 1 MiB (413 PAYLOAD_TOO_LARGE); endpoints without a request body accept none "
    "or {} (else 400); Authorization must be sent once (else 400); the request target at most 8 KiB "
    "(414 URI_TOO_LONG), all headers together at most 16 KiB (431 HEADERS_TOO_LARGE); a request must arrive "
    "in full within 10 s of its first byte (408 REQUEST_TIMEOUT); idle keep-alive connections are closed after 5 s."
)

RETRY_AFTER: dict[str, Any] = {
    "Retry-After": {"description": "Seconds to wait before trying again", "schema": {"type": "integer"}},
}

SERVICE_PATHS: dict[str, Any] = {
    "/health": {
        "get": {
            "summary": "The process is up",
            "tags": ["service"],
            "operationId": "health",
            "responses": {"200": {"description": "ok"}},
        }
    },
    "/ready": {
        "get": {
            "summary": "Database reachable and migrations applied",
            "tags": ["service"],
            "operationId": "ready",
            "responses": {"200": {"description": "ready"}, "503": {"description": "not ready", "headers": RETRY_AFTER}},
        }
    },
    "/metrics": {
        "get": {
            "summary": "Prometheus metrics",
            "tags": ["service"],
            "operationId": "metrics",
            "responses": {
                "200": {
                    "description": "Prometheus text format",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        }
    },
}


def openapi_json(endpoints: Sequence[Endpoint]) -> Callable[[Request], Awaitable[Response]]:
    spec: dict[str, Any] = {}

    async def serve(_: Request) -> Response:
        if not spec:  # built on the first request, not at startup
            spec.update(build_spec(endpoints))
        return JSONResponse(spec)

    return serve


DOCS_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Garage API</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem}code{background:#eee;padding:0 .2rem}
section{border-top:1px solid #ccc;padding:.5rem 0}.m{font-weight:bold;display:inline-block;width:4.5rem}</style></head>
<body><h1>Garage API v1</h1><p>Rendered from <a href="/openapi.json">/openapi.json</a>.</p>
<div id="ops">Loading...</div>
<script>
fetch('/openapi.json').then(r => r.json()).then(spec => {
  const out = [];
  for (const [path, ops] of Object.entries(spec.paths)) for (const [method, op] of Object.entries(ops)) {
    const codes = Object.entries(op.responses).map(([c, r]) => `<code>${c}</code> ${r.description}`).join(', ');
    out.push(`<section><span class="m">${method.toUpperCase()}</span><code>${path}</code> ${op.summary}`
      + `<br><small>${codes}</small></section>`);
  }
  document.getElementById('ops').innerHTML = out.join('');
});
</script></body></html>"""


async def docs(_: Request) -> Response:
    return HTMLResponse(DOCS_PAGE)


def routes(endpoints: Sequence[Endpoint]) -> list[Route]:
    """/openapi.json describing `endpoints`, and /docs rendering it."""
    return [Route("/openapi.json", openapi_json(endpoints), methods=["GET"]), Route("/docs", docs, methods=["GET"])]
