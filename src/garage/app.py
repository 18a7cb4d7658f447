"""The Starlette application factory. The lifespan is the one place that opens and closes the
database client (garage/db) and builds the services on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware

from garage.config import Settings, load_settings
from garage.db import create_prisma
from garage.repositories.unit_of_work import Database
from garage.routes import api, docs, openapi, service
from garage.routes.endpoint import starlette_routes
from garage.routes.errors import EXCEPTION_HANDLERS
from garage.routes.middleware import (
    AnswerUnexpectedErrors,
    BodySizeLimit,
    Cors,
    RequestId,
    RequestMetrics,
    ThrottleFailedAuthentication,
    forwarded_clients,
)
from garage.runtime.integrity import refuse_damaged_database
from garage.runtime.locks import hold_serving_lock
from garage.runtime.scheduler import start_maintenance
from garage.services.container import Services


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as running:
            # Held while serving: `garage restore` refuses to run while any worker holds it.
            running.callback(hold_serving_lock(settings.database_path).release)
            refuse_damaged_database(settings)
            client = create_prisma(settings)
            await client.connect()
            running.push_async_callback(client.disconnect)
            app.state.services = services = Services.build(settings, Database(client))
            running.push_async_callback(services.archive_reader.close)
            running.push_async_callback(services.event_watcher.close)
            if settings.admin_api_key is not None:
                await services.keys.ensure_admin_key(settings.admin_api_key.get_secret_value())
            # Backups, the background integrity check, the disk space watch (runtime/scheduler.py).
            running.push_async_callback(start_maintenance(settings, services.backups, services.db).stop)
            yield

    app = Starlette(
        routes=[*service.ROUTES, *docs.routes(), *openapi.routes(api.ENDPOINTS), *starlette_routes(api.ENDPOINTS)],
        middleware=[
            # behind trusted reverse proxies only: the client address they forward (GARAGE_TRUSTED_PROXIES)
            *forwarded_clients(settings.trusted_proxies),
            # the request id, on every response (preflights included) and every log line of the request
            Middleware(RequestId),
            # CORS headers on every response below it, the 500s, 413s and 429s included
            Middleware(Cors, origins=settings.cors_origins),
            # an exception nothing else handled is answered here (routes/middleware.py)
            Middleware(AnswerUnexpectedErrors),
            Middleware(RequestMetrics),
            # inside the metrics, so that a 401 it turns into a 429 is counted as a 429
            Middleware(
                ThrottleFailedAuthentication,
                database=settings.database_path,
                limit=settings.auth_failures_per_minute,
            ),
            Middleware(BodySizeLimit, max_bytes=settings.max_body_bytes),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.settings = settings
    return app
