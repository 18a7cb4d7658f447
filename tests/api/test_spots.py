"""Spots through HTTP: one or bulk creation (all or nothing, capacity, duplicates), numeric-aware
lists and filters, status changes by operators, other changes by admins, soft delete."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.api.test_garages import add_spots, assert_invalid, audit_of, create_garage, error_of, park

SPOT_KEYS = {"id", "garageId", "level", "number", "type", "status", "createdAt", "updatedAt"}


def spot(number: str, level: int = 0, type: str = "STANDARD", **extra: Any) -> dict[str, Any]:
    return {"level": level, "number": number, "type": type, **extra}


def all_spots(client: httpx.Client, garage_id: str, **filters: Any) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/garages/{garage_id}/spots", params={"limit": 200, **filters})
    assert response.status_code == 200, response.text
    assert response.json()["nextCursor"] is None
    return list(response.json()["items"])


def live_total(client: httpx.Client, garage_id: str) -> int:
    return int(client.get(f"/api/v1/garages/{garage_id}/occupancy").json()["total"])


def test_create_one_spot_returns_it(admin: httpx.Client, viewer: httpx.Client) -> None:
    garage = create_garage(admin)
    response = admin.post(f"/api/v1/garages/{garage['id']}/spots", json={"level": -2, "number": " 10A ", "type": "EV"})
    assert response.status_code == 201
    created = response.json()
    assert set(created) == SPOT_KEYS
    assert (created["garageId"], created["level"], created["number"], created["type"], created["status"]) == (
        garage["id"], -2, "10A", "EV", "AVAILABLE",
    )
    assert created["createdAt"].endswith("Z")
    assert viewer.get(f"/api/v1/spots/{created['id']}").json() == created
    (entry,) = audit_of(admin, "Spot", created["id"])
    assert entry["action"] == "CREATE" and entry["after"]["number"] == "10A" and entry["actor"]


def test_a_spot_may_start_reserved_or_in_maintenance(admin: httpx.Client) -> None:
    garage = create_garage(admin)
    created = add_spots(admin, garage["id"], spot("1", status="RESERVED"), spot("2", status="MAINTENANCE"))
    assert [row["status"] for row in created] == ["RESERVED", "MAINTENANCE"]


def test_bulk_create_returns_spots_in_request_order(admin: httpx.Client, viewer: httpx.Client) -> None:
    garage = create_garage(admin)
    body = [spot("10", 1), spot("2", 1, "COMPACT"), spot("1", 0, "HANDICAP"), spot("10A", 1, "LARGE")]
    created = add_spots(admin, garage["id"], *body)
    assert [(row["level"], row["number"], row["type"]) for row in created] == [
        (item["level"], item["number"], item["type"]) for item in body
    ]
    assert len({row["id"] for row in created}) == 4
    for row in created:
        assert viewer.get(f"/api/v1/spots/{row['id']}").json() == row
        assert audit_of(admin, "Spot", row["id"])[0]["after"]["id"] == row["id"]


def test_list_orders_by_level_then_numeric_aware_number(admin: httpx.Client, viewer: httpx.Client) -> None:
    garage = create_garage(admin)
    add_spots(admin, garage["id"], *(spot(n, 1) for n in ["10A", "2", "B1", "10", "1", "A2", "A10", "100", "9"]))
    add_spots(admin, garage["id"], spot("5", -1), spot("3", 2))
    listed = [(row["level"], row["number"]) for row in all_spots(viewer, garage["id"])]
    assert listed == [(-1, "5")] + [(1, n) for n in ["1", "2", "9", "10", "10A", "100", "A2", "A10", "B1"]] + [(2, "3")]


def test_list_pages_walk_every_spot_once_in_order(admin: httpx.Client, viewer: httpx.Client) -> None:
    garage = create_garage(admin)
    add_spots(admin, garage["id"], *(spot(str(n), n % 3) for n in range(1, 24)))
    everything = [row["id"] for row in all_spots(viewer, garage["id"])]
    walked: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 5}
        if cursor:
            params["cursor"] = cursor
        page = viewer.get(f"/api/v1/garages/{garage['id']}/spots", params=params).json()
        walked.extend(row["id"] for row in page["items"])
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert walked == everything and len(walked) == 23


def test_list_filters_by_level_type_and_status(admin: httpx.Client, viewer: httpx.Client) -> None:
    garage = create_garage(admin)
    add_spots(
        admin, garage["id"], spot("1", 0, "EV"), spot("2", 0, "COMPACT", status="RESERVED"),
        spot("1", 1, "EV", status="MAINTENANCE"), spot("2", 1, "EV"),
    )
    gid = garage["id"]
    assert [(r["level"], r["number"]) for r in all_spots(viewer, gid, level=1)] == [(1, "1"), (1, "2")]
    assert [(r["level"], r["number"]) for r in all_spots(viewer, gid, type="EV")] == [(0, "1"), (1, "1"), (1, "2")]
    assert [(r["level"], r["number"]) for r in all_spots(viewer, gid, status="RESERVED")] == [(0, "2")]
    assert [(r["level"], r["number"]) for r in all_spots(viewer, gid, level=1, type="EV", status="AVAILABLE")] == [(1, "2")]
    assert all_spots(viewer, gid, type="LARGE") == []
    assert all_spots(viewer, gid, status="OCCUPIED") == []


@pytest.mark.parametrize(
    ("params", "field"),
    [({"level": "one"}, "level"), ({"level": 201}, "level"), ({"level": -21}, "level"), ({"type": "CAR"}, "type"),
     ({"status": "FREE"}, "status"), ({"limit": 0}, "limit"), ({"cursor": "%%%"}, "cursor")],
)
def test_bad_list_parameters_are_400(admin: httpx.Client, params: dict[str, Any], field: str) -> None:
    garage = create_garage(admin)
    assert_invalid(admin.get(f"/api/v1/garages/{garage['id']}/spots", params=params), field)


def test_spots_of_an_unknown_garage_are_404(admin: httpx.Client) -> None:
    error_of(admin.get("/api/v1/garages/nope/spots"), 404, "NOT_FOUND")
    error_of(admin.post("/api/v1/garages/nope/spots", json=spot("1")), 404, "NOT_FOUND")


def test_a_bulk_of_5000_spots_is_one_request(admin: httpx.Client, viewer: httpx.Client) -> None:
    garage = create_garage(admin, capacity=5000)
    body = [spot(f"{n}{suffix}", level, "COMPACT") for level in range(5) for n in range(1, 501) for suffix in ("", "A")]
    assert len(body) == 5000
    response = admin.post(f"/api/v1/garages/{garage['id']}/spots", json={"spots": body})
    assert response.status_code == 201, response.text
    created = response.json()["spots"]
    assert len(created) == 5000 and len({row["id"] for row in created}) == 5000
    assert live_total(viewer, garage["id"]) == 5000
    first = viewer.get(f"/api/v1/garages/{garage['id']}/spots", params={"limit": 4}).json()["items"]
    assert [(row["level"], row["number"]) for row in first] == [(0, "1"), (0, "1A"), (0, "2"), (0, "2A")]
    assert audit_of(admin, "Spot", created[-1]["id"])[0]["action"] == "CREATE"
    # the garage is full now
    error_of(admin.post(f"/api/v1/garages/{garage['id']}/spots", json=spot("X")), 409, "CAPACITY_EXCEEDED")


def test_more_than_5000_spots_in_one_body_is_400(admin: httpx.Client) -> None:
    garage = create_garage(admin, capacity=10_000)
    body = [spot(str(n)) for n in range(5001)]
    assert_invalid(admin.post(f"/api/v1/garages/{garage['id']}/spots", json={"spots": body}), "spots")
    assert live_total(admin, garage["id"]) == 0


def test_a_bad_item_fails_the_whole_bulk(admin: httpx.Client) -> None:
    garage = create_garage(admin)
    body = [spot("1"), spot("2"), spot("3", type="SPACESHIP"), spot("4")]
    assert_invalid(admin.post(f"/api/v1/garages/{garage['id']}/spots", json={"spots": body}), "spots.2.type")
    assert live_total(admin, garage["id"]) == 0


def test_a_duplicate_within_the_body_fails_the_whole_bulk(admin: httpx.Client) -> None:
    garage = create_garage(admin)
    body = [spot("1", 1), spot("2", 1), spot("1", 2), spot("2", 1)]
    error = error_of(admin.post(f"/api/v1/garages/{garage['id']}/spots", json={"spots": body}), 409, "DUPLICATE_SPOT")
    assert error["details"] == {"spots": [{"level": 1, "number": "2"}]}
    assert live_total(admin, garage["id"]) == 0


def test_a_clash_with_an_existing_spot_fails_the_whole_bulk(admin: httpx.Client) -> None:
    garage = create_garage(admin)
    add_spots(admin, garage["id"], spot("7", 3))
    error = error_of(admin.post(f"/api/v1/garages/{garage['id']}/spots", json={"spots": [spot("6", 3), spot("7", 3)]}),
                     409, "DUPLICATE_SPOT")
    assert error["details"] == {"spots": [{"level": 3, "number": "7"}]}
    error_of(admin.post(f"/api/v1/garages/{garage['id']}/spots", json=spot("7", 3)), 409, "DUPLICATE_SPOT")
    assert live_total(admin, garage["id"]) == 1
    # the same number on another level, or in another garage, is a different spot
    add_spots(admin, garage["id"], spot("7", 4))
    add_spots(admin, create_garage(admin)["id"], spot("7", 3))


def test_a_deleted_spot_number_may_be_reused(admin: httpx.Client) -> None:
    garage = create_garage(admin)
    (old,) = add_spots(admin, garage["id"], spot("12", 1))
    assert admin.delete(f"/api/v1/spots/{old['id']}").status_code == 204
    (new,) = add_spots(admin, garage["id"], spot("12", 1))
    assert new["id"] != old["id"]


def test_capacity_bounds_live_spots(admin: httpx.Client) -> None:
    garage = create_garage(admin, capacity=3)
    gid = garage["id"]
    add_spots(admin, gid, spot("1"), spot("2"))
    error = error_of(admin.post(f"/api/v1/garages/{gid}/spots", json={"spots": [spot("3"), spot("4")]}),
                     409, "CAPACITY_EXCEEDED")
    assert error["details"] == {"capacity": 3, "liveSpots": 2, "requested": 2}
    assert live_total(admin, gid) == 2
    (third,) = add_spots(admin, gid, spot("3"))
    error_of(admin.post(f"/api/v1/garages/{gid}/spots", json=spot("4")), 409, "CAPACITY_EXCEEDED")
    # a deleted spot frees its place
    assert admin.delete(f"/api/v1/spots/{third['id']}").status_code == 204
    add_spots(admin, gid, spot("4"))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (spot("1", level=-21), "level"),
        (spot("1", level=201), "level"),
        (spot("1", level="1"), "level"),  # type: ignore[arg-type]
        (spot("1", level=1.5), "level"),  # type: ignore[arg-type]
        (spot("1", level=None), "level"),  # type: ignore[arg-type]
        (spot("n" * 101), "number"),
        (spot(""), "number"),
        (spot("  "), "number"),
        (spot("1\n2"), "number"),
        ({"level": 1, "number": 12, "type": "EV"}, "number"),
        (spot("1", type="CAR"), "type"),
        (spot("1", type="ev"), "type"),
        (spot("1", status="OCCUPIED"), "status"),
        (spot("1", status="BROKEN"), "status"),
        (spot("1", garageId="other"), "garageId"),
        ({"level": 1, "type": "EV"}, "number"),
        ({"number": "1", "type": "EV"}, "level"),
        ({"level": 1, "number": "1"}, "type"),
        ({"spots": []}, "spots"),
        ({"spots": "all"}, "spots"),
        ({"spots": [spot("1")], "extra": 1}, "extra"),
        ({"spots": [spot("1"), {"level": 1}]}, "spots.1.number"),
    ],
)
def test_invalid_spot_bodies_are_400_naming_the_field(admin: httpx.Client, body: dict[str, Any], field: str) -> None:
    garage = create_garage(admin)
    assert_invalid(admin.post(f"/api/v1/garages/{garage['id']}/spots", json=body), field)
    assert live_total(admin, garage["id"]) == 0


@pytest.mark.parametrize("raw", [b"{", b"", b"[]", b"null", b"42", b'{"spots": [1]}'])
def test_malformed_spot_bodies_are_400(admin: httpx.Client, raw: bytes) -> None:
    garage = create_garage(admin)
    response = admin.post(f"/api/v1/garages/{garage['id']}/spots", content=raw, headers={"content-type": "application/json"})
    error_of(response, 400, "VALIDATION_ERROR")


def test_only_admins_create_spots(admin: httpx.Client, operator: httpx.Client, viewer: httpx.Client,
                                  anonymous: httpx.Client) -> None:
    garage = create_garage(admin)
    path = f"/api/v1/garages/{garage['id']}/spots"
    error_of(operator.post(path, json=spot("1")), 403, "FORBIDDEN")
    error_of(viewer.post(path, json=spot("1")), 403, "FORBIDDEN")
    error_of(anonymous.post(path, json=spot("1")), 401, "UNAUTHENTICATED")
    error_of(anonymous.get(path), 401, "UNAUTHENTICATED")
    assert operator.get(path).status_code == 200 and viewer.get(path).status_code == 200
    assert live_total(admin, garage["id"]) == 0


def test_operators_change_a_spots_status(admin: httpx.Client, operator: httpx.Client) -> None:
    garage = create_garage(admin)
    (row,) = add_spots(admin, garage["id"], spot("1"))
    for status in ("RESERVED", "MAINTENANCE", "AVAILABLE"):
        response = operator.patch(f"/api/v1/spots/{row['id']}", json={"status": status})
        assert response.status_code == 200, response.text
        assert response.json()["status"] == status
    assert operator.get(f"/api/v1/spots/{row['id']}").json()["status"] == "AVAILABLE"
    history = audit_of(admin, "Spot", row["id"])
    assert [(e["action"], e["before"] and e["before"]["status"], e["after"]["status"]) for e in history] == [
        ("UPDATE", "MAINTENANCE", "AVAILABLE"), ("UPDATE", "RESERVED", "MAINTENANCE"),
        ("UPDATE", "AVAILABLE", "RESERVED"), ("CREATE", None, "AVAILABLE"),
    ]


def test_setting_the_same_status_changes_nothing(admin: httpx.Client, operator: httpx.Client) -> None:
    garage = create_garage(admin)
    (row,) = add_spots(admin, garage["id"], spot("1"))
    response = operator.patch(f"/api/v1/spots/{row['id']}", json={"status": "AVAILABLE"})
    assert response.status_code == 200 and response.json() == row
    assert len(audit_of(admin, "Spot", row["id"])) == 1


def test_occupied_is_never_set_by_hand(admin: httpx.Client, operator: httpx.Client) -> None:
    garage = create_garage(admin)
    (row,) = add_spots(admin, garage["id"], spot("1"))
    for client in (operator, admin):
        assert_invalid(client.patch(f"/api/v1/spots/{row['id']}", json={"status": "OCCUPIED"}), "status")
    assert admin.get(f"/api/v1/spots/{row['id']}").json()["status"] == "AVAILABLE"


def test_other_spot_changes_need_an_admin(admin: httpx.Client, operator: httpx.Client, viewer: httpx.Client,
                                          anonymous: httpx.Client) -> None:
    garage = create_garage(admin)
    (row,) = add_spots(admin, garage["id"], spot("1"))
    path = f"/api/v1/spots/{row['id']}"
    for body in ({"number": "2"}, {"level": 3}, {"type": "EV"}, {"status": "RESERVED", "type": "EV"}):
        error = error_of(operator.patch(path, json=body), 403, "FORBIDDEN")
        assert "admin" in error["message"]
    error_of(viewer.patch(path, json={"status": "RESERVED"}), 403, "FORBIDDEN")
    error_of(anonymous.patch(path, json={"status": "RESERVED"}), 401, "UNAUTHENTICATED")
    assert admin.get(path).json() == row


def test_admins_change_number_level_and_type(admin: httpx.Client, viewer: httpx.Client) -> None:
    garage = create_garage(admin)
    first, second = add_spots(admin, garage["id"], spot("1", 1), spot("2", 1))
    response = admin.patch(f"/api/v1/spots/{first['id']}", json={"number": "10", "level": 1, "type": "LARGE",
                                                                  "status": "MAINTENANCE"})
    assert response.status_code == 200, response.text
    changed = response.json()
    assert (changed["level"], changed["number"], changed["type"], changed["status"]) == (1, "10", "LARGE", "MAINTENANCE")
    # the list order follows the new number: 2 < 10
    assert [row["id"] for row in all_spots(viewer, garage["id"])] == [second["id"], first["id"]]
    update = audit_of(admin, "Spot", first["id"])[0]
    assert (update["before"]["number"], update["after"]["number"]) == ("1", "10")


def test_a_change_onto_a_taken_number_is_a_duplicate(admin: httpx.Client) -> None:
    garage = create_garage(admin)
    first, _ = add_spots(admin, garage["id"], spot("1", 1), spot("2", 1))
    (other_level,) = add_spots(admin, garage["id"], spot("2", 2))
    error_of(admin.patch(f"/api/v1/spots/{first['id']}", json={"number": "2"}), 409, "DUPLICATE_SPOT")
    error_of(admin.patch(f"/api/v1/spots/{other_level['id']}", json={"level": 1}), 409, "DUPLICATE_SPOT")
    assert admin.get(f"/api/v1/spots/{first['id']}").json()["number"] == "1"
    # keeping its own number is no clash
    assert admin.patch(f"/api/v1/spots/{first['id']}", json={"number": "1", "level": 1}).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [({"status": None}, "status"), ({"number": None}, "number"), ({"level": 500}, "level"), ({"level": "2"}, "level"),
     ({"type": "BUS"}, "type"), ({"number": "x" * 101}, "number"), ({"status": "occupied"}, "status"),
     ({"garageId": "x"}, "garageId")],
)
def test_invalid_patch_bodies_are_400(admin: httpx.Client, body: dict[str, Any], field: str) -> None:
    garage = create_garage(admin)
    (row,) = add_spots(admin, garage["id"], spot("1"))
    assert_invalid(admin.patch(f"/api/v1/spots/{row['id']}", json=body), field)


def test_an_occupied_spot_keeps_its_status_and_cannot_be_deleted(admin: httpx.Client, operator: httpx.Client) -> None:
    garage = create_garage(admin)
    (row,) = add_spots(admin, garage["id"], spot("1"))
    parked = park(operator, garage["id"], row["id"])
    path = f"/api/v1/spots/{row['id']}"
    assert admin.get(path).json()["status"] == "OCCUPIED"
    for client in (operator, admin):
        for status in ("AVAILABLE", "RESERVED", "MAINTENANCE"):
            error_of(client.patch(path, json={"status": status}), 409, "SPOT_NOT_AVAILABLE")
    error_of(admin.delete(path), 409, "HAS_ACTIVE_SESSIONS")
    # an admin may still renumber it; the session keeps its spot
    assert admin.patch(path, json={"number": "1B"}).json()["status"] == "OCCUPIED"
    checked_out = operator.post(f"/api/v1/sessions/{parked['session']['id']}/check-out", json={"paymentMethod": "CARD"})
    assert checked_out.status_code == 200, checked_out.text
    assert admin.get(path).json()["status"] == "AVAILABLE"
    assert admin.delete(path).status_code == 204


def test_delete_soft_deletes_a_spot(admin: httpx.Client, operator: httpx.Client, viewer: httpx.Client) -> None:
    garage = create_garage(admin)
    gone, kept = add_spots(admin, garage["id"], spot("1"), spot("2"))
    path = f"/api/v1/spots/{gone['id']}"
    error_of(operator.delete(path), 403, "FORBIDDEN")
    error_of(viewer.delete(path), 403, "FORBIDDEN")
    response = admin.delete(path)
    assert response.status_code == 204 and response.content == b""
    error_of(viewer.get(path), 404, "NOT_FOUND")
    error_of(admin.patch(path, json={"status": "RESERVED"}), 404, "NOT_FOUND")
    error_of(admin.delete(path), 404, "NOT_FOUND")
    assert [row["id"] for row in all_spots(viewer, garage["id"])] == [kept["id"]]
    deleted = audit_of(admin, "Spot", gone["id"])[0]
    assert deleted["action"] == "DELETE" and deleted["after"]["deletedAt"] is not None


def test_unknown_spot_is_404(admin: httpx.Client, viewer: httpx.Client, anonymous: httpx.Client) -> None:
    error_of(viewer.get("/api/v1/spots/nope"), 404, "NOT_FOUND")
    error_of(admin.patch("/api/v1/spots/nope", json={"status": "RESERVED"}), 404, "NOT_FOUND")
    error_of(admin.delete("/api/v1/spots/nope"), 404, "NOT_FOUND")
    error_of(anonymous.get("/api/v1/spots/nope"), 401, "UNAUTHENTICATED")


def test_concurrent_creations_never_pass_capacity_or_duplicate(make_server: Any) -> None:
    """Two workers, simultaneous requests: the capacity and the live-number rule still hold."""
    server = make_server(workers=2)
    admin = server.client(server.admin_key)
    crowded = create_garage(admin, capacity=10)
    contested = create_garage(admin, capacity=100)

    def post(garage_id: str, body: dict[str, Any]) -> int:
        with httpx.Client(base_url=server.url, headers=admin.headers, timeout=30) as client:
            return client.post(f"/api/v1/garages/{garage_id}/spots", json=body).status_code

    # 8 bulks of 3 distinct spots into room for 10: exactly 3 fit
    bulks = [{"spots": [spot(f"{n}-{i}") for i in range(3)]} for n in range(8)]
    # 8 creations of one and the same spot: exactly one wins
    same = [spot("1", 1, "EV")] * 8
    with ThreadPoolExecutor(max_workers=8) as pool:
        bulk_statuses = list(pool.map(lambda body: post(crowded["id"], body), bulks))
        same_statuses = list(pool.map(lambda body: post(contested["id"], body), same))
    assert sorted(bulk_statuses) == [201] * 3 + [409] * 5
    assert live_total(admin, crowded["id"]) == 9
    assert sorted(same_statuses) == [201] + [409] * 7
    assert live_total(admin, contested["id"]) == 1
