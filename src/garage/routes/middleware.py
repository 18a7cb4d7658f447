"""ASGI middleware: the request id, the answer to unexpected errors (500), request body limit (413)
and request metrics by route."""

from __future__ import annotations

import time

from prometheus_client import Counter, Histogram
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from garage.errors import PayloadTooLarge
from garage.logging_setup import REQUEST_ID, new_request_id, valid_request_id
from garage.routes.errors import error_response, internal_error_response

REQUESTS = Counter(
    "garage_http_requests_total", "HTTP requests by route, method and status", ["route", "method", "status"]
)
LATENCY = Histogram(
    "garage_http_request_duration_seconds",
    "HTTP request latency by route and method",
    ["route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


class RequestId:
    """Gives each request an id: the client's X-Request-ID when it is a sane one (1-128 characters
    of A-Z a-z 0-9 . _ : -; anything else is replaced, so that nothing hostile reaches the logs),
    else a new random one. It is echoed in the response's X-Request-ID, stamped on every log line
    of the request (logging_setup.REQUEST_ID) and sent to the engine with its queries (garage/db)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = valid_request_id(given) or new_request_id()
        header = (b"x-request-id", request_id.encode("ascii"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), header]}
            await send(message)

        token = REQUEST_ID.set(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)


class AnswerUnexpectedErrors:
    """The last word on an exception nothing else handled (the outermost of our middleware): it is
    logged once and answered 500 INTERNAL with the envelope, and the connection stays usable.

    Starlette's ServerErrorMiddleware, outside this one, would answer and then re-raise; uvicorn
    then logs the exception a second time and closes the keep-alive connection after a response
    that did not say `Connection: close`, so the client's next request on it fails with a reset.
    A request whose response had already started cannot be answered again: its exception goes on
    to uvicorn, which logs it (once) and closes the connection, the only honest end of a
    half-sent response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch_start(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch_start)
        except Exception as error:
            if started:
                raise
            await internal_error_response(error)(scope, receive, send)


class BodySizeLimit:
    """Refuses bodies over the limit with 413 before the route reads them."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise PayloadTooLarge(f"The request body is larger than {self.max_bytes} bytes")
            return message

        await self.app(scope, limited_receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = PayloadTooLarge(f"The request body is larger than {self.max_bytes} bytes")
        await error_response(error.status, error.code, error.message)(scope, receive, send)


class RequestMetrics:
    """Counts and times every request under its route template (not the raw path)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route = route_template(scope)
            method = scope["method"]
            REQUESTS.labels(route, method, str(status)).inc()
            LATENCY.labels(route, method).observe(time.perf_counter() - started)


def route_template(scope: Scope) -> str:
    """The matched route's path template. Starlette's router leaves the route it matched in the
    scope; a request refused before routing (413) is matched here, once."""
    route = scope.get("route")
    if route is None:
        app = scope.get("app")
        route = next(
            (r for r in getattr(getattr(app, "router", None), "routes", []) if r.matches(scope)[0] is Match.FULL), None
        )
    return str(getattr(route, "path", "unmatched"))
