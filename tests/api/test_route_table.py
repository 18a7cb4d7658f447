"""The /api/v1 route table is declared explicitly (routes/api.py): every route module's router is
listed, no method and path is declared twice, and a handler's `Call[Body, Query]` annotation
names the models its endpoint parses (so mypy checks the handler against what it receives)."""

from __future__ import annotations

import importlib
import pkgutil
from collections import Counter

import httpx
import pytest

import garage.routes
from garage.routes.api import ENDPOINTS, ROUTERS
from garage.routes.endpoint import Call, Router
from garage.routes.models import ListQuery, RequestModel
from garage.routes.openapi import build_spec
from garage.vocabulary import Role


def test_every_route_modules_router_is_in_the_route_table() -> None:
    declared: dict[str, Router] = {}
    for module_info in pkgutil.iter_modules(garage.routes.__path__):
        module = importlib.import_module(f"garage.routes.{module_info.name}")
        declared.update({f"{module.__name__}.{name}": value for name, value in vars(module).items()
                         if isinstance(value, Router)})
    assert declared, "no route module declares a Router"
    forgotten = [name for name, router in declared.items() if not any(router is listed for listed in ROUTERS)]
    assert forgotten == []


def test_no_method_and_path_is_declared_twice() -> None:
    twice = [key for key, count in Counter((ep.method, ep.path) for ep in ENDPOINTS).items() if count > 1]
    assert twice == []
    # 36, GET /events and /events/stream, the four webhook routes; API-operations.md's operations: permits
    # and the deny list (7), validators, validations and their report (6), void, exit and quote by plate (3)
    assert len(ENDPOINTS) == 58


class NameIn(RequestModel):
    name: str


def test_a_handler_must_take_the_call_type_of_its_endpoint() -> None:
    router = Router()

    async def takes_nothing(call: Call[None, None]) -> None: ...

    async def takes_a_name(call: Call[NameIn, ListQuery]) -> None: ...

    with pytest.raises(TypeError, match=r"takes_nothing must take a Call\[NameIn, None\]"):
        router.endpoint("POST", "/x", role=Role.ADMIN, summary="x", tag="x", body=NameIn)(takes_nothing)
    with pytest.raises(TypeError, match=r"takes_a_name must take a Call\[NameIn, None\]"):
        router.endpoint("POST", "/x", role=Role.ADMIN, summary="x", tag="x", body=NameIn)(takes_a_name)
    with pytest.raises(TypeError, match=r"takes_a_name must take a Call\[None, ListQuery\]"):
        router.endpoint("GET", "/x", role=Role.VIEWER, summary="x", tag="x", query=ListQuery)(takes_a_name)
    assert router.endpoints == []
    router.endpoint("POST", "/x", role=Role.ADMIN, summary="x", tag="x", body=NameIn, query=ListQuery)(takes_a_name)
    router.endpoint("GET", "/x", role=Role.VIEWER, summary="x", tag="x")(takes_nothing)
    assert [ep.handler for ep in router.endpoints] == [takes_a_name, takes_nothing]


def test_the_served_openapi_document_is_built_from_the_route_table(anonymous: httpx.Client) -> None:
    served = anonymous.get("/openapi.json").json()
    assert served == build_spec(ENDPOINTS)
    assert [path for path in served["paths"] if path.startswith("/api/v1/")] == list(
        dict.fromkeys(f"/api/v1{ep.path}" for ep in ENDPOINTS))
