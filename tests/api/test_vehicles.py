"""/vehicles over HTTP: create, look up, change, soft delete, history; roles and errors."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import httpx

from tests.api.parking_data import API, check_in, error_code, new_garage, new_plate, parked, walk


def create(client: httpx.Client, **body: object) -> httpx.Response:
    return client.post(f"{API}/vehicles", json={"licensePlate": new_plate("V"), "type": "CAR", **body})


def test_create_normalises_the_plate_and_returns_owner_fields(operator: httpx.Client, viewer: httpx.Client) -> None:
    raw = "vq-" + uuid.uuid4().hex[:4] + " 7"
    response = operator.post(f"{API}/vehicles", json={
        "licensePlate": raw, "type": "EV", "ownerName": "Ada Lovelace", "ownerEmail": "ada@example.com",
        "ownerPhone": "+44 20 7946 0000",
    })
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["licensePlate"] == raw.upper().replace("-", "").replace(" ", "")
    assert (body["type"], body["ownerName"], body["ownerEmail"], body["ownerPhone"]) == (
        "EV", "Ada Lovelace", "ada@example.com", "+44 20 7946 0000")
    assert set(body) == {"id", "licensePlate", "type", "ownerName", "ownerEmail", "ownerPhone", "createdAt", "updatedAt"}
    assert body["createdAt"].endswith("Z")
    assert viewer.get(f"{API}/vehicles/{body['id']}").json() == body
    # the plate filter is normalised too
    found = viewer.get(f"{API}/vehicles", params={"plate": raw.lower()}).json()
    assert [item["id"] for item in found["items"]] == [body["id"]] and found["nextCursor"] is None


def test_duplicate_plate_in_any_spelling_is_409(operator: httpx.Client) -> None:
    plate = new_plate("D")
    assert create(operator, licensePlate=plate).status_code == 201
    again = create(operator, licensePlate=f" {plate[:3].lower()}-{plate[3:]} ")
    assert again.status_code == 409 and error_code(again) == "DUPLICATE_PLATE"


def test_invalid_bodies_are_400_naming_the_field(operator: httpx.Client) -> None:
    cases = [
        ({"licensePlate": "A"}, "licensePlate"),
        ({"licensePlate": "AB_12"}, "licensePlate"),
        ({"licensePlate": "ABCDEFGHIJK"}, "licensePlate"),
        ({"type": "BUS"}, "type"),
        ({"ownerEmail": "not-an-email"}, "ownerEmail"),
        ({"ownerPhone": "call me"}, "ownerPhone"),
        ({"ownerName": "x" * 201}, "ownerName"),
        ({"colour": "red"}, "colour"),
    ]
    for extra, field in cases:
        response = create(operator, **extra)
        assert response.status_code == 400, (extra, response.text)
        assert error_code(response) == "VALIDATION_ERROR"
        assert any(field in name for name in response.json()["error"]["details"]["fields"]), (extra, response.json())
    missing = operator.post(f"{API}/vehicles", json={"licensePlate": new_plate()})
    assert missing.status_code == 400 and "type" in missing.json()["error"]["details"]["fields"]


def test_roles(viewer: httpx.Client, anonymous: httpx.Client, operator: httpx.Client) -> None:
    vehicle = create(operator).json()
    for response in (
        create(viewer),
        viewer.patch(f"{API}/vehicles/{vehicle['id']}", json={"type": "VAN"}),
        viewer.delete(f"{API}/vehicles/{vehicle['id']}"),
    ):
        assert response.status_code == 403 and error_code(response) == "FORBIDDEN"
    for response in (anonymous.get(f"{API}/vehicles"), anonymous.get(f"{API}/vehicles/{vehicle['id']}"),
                     anonymous.get(f"{API}/vehicles/{vehicle['id']}/sessions"), create(anonymous)):
        assert response.status_code == 401 and error_code(response) == "UNAUTHENTICATED"
    assert viewer.get(f"{API}/vehicles/{vehicle['id']}/sessions").status_code == 200


def test_patch_changes_only_what_is_sent(operator: httpx.Client, viewer: httpx.Client) -> None:
    vehicle = create(operator, ownerName="Grace", ownerEmail="grace@example.com").json()
    changed = operator.patch(f"{API}/vehicles/{vehicle['id']}", json={"ownerName": None, "ownerPhone": "555-0100",
                                                                        "type": "VAN"})
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["ownerName"], body["ownerEmail"], body["ownerPhone"], body["type"]) == (
        None, "grace@example.com", "555-0100", "VAN")
    assert body["licensePlate"] == vehicle["licensePlate"]
    assert viewer.get(f"{API}/vehicles/{vehicle['id']}").json() == body
    renamed = operator.patch(f"{API}/vehicles/{vehicle['id']}", json={"licensePlate": "zz-" + vehicle["licensePlate"][:7]})
    assert renamed.status_code == 200 and renamed.json()["licensePlate"] == "ZZ" + vehicle["licensePlate"][:7]
    same = operator.patch(f"{API}/vehicles/{vehicle['id']}", json={"licensePlate": renamed.json()["licensePlate"]})
    assert same.status_code == 200  # its own plate is no duplicate
    empty = operator.patch(f"{API}/vehicles/{vehicle['id']}", json={})
    assert empty.status_code == 200 and empty.json() == same.json()


def test_patch_errors(operator: httpx.Client) -> None:
    first, second = create(operator).json(), create(operator).json()
    taken = operator.patch(f"{API}/vehicles/{second['id']}", json={"licensePlate": first["licensePlate"]})
    assert taken.status_code == 409 and error_code(taken) == "DUPLICATE_PLATE"
    for body, field in (({"type": None}, "type"), ({"licensePlate": None}, "licensePlate"), ({"type": "BUS"}, "type"),
                        ({"id": "x"}, "id")):
        response = operator.patch(f"{API}/vehicles/{second['id']}", json=body)
        assert response.status_code == 400, body
        assert any(field in name for name in response.json()["error"]["details"]["fields"])
    missing = operator.patch(f"{API}/vehicles/nope", json={"type": "CAR"})
    assert missing.status_code == 404 and error_code(missing) == "NOT_FOUND"


def test_soft_delete_hides_the_vehicle_keeps_history_and_frees_the_plate(
    admin: httpx.Client, operator: httpx.Client, viewer: httpx.Client
) -> None:
    garage_id, _ = new_garage(admin, [(0, "1", "STANDARD")])
    entry = parked(operator, garage_id)
    vehicle_id, session_id = entry["session"]["vehicleId"], entry["session"]["id"]
    plate = entry["session"]["licensePlate"]
    busy = operator.delete(f"{API}/vehicles/{vehicle_id}")
    assert busy.status_code == 409 and error_code(busy) == "HAS_ACTIVE_SESSIONS"
    operator.post(f"{API}/sessions/{session_id}/check-out", json={"paymentMethod": "CASH"}).raise_for_status()

    deleted = operator.delete(f"{API}/vehicles/{vehicle_id}")
    assert deleted.status_code == 204 and deleted.content == b""
    assert viewer.get(f"{API}/vehicles/{vehicle_id}").status_code == 404
    assert viewer.get(f"{API}/vehicles/{vehicle_id}/sessions").status_code == 404
    assert viewer.get(f"{API}/vehicles", params={"plate": plate}).json()["items"] == []
    assert operator.delete(f"{API}/vehicles/{vehicle_id}").status_code == 404
    assert operator.patch(f"{API}/vehicles/{vehicle_id}", json={"type": "VAN"}).status_code == 404
    # history stays
    kept = viewer.get(f"{API}/sessions/{session_id}")
    assert kept.status_code == 200 and kept.json()["vehicleId"] == vehicle_id
    # the plate may be used by a new vehicle
    reused = operator.post(f"{API}/vehicles", json={"licensePlate": plate, "type": "VAN"})
    assert reused.status_code == 201 and reused.json()["id"] != vehicle_id
    audit = admin.get(f"{API}/admin/audit", params={"entity": "Vehicle", "entityId": vehicle_id}).json()["items"]
    assert [entry["action"] for entry in audit] == ["DELETE", "CREATE"]
    assert audit[0]["after"]["deletedAt"] is not None


def test_history_is_newest_first_and_pages(admin: httpx.Client, operator: httpx.Client, viewer: httpx.Client) -> None:
    garage_id, _ = new_garage(admin, [(0, "1", "STANDARD")])
    plate = new_plate("H")
    session_ids = []
    for hours_ago in (5, 3, 1):
        start = datetime.now(timezone.utc) - timedelta(hours=hours_ago)
        entry = check_in(operator, garage_id, licensePlate=plate, vehicleType="CAR", at=start.isoformat())
        assert entry.status_code == 201, entry.text
        session_id = entry.json()["session"]["id"]
        out = operator.post(f"{API}/sessions/{session_id}/check-out",
                            json={"paymentMethod": "CARD", "at": (start + timedelta(minutes=30)).isoformat()})
        assert out.status_code == 200, out.text
        session_ids.append(session_id)
    vehicle_id = entry.json()["session"]["vehicleId"]
    history = walk(viewer, f"/vehicles/{vehicle_id}/sessions", limit=2)
    assert [s["id"] for s in history] == list(reversed(session_ids))
    assert all(s["status"] == "COMPLETED" and s["licensePlate"] == plate for s in history)
    assert viewer.get(f"{API}/vehicles/nope/sessions").status_code == 404


def test_list_pagination_walks_every_vehicle_once(operator: httpx.Client, viewer: httpx.Client) -> None:
    made = [create(operator).json()["id"] for _ in range(5)]
    walked = [v["id"] for v in walk(viewer, "/vehicles", limit=3)]
    assert len(walked) == len(set(walked))
    assert walked[:5] == list(reversed(made))  # newest first
    assert walked == [v["id"] for v in walk(viewer, "/vehicles", limit=200)]
    bad = viewer.get(f"{API}/vehicles", params={"plate": "#"})
    assert bad.status_code == 400 and "plate" in bad.json()["error"]["details"]["fields"]
    for params in ({"limit": 0}, {"limit": 201}, {"cursor": "garbage!"}):
        assert viewer.get(f"{API}/vehicles", params=params).status_code == 400, params


def test_unknown_vehicle_is_404(viewer: httpx.Client) -> None:
    response = viewer.get(f"{API}/vehicles/nope")
    assert response.status_code == 404 and error_code(response) == "NOT_FOUND"


def test_audit_keeps_no_owner_values(admin: httpx.Client, operator: httpx.Client) -> None:
    email = f"secret-{uuid.uuid4().hex[:8]}@example.com"
    vehicle = create(operator, ownerEmail=email).json()
    operator.patch(f"{API}/vehicles/{vehicle['id']}", json={"ownerEmail": None}).raise_for_status()
    audit = admin.get(f"{API}/admin/audit", params={"entity": "Vehicle", "entityId": vehicle["id"]}).json()["items"]
    assert [entry["action"] for entry in audit] == ["UPDATE", "CREATE"]
    assert email not in str(audit)
    assert audit[1]["after"]["ownerEmail"] == "(set)" and audit[0]["after"]["ownerEmail"] is None
    keys = admin.get(f"{API}/admin/api-keys", params={"limit": 200}).json()["items"]
    operator_ids = {key["id"] for key in keys if key["name"] == "test operator"}
    assert audit[0]["actor"] in operator_ids
