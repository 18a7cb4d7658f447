"""Declaring endpoints: one decorator gives each route its auth rule, its request and response
models and its OpenAPI entry, so parsing, authorisation and the spec cannot drift apart."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from garage.errors import NotFound, ValidationFailed
from garage.routes.auth import Principal, authenticate
from garage.security.roles import Role

BodyT = TypeVar("BodyT", bound=BaseModel | None)
QueryT = TypeVar("QueryT", bound=BaseModel | None)


@dataclass
class Call(Generic[BodyT, QueryT]):
    """What a handler receives: the parsed request and who made it."""

    request: Request
    principal: Principal | None
    body: BodyT
    query: QueryT

    def path(self, name: str) -> str:
        return str(self.request.path_params[name])

    @property
    def services(self) -> Any:
        return self.request.app.state.services


Handler = Callable[[Call[Any, Any]], Awaitable[Any]]


@dataclass
class Endpoint:
    method: str
    path: str
    handler: Handler
    role: Role | None
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: Any = None
    status: int = 200
    errors: tuple[str, ...] = ()
    responses: dict[int, str] = field(default_factory=dict)
    csv: bool = False


REGISTRY: list[Endpoint] = []


def endpoint(
    method: str,
    path: str,
    *,
    role: Role | None,
    summary: str,
    tag: str,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: Any = None,
    status: int = 200,
    errors: tuple[str, ...] = (),
    csv: bool = False,
) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        REGISTRY.append(Endpoint(method, path, handler, role, summary, tag, body, query, response, status, errors, csv=csv))
        return handler

    return register


def starlette_routes(prefix: str = "/api/v1") -> list[Route]:
    by_path: dict[str, dict[str, Endpoint]] = {}
    for ep in REGISTRY:
        by_path.setdefault(ep.path, {})[ep.method] = ep
    return [Route(prefix + path, _dispatcher(methods), methods=list(methods)) for path, methods in by_path.items()]


def _dispatcher(methods: dict[str, Endpoint]) -> Callable[[Request], Awaitable[Response]]:
    async def dispatch(request: Request) -> Response:
        ep = methods[request.method]
        principal = await authenticate(request, ep.role) if ep.role is not None else None
        refuse_nul_characters(request)
        query = parse_query(ep.query, request) if ep.query else None
        body = await parse_body(ep.body, request) if ep.body else None
        result = await ep.handler(Call(request, principal, body, query))
        if isinstance(result, Response):
            return result
        if result is None:
            return Response(status_code=ep.status if ep.status != 200 else 204)
        return JSONResponse(to_json(result), status_code=ep.status)

    return dispatch


def refuse_nul_characters(request: Request) -> None:
    """The database refuses text containing NUL: a path id with one names nothing (404), a query
    value with one is invalid (400). Bodies are checked after parsing (parse_body)."""
    if any("\x00" in str(value) for value in request.path_params.values()):
        raise NotFound("No such resource")
    bad = [key for key, value in request.query_params.multi_items() if "\x00" in key or "\x00" in value]
    if bad:
        raise ValidationFailed("Query values may not contain NUL characters", details={"fields": {key: "contains NUL" for key in bad}})


def _nul_fields(value: Any, path: str = "") -> list[str]:
    """Dotted paths (as in validation errors) of every string in `value` that contains NUL."""
    if isinstance(value, str):
        return [path or "body"] if "\x00" in value else []
    if isinstance(value, dict):
        found = []
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            found += [child] if "\x00" in str(key) else _nul_fields(item, child)
        return found
    if isinstance(value, list):
        return [field for index, item in enumerate(value) for field in _nul_fields(item, f"{path}.{index}" if path else str(index))]
    return []


def to_json(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, list):
        return [to_json(item) for item in value]
    if isinstance(value, dict):
        return {key: to_json(item) for key, item in value.items()}
    return value


def field_errors(error: ValidationError, location: str) -> dict[str, Any]:
    fields: dict[str, str] = {}
    for item in error.errors(include_url=False):
        name = ".".join(str(part) for part in item["loc"]) or location
        fields[name] = item["msg"]
    return {"fields": fields, "location": location}


async def parse_body(model: type[BaseModel], request: Request) -> BaseModel:
    raw = await request.body()
    try:
        data = json.loads(raw) if raw else None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValidationFailed("The request body is not valid JSON", details={"fields": {"body": str(error)}}) from error
    if bad := _nul_fields(data):
        raise ValidationFailed(
            "Text may not contain NUL characters", details={"fields": {name: "contains a NUL character" for name in bad}}
        )
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ValidationFailed("The request body is invalid", details=field_errors(error, "body")) from error


def parse_query(model: type[BaseModel], request: Request) -> BaseModel:
    params = {key: value for key, value in request.query_params.items()}
    try:
        return model.model_validate(params)
    except ValidationError as error:
        raise ValidationFailed("Invalid query parameters", details=field_errors(error, "query")) from error
