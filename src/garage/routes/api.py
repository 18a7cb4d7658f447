"""The /api/v1 route table, listed explicitly: the routers of the route modules, in the order
their paths appear in the route table and in /openapi.json. A route module that is not listed
here serves nothing (tests/api/test_route_table.py fails for one that is forgotten)."""

from __future__ import annotations

from garage.routes import (
    admin,
    events,
    garages,
    parking,
    payments,
    permits,
    reports,
    sessions,
    spots,
    validations,
    vehicles,
    webhooks,
)
from garage.routes.endpoint import Endpoint, Router

ROUTERS: tuple[Router, ...] = (
    admin.ROUTER,
    garages.ROUTER,
    payments.ROUTER,
    sessions.ROUTER,
    spots.ROUTER,
    vehicles.ROUTER,
    parking.ROUTER,
    reports.ROUTER,
    permits.ROUTER,
    validations.ROUTER,
    events.ROUTER,
    webhooks.ROUTER,
)

ENDPOINTS: tuple[Endpoint, ...] = tuple(endpoint for router in ROUTERS for endpoint in router.endpoints)
