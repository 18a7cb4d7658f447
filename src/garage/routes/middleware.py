"""ASGI middleware: the client address behind trusted proxies, the request id, CORS, the answer to
unexpected errors (500), the throttle on failed authentication (429), request body limit (413) and
request metrics by route."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Collection
from pathlib import Path

from prometheus_client import Counter, Histogram
from starlette.middleware import Middleware
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from garage.errors import PayloadTooLarge, RateLimited
from garage.logging_setup import REQUEST_ID, new_request_id, valid_request_id
from garage.routes.errors import error_response, garage_error_response, internal_error_response
from garage.security.auth_failures import FailedAuthentications, auth_failures_path

log = logging.getLogger(__name__)

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


def forwarded_clients(trusted_proxies: Collection[str]) -> list[Middleware]:
    """Behind reverse proxies (GARAGE_TRUSTED_PROXIES), the client is the address they forward in
    X-Forwarded-For - the nearest one that is not itself a trusted proxy, as uvicorn's
    ProxyHeadersMiddleware reads it - for the throttle below and the access log alike. Without
    trusted proxies the client is the TCP peer: anyone can send X-Forwarded-For."""
    if not trusted_proxies:
        return []
    return [Middleware(ProxyHeadersMiddleware, trusted_hosts=list(trusted_proxies))]


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


# What a page of a listed origin may send and read (API-operations.md "Browser access and abuse
# limits"). Exposed: when to try again (429, 503) and the id to quote when reporting a problem.
CORS_METHODS = b"GET, HEAD, POST, PUT, PATCH, DELETE"
CORS_REQUEST_HEADERS = b"Authorization, Content-Type, Last-Event-ID"
CORS_EXPOSED_HEADERS = b"Retry-After, X-Request-ID"
# How long a browser reuses a preflight's answer: one preflight per ten minutes rather than one per
# request, and a change of the lists reaches open pages within those ten minutes.
CORS_MAX_AGE_SECONDS = 600


class Cors:
    """CORS for the exact origins of GARAGE_CORS_ORIGINS; nothing at all when there are none.

    A request whose one `Origin` is listed gets `Access-Control-Allow-Origin: <origin>` and
    `Access-Control-Expose-Headers` on whatever answers it, errors included; a preflight from a
    listed origin (OPTIONS with Access-Control-Request-Method) is answered here, 204 with the
    methods and headers the API takes, whatever it asked for (the browser compares). Any other
    request, preflights from unlisted origins included, goes on as if CORS did not exist. Every
    response carries `Vary: Origin`, so a shared cache never serves one origin's answer to another.
    No credentials: API keys travel in Authorization, never in cookies.

    Not Starlette's CORSMiddleware (1.10): it answers preflights 200 rather than 204, answers a
    preflight from an unlisted origin itself (400 in plain text, with the allowed methods and
    headers) instead of leaving it alone, and sends Access-Control-Expose-Headers to unlisted
    origins too. Placed just inside RequestId, outside the rest (app.py), so that every
    response, the unexpected-error 500, the 413 and the 429 of the middleware included, passes
    through it, and its preflight answers carry a request id."""

    def __init__(self, app: ASGIApp, origins: Collection[str]) -> None:
        self.app = app
        self.origins = frozenset(origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.origins:
            await self.app(scope, receive, send)
            return
        origins = [value for name, value in scope["headers"] if name == b"origin"]
        origin = origins[0] if len(origins) == 1 and origins[0].decode("latin-1") in self.origins else None
        if origin is not None and scope["method"] == "OPTIONS":
            if any(name == b"access-control-request-method" for name, _ in scope["headers"]):
                await self._preflight(origin, send)
                return
        added = [(b"vary", b"Origin")]
        if origin is not None:
            added += [
                (b"access-control-allow-origin", origin),
                (b"access-control-expose-headers", CORS_EXPOSED_HEADERS),
            ]

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *added]}
            await send(message)

        await self.app(scope, receive, send_with_cors)

    @staticmethod
    async def _preflight(origin: bytes, send: Send) -> None:
        headers = [
            (b"access-control-allow-origin", origin),
            (b"access-control-allow-methods", CORS_METHODS),
            (b"access-control-allow-headers", CORS_REQUEST_HEADERS),
            (b"access-control-max-age", str(CORS_MAX_AGE_SECONDS).encode()),
            (b"vary", b"Origin"),
        ]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})


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


class ThrottleFailedAuthentication:
    """After `limit` failed authentications (401: a missing or wrong key) from one client address
    within the last minute (a sliding window), the address's further 401s are answered 429
    RATE_LIMITED instead, with Retry-After: the seconds until fewer than `limit` of its failures
    are within the window (refused requests count as failures). A request with a valid key never gets a 401,
    so it is never throttled and never counted: this costs it nothing but a look at the status.

    The counts are shared by every worker through `<db>.auth-failures` (security/auth_failures.py),
    opened at the first failure. The client address is the TCP peer, or what trusted proxies
    forward (forwarded_clients above). If the file cannot be used (a full or read-only disk), the
    error is logged and the 401 goes out as it is: a broken throttle must not stop the service."""

    def __init__(self, app: ASGIApp, database: Path, limit: int) -> None:
        self.app = app
        self.path = auth_failures_path(database)
        self.limit = limit
        self._failures: FailedAuthentications | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        replaced = False

        async def throttle(message: Message) -> None:
            nonlocal replaced
            if replaced:
                return  # the rest of the 401 that the 429 replaced
            if message["type"] == "http.response.start" and message["status"] == 401:
                refusal = self._refusal(scope)
                if refusal is not None:
                    replaced = True
                    await refusal(scope, receive, send)
                    return
            await send(message)

        await self.app(scope, receive, throttle)

    def _refusal(self, scope: Scope) -> Response | None:
        """Counts the failure; the 429 to send instead of the 401 when the address is over the limit."""
        address = client_address(scope)
        try:
            if self._failures is None:
                self._failures = FailedAuthentications(self.path, limit=self.limit)
            tally = self._failures.record(address, time.time())
        except OSError:
            log.exception("could not count a failed authentication in %s; answered 401 unthrottled", self.path)
            return None
        if not tally.over:
            return None
        if tally.first_refusal:
            log.warning("%s failed authentication %d times within a minute: throttled", address, self.limit)
        return garage_error_response(
            RateLimited(
                "Too many requests without a valid API key from this address: send a valid key, "
                "or wait for the time in Retry-After",
                retry_after=max(1, math.ceil(tally.retry_after)),
            )
        )


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
