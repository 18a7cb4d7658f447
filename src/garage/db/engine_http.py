"""The Prisma client's HTTP session to its query engine, on aiohttp directly.

Every repository call is one HTTP request to the engine on loopback, so the client's own cost per
request counts. Prisma Client Python talks to its engine through httpx; httpx's request and
response models cost about as much per call as the engine needs to answer a find_unique
(bench/engine_bench.py: the "HTTP round trip" row). This session keeps the client's interface
(prisma's AsyncHTTP: request -> a response with status, headers, json(), text()) on one pooled
aiohttp session and nothing in between. aiohttp: a well-kept asyncio HTTP client with C-accelerated
parsing, and the fastest of the ones measured for this (httpx on httpcore, httpx on aiohttp).

Connection failures are raised as the httpx errors garage/db/retry.py classifies (a refused
connection: the engine is not there, nothing was sent; a broken one or a request that timed out:
the outcome is unknown). Each request may carry its own timeout (garage/db derives it from the call's
deadline); without one the session's backstop applies.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import httpx
from prisma._async_http import AsyncHTTP
from prisma.http_abstract import AbstractResponse

# The backstop for requests without a timeout of their own (work inside a transaction, commits):
# Prisma's default for its httpx session (prisma/http_abstract.py DEFAULT_CONFIG), 30 s per phase.
_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=30)


class EngineResponse(AbstractResponse[bytes]):
    """A response read whole (engine answers are small JSON documents)."""

    __slots__ = ("_headers", "_status")

    def __init__(self, status: int, headers: httpx.Headers, body: bytes) -> None:
        super().__init__(body)
        self._status = status
        self._headers = headers

    @property
    def status(self) -> int:
        return self._status

    @property
    def headers(self) -> httpx.Headers:
        return self._headers

    async def json(self, **kwargs: Any) -> Any:
        return json.loads(self.original, **kwargs)

    async def text(self, **kwargs: Any) -> str:
        return self.original.decode()


class AiohttpEngineSession(AsyncHTTP):
    """prisma's AsyncHTTP with an aiohttp.ClientSession in place of httpx.AsyncClient."""

    def open(self) -> None:
        connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=None, enable_cleanup_closed=False)
        self.session = aiohttp.ClientSession(connector=connector, timeout=_TIMEOUT)  # type: ignore[assignment]

    async def request(self, method: Any, url: str, **kwargs: Any) -> EngineResponse:  # type: ignore[override]
        """kwargs: content, headers, and timeout (seconds for the whole request; None: the backstop)."""
        session: aiohttp.ClientSession = self.session  # type: ignore[assignment]
        seconds = kwargs.get("timeout")
        timeout = _TIMEOUT if seconds is None else aiohttp.ClientTimeout(total=seconds)
        try:
            async with session.request(
                method, url, data=kwargs.get("content"), headers=kwargs.get("headers"), timeout=timeout
            ) as reply:
                body = await reply.read()
                return EngineResponse(reply.status, httpx.Headers(dict(reply.headers)), body)
        except aiohttp.ClientConnectorError as error:
            raise httpx.ConnectError(str(error)) from error
        except (TimeoutError, aiohttp.ClientError) as error:
            raise httpx.ReadError(str(error) or type(error).__name__) from error

    async def close(self) -> None:
        if self.should_close():
            session: aiohttp.ClientSession = self.session  # type: ignore[assignment]
            await session.close()
            self.session = None  # type: ignore[assignment]

    async def download(self, url: str, dest: str) -> None:  # pragma: no cover - engines are never downloaded
        raise NotImplementedError("the query engine is installed by npm, never downloaded")
