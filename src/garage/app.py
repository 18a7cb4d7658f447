"""The Starlette application factory. The lifespan is the one place that opens and closes the
Prisma client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware

from garage.config import Settings, load_settings
from garage.db import create_prisma
from garage.routes import service
from garage.routes.errors import EXCEPTION_HANDLERS
from garage.routes.middleware import BodySizeLimit, RequestMetrics


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        db = create_prisma(settings)
        await db.connect()
        app.state.db = db
        try:
            yield
        finally:
            await db.disconnect()

    app = Starlette(
        routes=[*service.ROUTES],
        middleware=[
            Middleware(RequestMetrics),
            Middleware(BodySizeLimit, max_bytes=settings.max_body_bytes),
        ],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        lifespan=lifespan,
    )
    app.state.settings = settings
    return app
