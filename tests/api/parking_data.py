"""Test data for the parking-flow API tests, made through the API itself: garages with spots,
fresh plates, check-ins."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

API = "/api/v1"


def new_plate(prefix: str = "P") -> str:
    return (prefix + uuid.uuid4().hex.upper())[:10]


def new_garage(admin: httpx.Client, spots: list[tuple[int, str, str]], *, currency: str = "USD",
               rate: dict[str, int] | None = None) -> tuple[str, dict[str, str]]:
    """A garage with `spots` as (level, number, type); returns its id and spot ids by "level/number"."""
    created = admin.post(f"{API}/garages", json={"name": f"garage {uuid.uuid4().hex[:8]}", "address": "1 Test Road",
                                                 "currency": currency, "capacity": max(1, len(spots))})
    assert created.status_code == 201, created.text
    garage_id = str(created.json()["id"])
    ids: dict[str, str] = {}
    if spots:
        made = admin.post(f"{API}/garages/{garage_id}/spots",
                          json={"spots": [{"level": level, "number": number, "type": kind} for level, number, kind in spots]})
        assert made.status_code == 201, made.text
        ids = {f"{s['level']}/{s['number']}": s["id"] for s in made.json()["spots"]}
    if rate is not None:
        put = admin.put(f"{API}/garages/{garage_id}/rates", json=rate)
        assert put.status_code == 200, put.text
    return garage_id, ids


def check_in(client: httpx.Client, garage_id: str, **body: Any) -> httpx.Response:
    return client.post(f"{API}/garages/{garage_id}/check-in", json=body)


def parked(client: httpx.Client, garage_id: str, vehicle_type: str = "CAR", **body: Any) -> dict[str, Any]:
    """Checks a new plate in and returns the 201 body."""
    response = check_in(client, garage_id, licensePlate=new_plate(), vehicleType=vehicle_type, **body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def error_code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


def walk(client: httpx.Client, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a list, following nextCursor page by page."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = dict(params)
        if cursor:
            query["cursor"] = cursor
        page = client.get(f"{API}{path}", params=query)
        assert page.status_code == 200, page.text
        body = page.json()
        items.extend(body["items"])
        cursor = body["nextCursor"]
        if cursor is None:
            return items
