"""Creating the Prisma client for the service. The Starlette lifespan (app.py) is the one place
that connects and disconnects it."""

from __future__ import annotations

import os
from typing import Any

from httpx_aiohttp import AiohttpTransport
from prisma import Prisma

from garage.config import Settings


def create_prisma(settings: Settings) -> Prisma:
    # The client finds its query engine through this variable: our engine server (engine/).
    os.environ["PRISMA_QUERY_ENGINE_BINARY"] = str(settings.query_engine_binary)
    if settings.log_queries:
        os.environ["ENGINE_SLOW_QUERY_MS"] = os.environ.get("ENGINE_SLOW_QUERY_MS", "100")
    # aiohttp's transport costs ~0.1 ms per call on loopback against httpcore's ~0.55 ms
    # (bench/engine_bench.py); every repository call pays it. Prisma passes `http` on to
    # httpx.AsyncClient, whose `transport` its HttpConfig type does not list.
    http: Any = {"transport": AiohttpTransport()}
    return Prisma(datasource={"url": settings.absolute_database_url}, http=http, log_queries=settings.log_queries)
