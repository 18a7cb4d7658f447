"""Declaring endpoints: one decorator gives each route its auth rule, its request and response
models and its OpenAPI entry, so parsing, authorisation and the spec cannot drift apart.

Each route module declares its endpoints on its own `Router`; the route table and the OpenAPI
document are built from the explicit list of routers in routes/api.py (no registration by import
side effect). A handler receives a `Call` typed all the way down: its body and query are the
models declared for it (checked when it is declared), `services` is the app's `Services` and
`principal` is never None (every /api/v1 endpoint needs a key)."""

from __future__ import annotations

import json
import typing
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from garage.errors import NotFound, ValidationFailed
from garage.routes.auth import Principal, admits, authenticate
from garage.routes.models import JsonResponse
from garage.services.container import Services
from garage.vocabulary import Role

BodyT = TypeVar("BodyT", bound=BaseModel | None)
QueryT = TypeVar("QueryT", bound=BaseModel | None)


@dataclass(frozen=True)
class Call(Generic[BodyT, QueryT]):
    """What a handler receives: the parsed request, who made it and the app's services."""

    request: Request
    principal: Principal
    body: BodyT
    query: QueryT
    services: Services

    def path(self, name: str) -> str:
        return str(self.request.path_params[name])


Handler = Callable[[Call[Any, Any]], Awaitable[object]]
HandlerT = TypeVar("HandlerT", bound=Handler)


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    role: Role
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: Any = None
    status: int = 200
    errors: tuple[str, ...] = ()
    responses: dict[int, str] = field(default_factory=dict)
    csv: bool = False
    event_stream: bool = False
    operation_id: str | None = None
    admits_validator: bool = False

    @property
    def roles(self) -> frozenset[Role]:
        """The roles whose keys may call it (routes/auth.py `admits`)."""
        return frozenset(role for role in Role if admits(role, self.role, validator_too=self.admits_validator))


class Router:
    """The endpoints of one route module, in the order they are declared."""

    def __init__(self) -> None:
        self.endpoints: list[Endpoint] = []

    def endpoint(
        self,
        method: str,
        path: str,
        *,
        role: Role,
        summary: str,
        tag: str,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        response: Any = None,
        status: int = 200,
        errors: tuple[str, ...] = (),
        csv: bool = False,
        event_stream: bool = False,
        responses: dict[int, str] | None = None,
        operation_id: str | None = None,
        admits_validator: bool = False,
    ) -> Callable[[HandlerT], HandlerT]:
        """`errors`: the contract codes the handler may answer with (404 NOT_FOUND, the 409 codes,
        ...; routes/openapi.py documents each under its status). `responses`: error answers beyond
        those, status -> its contract code and when. `operation_id`: the OpenAPI operationId, a
        camelCase verb phrase (`checkIn`, `listSessions`); declared, so that renaming a handler
        does not rename the operation in generated clients. `event_stream`: the answer is
        Server-Sent Events (text/event-stream) of `response` items. `admits_validator`: a
        `validator` key (a merchant's, outside the role ladder) may call it too; without it such a
        key gets 403, whatever `role` is."""

        def declare(handler: HandlerT) -> HandlerT:
            check_call_type(handler, body, query)
            self.endpoints.append(
                Endpoint(
                    method,
                    path,
                    handler,
                    role,
                    summary,
                    tag,
                    body,
                    query,
                    response,
                    status,
                    errors,
                    responses or {},
                    csv=csv,
                    event_stream=event_stream,
                    operation_id=operation_id,
                    admits_validator=admits_validator,
                )
            )
            return handler

        return declare


def check_call_type(handler: Handler, body: type[BaseModel] | None, query: type[BaseModel] | None) -> None:
    """A handler's `Call[Body, Query]` annotation must name the models its endpoint parses, so the
    types mypy checks the handler against are the ones it gets (TypeError when declared otherwise)."""
    hints = typing.get_type_hints(handler)
    parameter = next((hint for name, hint in hints.items() if name != "return"), None)
    expected = (body or type(None), query or type(None))
    if typing.get_origin(parameter) is not Call or typing.get_args(parameter) != expected:
        names = ", ".join("None" if model is type(None) else model.__name__ for model in expected)
        raise TypeError(f"{handler.__name__} must take a Call[{names}], not {parameter}")


def starlette_routes(endpoints: Sequence[Endpoint], prefix: str = "/api/v1") -> list[Route]:
    by_path: dict[str, dict[str, Endpoint]] = {}
    for ep in endpoints:
        by_path.setdefault(ep.path, {})[ep.method] = ep
    return [Route(prefix + path, _dispatcher(methods), methods=list(methods)) for path, methods in by_path.items()]


def _dispatcher(methods: dict[str, Endpoint]) -> Callable[[Request], Awaitable[Response]]:
    async def dispatch(request: Request) -> Response:
        # Starlette routes HEAD to every GET route: it is the GET, answered without the body
        ep = methods["GET" if request.method == "HEAD" else request.method]
        services: Services = request.app.state.services
        principal = await authenticate(request, ep.role, services, validator_too=ep.admits_validator)
        refuse_nul_characters(request)
        query = parse_query(ep.query, request) if ep.query else None
        if ep.body is not None:
            body = await parse_body(ep.body, request)
        else:
            await refuse_body(request)
            body = None
        result = await ep.handler(Call(request, principal, body, query, services))
        if isinstance(result, Response):
            return result
        if result is None:
            return Response(status_code=ep.status if ep.status != 200 else 204)
        return JsonResponse(to_json(result), status_code=ep.status)

    return dispatch


def refuse_nul_characters(request: Request) -> None:
    """The database refuses text containing NUL: a path id with one names nothing (404), a query
    value with one is invalid (400). Bodies are checked after parsing (parse_body)."""
    if any("\x00" in str(value) for value in request.path_params.values()):
        raise NotFound("No such resource")
    bad = [key for key, value in request.query_params.multi_items() if "\x00" in key or "\x00" in value]
    if bad:
        raise ValidationFailed(
            "Query values may not contain NUL characters", details={"fields": dict.fromkeys(bad, "contains NUL")}
        )


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
        return [
            field
            for index, item in enumerate(value)
            for field in _nul_fields(item, f"{path}.{index}" if path else str(index))
        ]
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


# The deepest nesting of arrays and objects a request body may have (the top level is 1). The
# deepest body of the API has 3 (`{"spots": [{...}]}`); the limit keeps recursive code (the JSON
# decoder, validation, the NUL check) far from Python's recursion limit.
MAX_JSON_DEPTH = 32

UTF8_BOM = "\ufeff".encode()


def decode_json_body(raw: bytes) -> Any:
    """The JSON value of a non-empty request body, strictly: UTF-8 only (a UTF-8 byte order mark
    is ignored, as RFC 8259 allows; UTF-16 and UTF-32 are refused, though json.loads(bytes) would
    guess them), no NaN or Infinity, no key twice in one object (which one would win is anyone's
    guess), nesting at most MAX_JSON_DEPTH deep. Anything else: 400 VALIDATION_ERROR."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValidationFailed(
            "The request body must be JSON encoded as UTF-8",
            details={"fields": {"body": f"not UTF-8 at byte {error.start}"}, "location": "body"},
        ) from error
    try:
        data = json.loads(text.removeprefix("\ufeff"), parse_constant=_refuse_constant, object_pairs_hook=_unique_keys)
    except RecursionError as error:
        raise _too_deep() from error
    except ValueError as error:  # JSONDecodeError, a refused constant or key, a number too long for int()
        raise ValidationFailed(
            "The request body is not valid JSON", details={"fields": {"body": str(error)}, "location": "body"}
        ) from error
    if _nesting_exceeds(data, MAX_JSON_DEPTH):
        raise _too_deep()
    return data


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        keys = [key for key, _ in pairs]
        twice = next(key for index, key in enumerate(keys) if key in keys[:index])
        raise ValueError(f"the key {twice!r} appears twice in one object")
    return found


def _too_deep() -> ValidationFailed:
    return ValidationFailed(
        f"The request body is nested more than {MAX_JSON_DEPTH} levels deep",
        details={"fields": {"body": f"nested deeper than {MAX_JSON_DEPTH} levels"}, "location": "body"},
    )


def _nesting_exceeds(value: Any, limit: int) -> bool:
    """Whether arrays and objects in `value` nest deeper than `limit`, without recursion."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


async def parse_body(model: type[BaseModel], request: Request) -> BaseModel:
    """The body as `model`, validated strictly from its JSON: each field must arrive as the JSON
    type its schema names (no "100" for an integer, no 1 or "true" for a boolean, no number for a
    string or a timestamp), so what the OpenAPI document says is what is accepted. pydantic's
    strict mode on JSON input still reads ISO 8601 strings as timestamps and strings as enums."""
    raw = await request.body()
    data = decode_json_body(raw) if raw else None
    # Strict JSON has no raw control characters in strings: NUL can only come from the escape
    # \u0000, so a body without one needs no walk through every value.
    if b"\\u0000" in raw and (bad := _nul_fields(data)):
        raise ValidationFailed(
            "Text may not contain NUL characters",
            details={"fields": dict.fromkeys(bad, "contains a NUL character")},
        )
    try:
        # from the bytes again (the decoder above only checked them): JSON mode is what makes
        # pydantic's strict mode JSON's type rules
        return model.model_validate_json(raw.removeprefix(UTF8_BOM) if raw else b"null", strict=True)
    except ValidationError as error:
        raise ValidationFailed("The request body is invalid", details=field_errors(error, "body")) from error


async def refuse_body(request: Request) -> None:
    """Endpoints that take no body (GETs, DELETEs, refunds, ...) accept none, or the empty object
    `{}`; anything else is 400, so a malformed or unexpected body is never silently ignored
    (a client that thinks it sent, say, a refund reason learns that nothing reads it)."""
    raw = await request.body()
    if raw and decode_json_body(raw) != {}:
        raise ValidationFailed(
            "This endpoint takes no request body: send none, or {}",
            details={"fields": {"body": "no body expected"}, "location": "body"},
        )


def parse_query(model: type[BaseModel], request: Request) -> BaseModel:
    params = dict(request.query_params.items())
    try:
        return model.model_validate(params)
    except ValidationError as error:
        raise ValidationFailed("Invalid query parameters", details=field_errors(error, "query")) from error
