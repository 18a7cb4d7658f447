"""Garages through HTTP: create (with the default rate), read, list, change, soft delete, roles,
capacity, validation."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

GARAGE_KEYS = {"id", "name", "address", "timezone", "currency", "capacity", "closed", "createdAt", "updatedAt"}


def create_garage(admin: httpx.Client, **fields: Any) -> dict[str, Any]:
    body = {"name": f"Garage {uuid.uuid4().hex[:8]}", "address": "1 Main St", "capacity": 100, **fields}
    response = admin.post("/api/v1/garages", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def add_spots(admin: httpx.Client, garage_id: str, *spots: dict[str, Any]) -> list[dict[str, Any]]:
    response = admin.post(f"/api/v1/garages/{garage_id}/spots", json={"spots": list(spots)})
    assert response.status_code == 201, response.text
    return list(response.json()["spots"])


def new_plate() -> str:
    return "P" + uuid.uuid4().hex[:7].upper()


def park(operator: httpx.Client, garage_id: str, spot_id: str | None = None) -> dict[str, Any]:
    """Checks a new car in (the check-in slice's endpoint): an ACTIVE session, the spot OCCUPIED."""
    body: dict[str, Any] = {"licensePlate": new_plate(), "vehicleType": "CAR"}
    if spot_id is not None:
        body["spotId"] = spot_id
    response = operator.post(f"/api/v1/garages/{garage_id}/check-in", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def audit_of(admin: httpx.Client, entity: str, entity_id: str) -> list[dict[str, Any]]:
    response = admin.get("/api/v1/admin/audit", params={"entity": entity, "entityId": entity_id, "limit": 200})
    assert response.status_code == 200
    return list(response.json()["items"])


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    return dict(error)


def assert_invalid(response: httpx.Response, field: str) -> None:
    error = error_of(response, 400, "VALIDATION_ERROR")
    assert any(field in name for name in error["details"]["fields"]), (field, error)


def test_create_returns_the_garage_with_defaults(admin: httpx.Client) -> None:
    response = admin.post("/api/v1/garages", json={"name": "  Central  ", "address": "5 Station Rd", "capacity": 250})
    assert response.status_code == 201
    garage = response.json()
    assert set(garage) == GARAGE_KEYS
    assert (garage["name"], garage["address"], garage["capacity"]) == ("Central", "5 Station Rd", 250)
    assert (garage["timezone"], garage["currency"]) == ("UTC", "USD")
    assert garage["closed"] is False  # open to check-ins until an admin closes it
    assert garage["createdAt"].endswith("Z") and garage["updatedAt"].endswith("Z")
    assert admin.get(f"/api/v1/garages/{garage['id']}").json() == garage


def test_create_takes_timezone_and_currency(admin: httpx.Client) -> None:
    garage = create_garage(admin, timezone="Europe/Berlin", currency="EUR", capacity=1)
    assert (garage["timezone"], garage["currency"], garage["capacity"]) == ("Europe/Berlin", "EUR", 1)
    assert create_garage(admin, capacity=100_000)["capacity"] == 100_000


def test_a_new_garage_has_the_default_rate_and_is_audited(admin: httpx.Client) -> None:
    garage = create_garage(admin)
    rate = admin.get(f"/api/v1/garages/{garage['id']}/rates").json()
    assert rate == {
        "garageId": garage["id"], "hourlyRateCents": 300, "incrementMinutes": 15, "graceMinutes": 10,
        "dailyMaxCents": 2500, "lostTicketFeeCents": 5000, "vehicleTypeRates": {}, "flatRates": [],
    }
    (created,) = audit_of(admin, "Garage", garage["id"])
    assert created["action"] == "CREATE" and created["before"] is None
    assert created["after"]["name"] == garage["name"] and created["after"]["capacity"] == 100
    (rate_created,) = audit_of(admin, "Rate", garage["id"])
    assert rate_created["action"] == "CREATE" and rate_created["after"]["hourlyRateCents"] == 300


def test_list_is_newest_first_and_pages_walk_every_garage_once(admin: httpx.Client, viewer: httpx.Client) -> None:
    made = [create_garage(admin)["id"] for _ in range(5)]
    everything = viewer.get("/api/v1/garages", params={"limit": 200}).json()
    ids = [garage["id"] for garage in everything["items"]]
    assert ids.index(made[4]) < ids.index(made[3]) < ids.index(made[0])
    created_at = [garage["createdAt"] for garage in everything["items"]]
    assert created_at == sorted(created_at, reverse=True)
    walked: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = viewer.get("/api/v1/garages", params=params).json()
        assert len(page["items"]) <= 2
        walked.extend(garage["id"] for garage in page["items"])
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert walked == ids


def test_default_page_size_is_50(admin: httpx.Client) -> None:
    while len(admin.get("/api/v1/garages", params={"limit": 200}).json()["items"]) <= 50:
        create_garage(admin)
    page = admin.get("/api/v1/garages").json()
    assert len(page["items"]) == 50 and page["nextCursor"] is not None


def test_bad_list_parameters_are_400(viewer: httpx.Client) -> None:
    for params, field in (({"limit": 0}, "limit"), ({"limit": 201}, "limit"), ({"limit": "x"}, "limit"),
                          ({"cursor": "not-a-cursor!"}, "cursor")):
        assert_invalid(viewer.get("/api/v1/garages", params=params), field)


def test_patch_changes_given_fields_and_audits(admin: httpx.Client) -> None:
    garage = create_garage(admin)
    response = admin.patch(
        f"/api/v1/garages/{garage['id']}",
        json={"name": "Renamed", "timezone": "America/New_York", "currency": "CAD", "capacity": 5},
    )
    assert response.status_code == 200
    changed = response.json()
    assert (changed["name"], changed["timezone"], changed["currency"], changed["capacity"]) == (
        "Renamed", "America/New_York", "CAD", 5,
    )
    assert changed["address"] == garage["address"] and changed["createdAt"] == garage["createdAt"]
    assert changed["updatedAt"] >= garage["updatedAt"]
    assert admin.get(f"/api/v1/garages/{garage['id']}").json() == changed
    update = audit_of(admin, "Garage", garage["id"])[0]
    assert update["action"] == "UPDATE"
    assert (update["before"]["name"], update["after"]["name"]) == (garage["name"], "Renamed")


def test_an_empty_patch_changes_nothing(admin: httpx.Client) -> None:
    garage = create_garage(admin)
    response = admin.patch(f"/api/v1/garages/{garage['id']}", json={})
    assert response.status_code == 200 and response.json() == garage
    assert [entry["action"] for entry in audit_of(admin, "Garage", garage["id"])] == ["CREATE"]


def test_capacity_cannot_go_below_the_live_spot_count(admin: httpx.Client) -> None:
    garage = create_garage(admin, capacity=10)
    spots = add_spots(admin, garage["id"], *({"level": 0, "number": str(n), "type": "STANDARD"} for n in range(1, 5)))
    error = error_of(admin.patch(f"/api/v1/garages/{garage['id']}", json={"capacity": 3}), 409, "CAPACITY_EXCEEDED")
    assert error["details"] == {"capacity": 3, "liveSpots": 4}
    assert admin.get(f"/api/v1/garages/{garage['id']}").json()["capacity"] == 10
    assert admin.patch(f"/api/v1/garages/{garage['id']}", json={"capacity": 4}).json()["capacity"] == 4
    # deleted spots do not count
    assert admin.delete(f"/api/v1/spots/{spots[0]['id']}").status_code == 204
    assert admin.patch(f"/api/v1/garages/{garage['id']}", json={"capacity": 3}).json()["capacity"] == 3


def test_delete_soft_deletes_the_garage_and_its_spots(admin: httpx.Client, viewer: httpx.Client) -> None:
    garage = create_garage(admin)
    (spot,) = add_spots(admin, garage["id"], {"level": 1, "number": "1", "type": "COMPACT"})
    response = admin.delete(f"/api/v1/garages/{garage['id']}")
    assert response.status_code == 204 and response.content == b""
    gid = garage["id"]
    for path in (f"/api/v1/garages/{gid}", f"/api/v1/garages/{gid}/spots", f"/api/v1/garages/{gid}/occupancy",
                 f"/api/v1/garages/{gid}/rates", f"/api/v1/spots/{spot['id']}"):
        error_of(viewer.get(path), 404, "NOT_FOUND")
    listed = viewer.get("/api/v1/garages", params={"limit": 200}).json()["items"]
    assert gid not in [item["id"] for item in listed]
    error_of(admin.patch(f"/api/v1/garages/{gid}", json={"name": "x"}), 404, "NOT_FOUND")
    error_of(admin.delete(f"/api/v1/garages/{gid}"), 404, "NOT_FOUND")
    error_of(admin.put(f"/api/v1/garages/{gid}/rates", json={
        "hourlyRateCents": 1, "incrementMinutes": 1, "graceMinutes": 0, "dailyMaxCents": 1, "lostTicketFeeCents": 1,
    }), 404, "NOT_FOUND")
    error_of(admin.post(f"/api/v1/garages/{gid}/spots", json={"level": 1, "number": "2", "type": "EV"}), 404, "NOT_FOUND")
    deleted = audit_of(admin, "Garage", gid)[0]
    assert deleted["action"] == "DELETE" and deleted["before"]["deletedAt"] is None
    assert deleted["after"]["deletedAt"] is not None and deleted["after"]["spotsDeleted"] == 1


def test_a_garage_with_a_parked_vehicle_cannot_be_deleted(admin: httpx.Client, operator: httpx.Client) -> None:
    garage = create_garage(admin)
    add_spots(admin, garage["id"], {"level": 0, "number": "1", "type": "STANDARD"})
    parked = park(operator, garage["id"])
    error = error_of(admin.delete(f"/api/v1/garages/{garage['id']}"), 409, "HAS_ACTIVE_SESSIONS")
    assert error["details"] == {"activeSessions": 1}
    assert admin.get(f"/api/v1/garages/{garage['id']}").status_code == 200
    checked_out = operator.post(f"/api/v1/sessions/{parked['session']['id']}/check-out", json={"paymentMethod": "CASH"})
    assert checked_out.status_code == 200, checked_out.text
    assert admin.delete(f"/api/v1/garages/{garage['id']}").status_code == 204


def test_unknown_garage_is_404(viewer: httpx.Client, admin: httpx.Client) -> None:
    error_of(viewer.get("/api/v1/garages/nope"), 404, "NOT_FOUND")
    error_of(admin.patch("/api/v1/garages/nope", json={"name": "x"}), 404, "NOT_FOUND")
    error_of(admin.delete("/api/v1/garages/nope"), 404, "NOT_FOUND")


def test_viewers_and_operators_read_but_only_admins_write(
    admin: httpx.Client, operator: httpx.Client, viewer: httpx.Client
) -> None:
    garage = create_garage(admin)
    path = f"/api/v1/garages/{garage['id']}"
    for client in (viewer, operator):
        assert client.get("/api/v1/garages").status_code == 200
        assert client.get(path).status_code == 200
        error_of(client.post("/api/v1/garages", json={"name": "x", "address": "y", "capacity": 1}), 403, "FORBIDDEN")
        error_of(client.patch(path, json={"name": "x"}), 403, "FORBIDDEN")
        error_of(client.delete(path), 403, "FORBIDDEN")
    assert admin.get(path).json() == garage


def test_anonymous_calls_are_401(anonymous: httpx.Client, admin: httpx.Client) -> None:
    garage = create_garage(admin)
    path = f"/api/v1/garages/{garage['id']}"
    for response in (
        anonymous.get("/api/v1/garages"), anonymous.post("/api/v1/garages", json={}), anonymous.get(path),
        anonymous.patch(path, json={}), anonymous.delete(path), anonymous.get(path + "/occupancy"),
    ):
        error_of(response, 401, "UNAUTHENTICATED")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"address": "a", "capacity": 1}, "name"),
        ({"name": "a", "capacity": 1}, "address"),
        ({"name": "a", "address": "b"}, "capacity"),
        ({"name": "", "address": "b", "capacity": 1}, "name"),
        ({"name": "   ", "address": "b", "capacity": 1}, "name"),
        ({"name": "n" * 201, "address": "b", "capacity": 1}, "name"),
        ({"name": "a", "address": "b" * 201, "capacity": 1}, "address"),
        ({"name": "a\u0000b", "address": "b", "capacity": 1}, "name"),
        ({"name": 5, "address": "b", "capacity": 1}, "name"),
        ({"name": "a", "address": "b", "capacity": 0}, "capacity"),
        ({"name": "a", "address": "b", "capacity": 100_001}, "capacity"),
        ({"name": "a", "address": "b", "capacity": -1}, "capacity"),
        ({"name": "a", "address": "b", "capacity": "10"}, "capacity"),
        ({"name": "a", "address": "b", "capacity": 1.5}, "capacity"),
        ({"name": "a", "address": "b", "capacity": True}, "capacity"),
        ({"name": "a", "address": "b", "capacity": 1, "currency": "usd"}, "currency"),
        ({"name": "a", "address": "b", "capacity": 1, "currency": "US"}, "currency"),
        ({"name": "a", "address": "b", "capacity": 1, "currency": "USDX"}, "currency"),
        ({"name": "a", "address": "b", "capacity": 1, "timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"name": "a", "address": "b", "capacity": 1, "timezone": "../../etc/passwd"}, "timezone"),
        ({"name": "a", "address": "b", "capacity": 1, "timezone": "localtime"}, "timezone"),
        ({"name": "a", "address": "b", "capacity": 1, "timezone": "europe/berlin"}, "timezone"),
        ({"name": "a", "address": "b", "capacity": 1, "timezone": "t" * 101}, "timezone"),
        ({"name": "a", "address": "b", "capacity": 1, "timezone": None}, "timezone"),
        ({"name": "a", "address": "b", "capacity": 1, "extra": True}, "extra"),
    ],
)
def test_invalid_create_bodies_are_400_naming_the_field(admin: httpx.Client, body: dict[str, Any], field: str) -> None:
    assert_invalid(admin.post("/api/v1/garages", json=body), field)


@pytest.mark.parametrize("raw", [b"{", b"", b"[]", b"null", b'"garage"', b"\xff\xfe"])
def test_malformed_create_bodies_are_400(admin: httpx.Client, raw: bytes) -> None:
    response = admin.post("/api/v1/garages", content=raw, headers={"content-type": "application/json"})
    assert_invalid(response, "body")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": None}, "name"),
        ({"capacity": None}, "capacity"),
        ({"capacity": 0}, "capacity"),
        ({"capacity": "5"}, "capacity"),
        ({"address": "a" * 201}, "address"),
        ({"currency": "eur"}, "currency"),
        ({"timezone": "Nowhere/City"}, "timezone"),
        ({"id": "other"}, "id"),
        ({"createdAt": "2026-01-01T00:00:00Z"}, "createdAt"),
    ],
)
def test_invalid_patch_bodies_are_400_naming_the_field(admin: httpx.Client, body: dict[str, Any], field: str) -> None:
    garage = create_garage(admin)
    assert_invalid(admin.patch(f"/api/v1/garages/{garage['id']}", json=body), field)
    assert admin.get(f"/api/v1/garages/{garage['id']}").json() == garage


def test_the_openapi_spec_documents_the_conflicts(live: Any) -> None:
    spec = httpx.get(f"{live.url}/openapi.json").json()
    patch = spec["paths"]["/api/v1/garages/{id}"]["patch"]
    assert patch["responses"]["409"]["description"] == "CAPACITY_EXCEEDED"
    delete = spec["paths"]["/api/v1/garages/{id}"]["delete"]
    assert "HAS_ACTIVE_SESSIONS" in delete["responses"]["409"]["description"]
    assert "204" in delete["responses"]
