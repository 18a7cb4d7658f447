"""GET /garages/{id}/occupancy: live spots by status, overall, per level and per type."""

from __future__ import annotations

import httpx

from tests.api.test_garages import add_spots, create_garage, error_of, park

EMPTY = {"total": 0, "available": 0, "occupied": 0, "reserved": 0, "maintenance": 0}


def counts(total: int, available: int = 0, occupied: int = 0, reserved: int = 0, maintenance: int = 0) -> dict[str, int]:
    return {"total": total, "available": available, "occupied": occupied, "reserved": reserved, "maintenance": maintenance}


def test_an_empty_garage(admin: httpx.Client, viewer: httpx.Client) -> None:
    garage = create_garage(admin)
    response = viewer.get(f"/api/v1/garages/{garage['id']}/occupancy")
    assert response.status_code == 200
    assert response.json() == {**EMPTY, "state": "FULL", "byLevel": [], "byType": []}  # no spot takes a car


def test_counts_by_status_level_and_type(admin: httpx.Client, operator: httpx.Client, viewer: httpx.Client) -> None:
    garage = create_garage(admin)
    gid = garage["id"]
    spots = add_spots(
        admin, gid,
        {"level": 2, "number": "1", "type": "EV"},
        {"level": 2, "number": "2", "type": "STANDARD", "status": "MAINTENANCE"},
        {"level": -1, "number": "1", "type": "STANDARD"},
        {"level": -1, "number": "2", "type": "STANDARD", "status": "RESERVED"},
        {"level": -1, "number": "3", "type": "MOTORCYCLE"},
        {"level": 0, "number": "9", "type": "HANDICAP"},
    )
    park(operator, gid, spots[2]["id"])
    # a deleted spot is not counted
    (gone,) = add_spots(admin, gid, {"level": 5, "number": "1", "type": "LARGE"})
    assert admin.delete(f"/api/v1/spots/{gone['id']}").status_code == 204

    occupancy = viewer.get(f"/api/v1/garages/{gid}/occupancy").json()
    assert occupancy == {
        **counts(6, available=3, occupied=1, reserved=1, maintenance=1),
        # free spots, but none a CAR takes: the EV, MOTORCYCLE and HANDICAP ones don't
        "state": "FULL",
        "byLevel": [
            {"level": -1, **counts(3, available=1, occupied=1, reserved=1)},
            {"level": 0, **counts(1, available=1)},
            {"level": 2, **counts(2, available=1, maintenance=1)},
        ],
        "byType": [
            {"type": "MOTORCYCLE", **counts(1, available=1)},
            {"type": "STANDARD", **counts(3, occupied=1, reserved=1, maintenance=1)},
            {"type": "EV", **counts(1, available=1)},
            {"type": "HANDICAP", **counts(1, available=1)},
        ],
    }


def test_status_changes_show_at_once(admin: httpx.Client, operator: httpx.Client) -> None:
    garage = create_garage(admin)
    (spot,) = add_spots(admin, garage["id"], {"level": 0, "number": "1", "type": "COMPACT"})
    assert operator.patch(f"/api/v1/spots/{spot['id']}", json={"status": "RESERVED"}).status_code == 200
    occupancy = operator.get(f"/api/v1/garages/{garage['id']}/occupancy").json()
    assert (occupancy["available"], occupancy["reserved"]) == (0, 1)
    assert occupancy["byType"] == [{"type": "COMPACT", **counts(1, reserved=1)}]


def test_unknown_garage_and_anonymous(admin: httpx.Client, anonymous: httpx.Client) -> None:
    error_of(admin.get("/api/v1/garages/nope/occupancy"), 404, "NOT_FOUND")
    garage = create_garage(admin)
    error_of(anonymous.get(f"/api/v1/garages/{garage['id']}/occupancy"), 401, "UNAUTHENTICATED")
