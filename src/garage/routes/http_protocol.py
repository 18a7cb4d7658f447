"""The HTTP server's own limits: uvicorn's httptools protocol, bounded in everything a client
controls before the application sees a request.

uvicorn's HttpToolsProtocol (uvicorn 0.54, httptools/llhttp) bounds none of these: it takes a
request target or a header block of any size, waits forever for a head or a body that stops
arriving, and arms its keep-alive timer only after a first response, so a connection that never
sends a request stays open for good. This subclass adds, from the settings (docs/operations.md,
"HTTP limits"):

- a request target longer than GARAGE_MAX_URL_BYTES: 414 URI_TOO_LONG;
- a header block larger than GARAGE_MAX_HEADER_BYTES: 431 HEADERS_TOO_LARGE;
- a request whose head and body have not all arrived GARAGE_REQUEST_READ_TIMEOUT_SECONDS after its
  first byte: 408 REQUEST_TIMEOUT when no response to it has started, else the connection is closed.
  The clock waits while the service itself is not reading (its route has not yet consumed the body
  uvicorn buffered, or has not yet sent the "100 Continue" the client waits for): that delay is not
  the client's;
- no request in progress for GARAGE_KEEP_ALIVE_TIMEOUT_SECONDS, from the connection's start or the
  end of the last response: the connection is closed;
- a request that is not HTTP/1.x: 400 VALIDATION_ERROR (uvicorn answers it in plain text).

Answers written here carry the contract's envelope (routes/errors.error_body) and
`Connection: close`. The server then stops sending but goes on reading, discarding, for up to
LINGER_SECONDS, so that a client still sending its oversized request reads the answer rather than a
connection reset, and closes.

Why here and like this: the limits are HTTP and nothing else, so they live in the HTTP layer
(routes/) beside the envelope they answer with, not in runtime/. A subclass of uvicorn's own protocol
keeps httptools' speed and uvicorn's handling of everything else; h11 bounds only the head size
(answering with a plain 400), has no read timeout either and is slower; a proxy in front would
also do, but the service must be safe on its own. `garage serve` passes the class as uvicorn's
`http`; every worker process imports it and reads the limits from the same settings as the app
factory in that process.
"""

from __future__ import annotations

import asyncio
import functools
from asyncio import TimerHandle
from dataclasses import dataclass
from typing import Any

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol, RequestResponseCycle
from uvicorn.server import ServerState

from garage.config import Settings, load_settings
from garage.errors import GarageError, GarageException, HeadersTooLarge, RequestTimeout, UriTooLong, ValidationFailed
from garage.routes.errors import error_body
from garage.routes.models import JsonResponse

# How long a refused connection is still read (and the input discarded) before it is closed.
LINGER_SECONDS = 2.0
# A request line's bytes besides its target: method, two spaces, "HTTP/1.1", CRLF (generously).
REQUEST_LINE_BYTES = 32


@dataclass(frozen=True)
class ServerLimits:
    max_url_bytes: int
    max_header_bytes: int
    request_read_timeout_seconds: float
    keep_alive_timeout_seconds: float

    @classmethod
    def from_settings(cls, settings: Settings) -> ServerLimits:
        return cls(
            max_url_bytes=settings.max_url_bytes,
            max_header_bytes=settings.max_header_bytes,
            request_read_timeout_seconds=settings.request_read_timeout_seconds,
            keep_alive_timeout_seconds=settings.keep_alive_timeout_seconds,
        )


@functools.cache
def configured_limits() -> ServerLimits:
    """Once per process: the settings the app factory (garage.app.create_app) reads there too."""
    return ServerLimits.from_settings(load_settings())


class RequestRefused(GarageException):
    """Raised in a parser callback; httptools re-raises it from feed_data as the context of an
    HttpParserCallbackError."""

    def __init__(self, error: GarageError) -> None:
        super().__init__(error.message)
        self.error = error


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """One HTTP/1.1 connection, as uvicorn's HttpToolsProtocol, with the limits above."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = configured_limits()
        # uvicorn arms its keep-alive timer with this after each response; it is our idle timeout.
        self.timeout_keep_alive = self.limits.keep_alive_timeout_seconds  # type: ignore[assignment]
        self.url = b""
        self.in_message = False  # between a request's first byte and the end of its body
        self.reading_head = True  # no request yet, or the current one's head is not complete
        self.head_bytes = 0  # received since the current head began (an upper bound)
        self.header_bytes = 0  # the current request's complete header lines
        self.message_started = 0.0  # loop time of the current request's first byte
        self.read_deadline: TimerHandle | None = None
        self.refusing = False  # an answer was written: input is discarded until the close
        self.linger: TimerHandle | None = None

    # Connection events

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_idle_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._unset_keepalive_if_required()
        self._cancel_read_deadline()
        if self.linger is not None:
            self.linger.cancel()
            self.linger = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.refusing:
            return
        self._unset_keepalive_if_required()
        if self.reading_head:
            self.head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError as error:
            if isinstance(error.__context__, RequestRefused):
                self.refuse(error.__context__.error)
            else:
                self.refuse(ValidationFailed("The request is not valid HTTP/1.1", details={"parser": str(error)}))
            return
        if self.reading_head and self.head_bytes - len(self.url) > self.limits.max_header_bytes + REQUEST_LINE_BYTES:
            # A header line still arriving: httptools keeps it whole until its end, so it is
            # bounded here, by the bytes received, before it ever reaches on_header.
            self.refuse(self._headers_too_large())
            return
        if self.in_message:
            # Armed only for a request still incomplete after a read: the usual one, whole in
            # one read, costs no timer at all.
            if self.read_deadline is None:
                self._arm_read_deadline(
                    self.message_started + self.limits.request_read_timeout_seconds - self.loop.time()
                )
        elif not self._response_in_progress() and not self.pipeline:
            self._arm_idle_timer()

    # Parser callbacks

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.in_message = True
        self.header_bytes = 0
        self.message_started = self.loop.time()
        self._cancel_read_deadline()

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > self.limits.max_url_bytes:
            raise RequestRefused(UriTooLong(f"The request target is longer than {self.limits.max_url_bytes} bytes"))

    def on_header(self, name: bytes, value: bytes) -> None:
        self.header_bytes += len(name) + len(value) + 4  # ": " and CRLF
        if self.header_bytes > self.limits.max_header_bytes:
            raise RequestRefused(self._headers_too_large())
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self.reading_head = False
        self.head_bytes = 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self.in_message = False
        self.reading_head = True
        self.head_bytes = 0
        self._cancel_read_deadline()
        super().on_message_complete()

    # Refusals and timers

    def refuse(self, error: GarageError) -> None:
        """Answers the request being read with `error` (envelope, Connection: close), then lingers.
        A request pipelined behind a response still being written cannot be answered first: the
        connection closes once that response is complete (or at once, when the refused request's
        head was complete and it waits in uvicorn's queue, where no earlier cycle is at hand)."""
        if self.refusing or self.transport.is_closing():
            return
        self.refusing = True
        self._cancel_read_deadline()
        self._unset_keepalive_if_required()
        current = self._cycle_being_read()
        if current is None and self._response_in_progress():
            self.cycle.keep_alive = False
            return
        if current is not None and any(queued is current for queued, _ in self.pipeline):
            self.transport.close()
            return
        if current is not None:
            if current.response_started:
                current.keep_alive = False  # it closes the connection once complete
                if current.response_complete:
                    self.transport.close()
                return
            # its route may still be running: it now reads a disconnect and its answer goes nowhere
            current.disconnected = True
            current.message_event.set()
        log = self.logger.info if isinstance(error, RequestTimeout) else self.logger.warning
        log("Refused a request with %d %s: %s %s", error.status, error.code, error.message, error.details or "")
        self.transport.write(self._answer(error))
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.flow.resume_reading()
        self.linger = self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def _answer(self, error: GarageError) -> bytes:
        body = error_body(error)
        lines = [STATUS_LINE[error.status]]
        for name, value in [
            *self.server_state.default_headers,
            (b"content-type", JsonResponse.media_type.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]:
            lines += [name, b": ", value, b"\r\n"]
        return b"".join([*lines, b"\r\n", body])

    def _read_timed_out(self) -> None:
        self.read_deadline = None
        if not self.in_message or self.transport.is_closing():
            return
        current = self._cycle_being_read()
        if self.flow.read_paused or (current is not None and current.waiting_for_100_continue):
            # The service is not reading (its route has not consumed the buffered body yet), or
            # the client rightly waits for its "100 Continue", which comes when the route reads.
            self._arm_read_deadline(self.limits.request_read_timeout_seconds)
            return
        self.refuse(
            RequestTimeout(f"The request did not arrive in full within {self.limits.request_read_timeout_seconds:g} s")
        )

    def _cycle_being_read(self) -> RequestResponseCycle | None:
        """The cycle of the request whose head or body is arriving: none before its head is
        complete; self.cycle after (uvicorn makes it then), unless it waits behind an earlier one."""
        if self.reading_head or not self.in_message:
            return None
        return self.cycle

    def _response_in_progress(self) -> bool:
        return self.cycle is not None and not self.cycle.response_complete

    def _arm_idle_timer(self) -> None:
        self._unset_keepalive_if_required()
        self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive, self.timeout_keep_alive_handler)

    def _arm_read_deadline(self, delay: float) -> None:
        self.read_deadline = self.loop.call_later(max(delay, 0.0), self._read_timed_out)

    def _cancel_read_deadline(self) -> None:
        if self.read_deadline is not None:
            self.read_deadline.cancel()
            self.read_deadline = None

    def _headers_too_large(self) -> HeadersTooLarge:
        return HeadersTooLarge(f"The request headers are larger than {self.limits.max_header_bytes} bytes")
