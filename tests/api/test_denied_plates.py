"""The deny list over HTTP (API-operations.md "Monthly permits and the deny list"): PUT lists a
plate (or replaces its reason) with 200 {licensePlate, reason, createdAt}, DELETE takes it off
(204; 404 when it is not listed), GET lists a garage's plates in plate order, paged; the plate in
the path is normalised (invalid: 400); roles, 404s, 400s; audit entries, no events."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.parking_data import API, error_code, new_garage, new_plate, walk


def garage(admin: httpx.Client) -> str:
    garage_id, _ = new_garage(admin, [])
    return garage_id


def deny(client: httpx.Client, garage_id: str, plate: str, reason: Any = "unpaid fees") -> httpx.Response:
    return client.put(f"{API}/garages/{garage_id}/denied-plates/{plate}", json={"reason": reason})


def audit(admin: httpx.Client, garage_id: str, plate: str) -> list[dict[str, Any]]:
    """The audit entries of the garage's deny-list row for `plate`, oldest first."""
    response = admin.get(f"{API}/admin/audit", params={"entity": "DeniedPlate", "entityId": f"{garage_id}/{plate}"})
    assert response.status_code == 200, response.text
    return list(reversed(response.json()["items"]))


def test_put_lists_a_normalised_plate_and_replaces_its_reason(admin: httpx.Client, viewer: httpx.Client) -> None:
    garage_id = garage(admin)
    plate = new_plate("D")
    spelled = f"{plate[:3].lower()}-{plate[3:6]} {plate[6:]}"
    first = deny(admin, garage_id, spelled, "  unpaid fees  ")
    assert first.status_code == 200, first.text
    body = first.json()
    assert set(body) == {"licensePlate", "reason", "createdAt"}
    assert (body["licensePlate"], body["reason"]) == (plate, "unpaid fees") and body["createdAt"].endswith("Z")
    replaced = deny(admin, garage_id, plate, "damaged the barrier")
    assert replaced.status_code == 200
    assert replaced.json() == {**body, "reason": "damaged the barrier"}  # createdAt kept
    same = deny(admin, garage_id, plate, "damaged the barrier")
    assert same.status_code == 200 and same.json() == replaced.json()
    assert viewer.get(f"{API}/garages/{garage_id}/denied-plates").json() == {
        "items": [replaced.json()],
        "nextCursor": None,
    }
    entries = audit(admin, garage_id, plate)
    assert [entry["action"] for entry in entries] == ["CREATE", "UPDATE"]  # an unchanged reason writes nothing
    assert (entries[1]["before"]["reason"], entries[1]["after"]["reason"]) == ("unpaid fees", "damaged the barrier")
    events = viewer.get(f"{API}/events", params={"garageId": garage_id, "limit": 1000}).json()["items"]
    assert [event for event in events if event["type"] != "occupancy.changed"] == []


def test_delete_takes_the_plate_off_and_then_is_404(admin: httpx.Client, viewer: httpx.Client) -> None:
    garage_id = garage(admin)
    plate = new_plate("X")
    deny(admin, garage_id, plate, "stolen").raise_for_status()
    removed = admin.delete(f"{API}/garages/{garage_id}/denied-plates/{plate.lower()}")
    assert removed.status_code == 204 and removed.content == b""
    assert viewer.get(f"{API}/garages/{garage_id}/denied-plates").json()["items"] == []
    again = admin.delete(f"{API}/garages/{garage_id}/denied-plates/{plate}")
    assert again.status_code == 404 and error_code(again) == "NOT_FOUND"
    never = admin.delete(f"{API}/garages/{garage_id}/denied-plates/{new_plate('X')}")
    assert never.status_code == 404 and error_code(never) == "NOT_FOUND"
    entries = audit(admin, garage_id, plate)
    assert [entry["action"] for entry in entries] == ["CREATE", "DELETE"]
    assert entries[1]["before"]["reason"] == "stolen" and entries[1]["after"] is None


def test_a_plate_is_denied_per_garage(admin: httpx.Client, viewer: httpx.Client) -> None:
    garage_id, other = garage(admin), garage(admin)
    plate = new_plate("G")
    deny(admin, garage_id, plate).raise_for_status()
    assert viewer.get(f"{API}/garages/{other}/denied-plates").json()["items"] == []
    assert admin.delete(f"{API}/garages/{other}/denied-plates/{plate}").status_code == 404


def test_roles(admin: httpx.Client, operator: httpx.Client, viewer: httpx.Client, anonymous: httpx.Client) -> None:
    garage_id = garage(admin)
    plate = new_plate("R")
    deny(admin, garage_id, plate).raise_for_status()
    for client in (operator, viewer):
        for response in (
            deny(client, garage_id, new_plate("R")),
            client.delete(f"{API}/garages/{garage_id}/denied-plates/{plate}"),
        ):
            assert response.status_code == 403 and error_code(response) == "FORBIDDEN", response.text
        assert [row["licensePlate"] for row in walk(client, f"/garages/{garage_id}/denied-plates")] == [plate]
    for response in (
        deny(anonymous, garage_id, plate),
        anonymous.delete(f"{API}/garages/{garage_id}/denied-plates/{plate}"),
        anonymous.get(f"{API}/garages/{garage_id}/denied-plates"),
    ):
        assert response.status_code == 401 and error_code(response) == "UNAUTHENTICATED"


def test_unknown_garage_is_404(admin: httpx.Client, viewer: httpx.Client) -> None:
    plate = new_plate("N")
    for response in (
        deny(admin, "nope", plate),
        admin.delete(f"{API}/garages/nope/denied-plates/{plate}"),
        viewer.get(f"{API}/garages/nope/denied-plates"),
    ):
        assert response.status_code == 404 and error_code(response) == "NOT_FOUND", response.text


def test_bad_plates_and_bodies_are_400(admin: httpx.Client, viewer: httpx.Client) -> None:
    garage_id = garage(admin)
    for bad in ("A", "AB_12", "ABCDEFGHIJK", "%C3%84BC1"):
        for response in (deny(admin, garage_id, bad), admin.delete(f"{API}/garages/{garage_id}/denied-plates/{bad}")):
            assert response.status_code == 400 and error_code(response) == "VALIDATION_ERROR", (bad, response.text)
            assert "plate" in response.json()["error"]["details"]["fields"], response.json()
    plate = new_plate("B")
    for body, field in (
        ({"reason": ""}, "reason"),
        ({"reason": "   "}, "reason"),
        ({"reason": "x" * 201}, "reason"),
        ({"reason": 7}, "reason"),
        ({}, "reason"),
        ({"reason": "ok", "until": "never"}, "until"),
    ):
        response = admin.put(f"{API}/garages/{garage_id}/denied-plates/{plate}", json=body)
        assert response.status_code == 400, (body, response.text)
        assert field in response.json()["error"]["details"]["fields"], (body, response.json())
    assert deny(admin, garage_id, plate, "x" * 200).status_code == 200
    assert [row["licensePlate"] for row in walk(viewer, f"/garages/{garage_id}/denied-plates")] == [plate]
    for params in ({"limit": 0}, {"limit": 201}, {"cursor": "garbage!"}):
        assert viewer.get(f"{API}/garages/{garage_id}/denied-plates", params=params).status_code == 400, params


def test_the_list_is_in_plate_order_and_pages(admin: httpx.Client, viewer: httpx.Client) -> None:
    garage_id = garage(admin)
    plates = [new_plate("L") for _ in range(5)]
    for plate in plates:
        deny(admin, garage_id, plate, f"reason {plate}").raise_for_status()
    walked = walk(viewer, f"/garages/{garage_id}/denied-plates", limit=2)
    assert [row["licensePlate"] for row in walked] == sorted(plates)
    assert [row["reason"] for row in walked] == [f"reason {plate}" for plate in sorted(plates)]
    assert walked == walk(viewer, f"/garages/{garage_id}/denied-plates", limit=200)
