"""POST /garages/{id}/check-in: spot choice (API.md, Clarifications "Spot fit"), conflicts,
back-dating, roles, and that a failed check-in writes nothing."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import httpx

from tests.api.parking_data import API, check_in, error_code, new_garage, new_plate, parked


def spot_of(response: httpx.Response) -> str:
    assert response.status_code == 201, response.text
    spot = response.json()["spot"]
    return f"{spot['level']}/{spot['number']}"


def test_check_in_opens_a_session_issues_a_ticket_and_occupies_the_spot(
    admin: httpx.Client, operator: httpx.Client, viewer: httpx.Client
) -> None:
    garage_id, spots = new_garage(admin, [(0, "1", "STANDARD")])
    plate = new_plate("C")
    before = datetime.now(timezone.utc) - timedelta(seconds=1)
    response = check_in(operator, garage_id, licensePlate=f" {plate[:2].lower()} {plate[2:]}", vehicleType="CAR")
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"session", "ticket", "spot"}
    session, ticket, spot = body["session"], body["ticket"], body["spot"]
    assert session["licensePlate"] == plate and session["garageId"] == garage_id and session["spotId"] == spots["0/1"]
    assert (session["status"], session["endTime"], session["feeCents"]) == ("ACTIVE", None, None)
    assert before <= datetime.fromisoformat(session["startTime"]) <= datetime.now(timezone.utc)
    assert re.fullmatch(r"[A-HJ-NP-Z2-9]{8,}", ticket["code"])
    assert ticket == {"code": session["ticketCode"], "sessionId": session["id"], "issuedAt": session["startTime"],
                      "status": "OPEN"}
    assert spot["id"] == spots["0/1"] and spot["status"] == "OCCUPIED"
    assert viewer.get(f"{API}/spots/{spots['0/1']}").json()["status"] == "OCCUPIED"
    vehicle = viewer.get(f"{API}/vehicles/{session['vehicleId']}").json()
    assert (vehicle["licensePlate"], vehicle["type"]) == (plate, "CAR")
    audit = admin.get(f"{API}/admin/audit", params={"entity": "Session", "entityId": session["id"]}).json()["items"]
    assert [entry["action"] for entry in audit] == ["CHECK_IN"]
    assert audit[0]["after"]["ticketCode"] == ticket["code"] and audit[0]["actor"] not in ("", "system")
    spot_audit = admin.get(f"{API}/admin/audit", params={"entity": "Spot", "entityId": spots["0/1"]}).json()["items"]
    assert spot_audit[0]["after"]["status"] == "OCCUPIED"


def test_spot_choice_smallest_fitting_type_then_level_then_numeric_number(
    admin: httpx.Client, operator: httpx.Client
) -> None:
    garage_id, _ = new_garage(admin, [
        (1, "1", "COMPACT"), (0, "10", "COMPACT"), (0, "9", "COMPACT"), (0, "2", "STANDARD"), (0, "1", "HANDICAP"),
        (0, "3", "EV"), (0, "4", "LARGE"), (0, "5", "MOTORCYCLE"),
    ])
    cars = [spot_of(check_in(operator, garage_id, licensePlate=new_plate(), vehicleType="CAR")) for _ in range(5)]
    # COMPACT first (level 0 before 1; "9" before "10"), then STANDARD, then LARGE
    assert cars == ["0/9", "0/10", "1/1", "0/2", "0/4"]
    # never EV, MOTORCYCLE or HANDICAP spots for a car
    full = check_in(operator, garage_id, licensePlate=new_plate(), vehicleType="CAR")
    assert full.status_code == 409 and error_code(full) == "GARAGE_FULL"
    assert spot_of(check_in(operator, garage_id, licensePlate=new_plate(), vehicleType="MOTORCYCLE")) == "0/5"
    no_room = check_in(operator, garage_id, licensePlate=new_plate(), vehicleType="MOTORCYCLE")
    assert no_room.status_code == 409 and error_code(no_room) == "GARAGE_FULL"  # HANDICAP only by spotId
    assert spot_of(check_in(operator, garage_id, licensePlate=new_plate(), vehicleType="EV")) == "0/3"


def test_motorcycles_take_the_smallest_spot_and_ev_prefers_ev_spots(admin: httpx.Client, operator: httpx.Client) -> None:
    garage_id, _ = new_garage(admin, [(0, "1", "LARGE"), (0, "2", "STANDARD"), (0, "3", "COMPACT"), (0, "4", "EV"),
                                      (2, "1", "MOTORCYCLE")])
    assert spot_of(check_in(operator, garage_id, licensePlate=new_plate(), vehicleType="MOTORCYCLE")) == "2/1"
    evs = [spot_of(check_in(operator, garage_id, licensePlate=new_plate(), vehicleType="EV")) for _ in range(4)]
    assert evs == ["0/4", "0/3", "0/2", "0/1"]


def test_vans_and_trucks_fit_large_only(admin: httpx.Client, operator: httpx.Client) -> None:
    garage_id, _ = new_garage(admin, [(0, "1", "STANDARD"), (0, "2", "LARGE"), (0, "3", "EV")])
    assert spot_of(check_in(operator, garage_id, licensePlate=new_plate(), vehicleType="VAN")) == "0/2"
    full = check_in(operator, garage_id, licensePlate=new_plate(), vehicleType="TRUCK")
    assert full.status_code == 409 and error_code(full) == "GARAGE_FULL"


def test_reserved_and_maintenance_spots_are_never_assigned(admin: httpx.Client, operator: httpx.Client) -> None:
    garage_id, spots = new_garage(admin, [(0, "1", "STANDARD"), (0, "2", "STANDARD")])
    for number, status in (("0/1", "RESERVED"), ("0/2", "MAINTENANCE")):
        operator.patch(f"{API}/spots/{spots[number]}", json={"status": status}).raise_for_status()
        by_id = check_in(operator, garage_id, licensePlate=new_plate(), vehicleType="CAR", spotId=spots[number])
        assert by_id.status_code == 409 and error_code(by_id) == "SPOT_NOT_AVAILABLE"
    full = check_in(operator, garage_id, licensePlate=new_plate(), vehicleType="CAR")
    assert full.status_code == 409 and error_code(full) == "GARAGE_FULL"


def test_spot_by_id_compatibility(admin: httpx.Client, operator: httpx.Client) -> None:
    garage_id, spots = new_garage(admin, [(0, "H1", "HANDICAP"), (0, "H2", "HANDICAP"), (0, "H3", "HANDICAP"),
                                          (0, "E1", "EV"), (0, "M1", "MOTORCYCLE"), (0, "L1", "LARGE"),
                                          (0, "C1", "COMPACT")])
    refused = [("H1", "VAN"), ("H1", "TRUCK"), ("E1", "CAR"), ("E1", "MOTORCYCLE"), ("M1", "CAR"), ("C1", "VAN"),
               ("M1", "EV")]
    for number, vehicle_type in refused:
        response = check_in(operator, garage_id, licensePlate=new_plate(), vehicleType=vehicle_type,
                            spotId=spots[f"0/{number}"])
        assert response.status_code == 409 and error_code(response) == "SPOT_INCOMPATIBLE", (number, vehicle_type)
    accepted = [("H1", "CAR"), ("H2", "MOTORCYCLE"), ("H3", "EV"), ("E1", "EV"), ("L1", "MOTORCYCLE"), ("C1", "CAR")]
    for number, vehicle_type in accepted:
        response = check_in(operator, garage_id, licensePlate=new_plate(), vehicleType=vehicle_type,
                            spotId=spots[f"0/{number}"])
        assert spot_of(response) == f"0/{number}", (number, vehicle_type)
    taken = check_in(operator, garage_id, licensePlate=new_plate(), vehicleType="CAR", spotId=spots["0/C1"])
    assert taken.status_code == 409 and error_code(taken) == "SPOT_NOT_AVAILABLE"


def test_unknown_garage_or_spot_is_404(admin: httpx.Client, operator: httpx.Client) -> None:
    garage_id, _ = new_garage(admin, [(0, "1", "STANDARD")])
    _, elsewhere = new_garage(admin, [(0, "1", "STANDARD")])
    for gid, extra in (("nope", {}), (garage_id, {"spotId": "nope"}), (garage_id, {"spotId": elsewhere["0/1"]})):
        response = check_in(operator, gid, licensePlate=new_plate(), vehicleType="CAR", **extra)
        assert response.status_code == 404 and error_code(response) == "NOT_FOUND", extra


def test_a_new_plate_needs_a_type_and_a_failed_check_in_creates_nothing(
    admin: httpx.Client, operator: httpx.Client, viewer: httpx.Client
) -> None:
    garage_id, _ = new_garage(admin, [(0, "1", "LARGE")])
    plate = new_plate("N")
    untyped = check_in(operator, garage_id, licensePlate=plate)
    assert untyped.status_code == 400 and "vehicleType" in untyped.json()["error"]["details"]["fields"]
    assert viewer.get(f"{API}/vehicles", params={"plate": plate}).json()["items"] == []
    parked(operator, garage_id)  # fills the garage
    full = check_in(operator, garage_id, licensePlate=plate, vehicleType="CAR")
    assert full.status_code == 409 and error_code(full) == "GARAGE_FULL"
    assert viewer.get(f"{API}/vehicles", params={"plate": plate}).json()["items"] == []  # no vehicle either
    assert viewer.get(f"{API}/sessions", params={"plate": plate}).json()["items"] == []


def test_a_known_plate_keeps_its_stored_type(admin: httpx.Client, operator: httpx.Client) -> None:
    garage_id, _ = new_garage(admin, [(0, "1", "COMPACT"), (0, "2", "LARGE")])
    plate = new_plate("K")
    operator.post(f"{API}/vehicles", json={"licensePlate": plate, "type": "VAN"}).raise_for_status()
    response = check_in(operator, garage_id, licensePlate=plate, vehicleType="CAR")
    assert spot_of(response) == "0/2"  # parked as the VAN it is
    again = check_in(operator, new_garage(admin, [(0, "1", "LARGE")])[0], licensePlate=plate)
    assert again.status_code == 409  # a known plate needs no type; it is parked though
    vehicles = operator.get(f"{API}/vehicles", params={"plate": plate}).json()["items"]
    assert [v["type"] for v in vehicles] == ["VAN"]


def test_a_parked_vehicle_cannot_check_in_anywhere(admin: httpx.Client, operator: httpx.Client) -> None:
    first, _ = new_garage(admin, [(0, "1", "STANDARD")])
    second, _ = new_garage(admin, [(0, "1", "STANDARD")])
    plate = new_plate("A")
    assert check_in(operator, first, licensePlate=plate, vehicleType="CAR").status_code == 201
    for garage_id in (first, second):
        response = check_in(operator, garage_id, licensePlate=f"{plate[:3]}-{plate[3:].lower()}", vehicleType="CAR")
        assert response.status_code == 409 and error_code(response) == "VEHICLE_ALREADY_PARKED"


def test_back_dated_check_in(admin: httpx.Client, operator: httpx.Client) -> None:
    garage_id, _ = new_garage(admin, [(0, "1", "STANDARD"), (0, "2", "STANDARD")])
    at = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)
    entry = parked(operator, garage_id, at="2026-01-02T04:04:05.678+01:00")
    assert entry["session"]["startTime"] == "2026-01-02T03:04:05.678Z" == entry["ticket"]["issuedAt"]
    assert datetime.fromisoformat(entry["session"]["startTime"]) == at
    # a few seconds ahead is clock skew: taken as now
    skewed = parked(operator, garage_id, at=(datetime.now(timezone.utc) + timedelta(seconds=3)).isoformat())
    assert datetime.fromisoformat(skewed["session"]["startTime"]) <= datetime.now(timezone.utc)


def test_at_must_not_be_in_the_future_nor_naive_nor_before_the_last_exit(
    admin: httpx.Client, operator: httpx.Client
) -> None:
    garage_id, _ = new_garage(admin, [(0, "1", "STANDARD")])
    future = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
    for at in (future, "2026-01-02T03:04:05", "yesterday", "1969-12-31T23:59:59Z", "0001-01-01T00:30:00+01:00"):
        response = check_in(operator, garage_id, licensePlate=new_plate(), vehicleType="CAR", at=at)
        assert response.status_code == 400 and "at" in str(response.json()["error"]["details"]["fields"]), at
    entry = parked(operator, garage_id)
    operator.post(f"{API}/sessions/{entry['session']['id']}/check-out", json={"paymentMethod": "CASH"}).raise_for_status()
    earlier = datetime.fromisoformat(entry["session"]["startTime"]) - timedelta(minutes=5)
    overlapping = check_in(operator, garage_id, licensePlate=entry["session"]["licensePlate"], at=earlier.isoformat())
    assert overlapping.status_code == 400 and "at" in overlapping.json()["error"]["details"]["fields"]


def test_bad_bodies(admin: httpx.Client, operator: httpx.Client) -> None:
    garage_id, _ = new_garage(admin, [(0, "1", "STANDARD")])
    cases = [
        ({"licensePlate": "!", "vehicleType": "CAR"}, "licensePlate"),
        ({"vehicleType": "CAR"}, "licensePlate"),
        ({"licensePlate": new_plate(), "vehicleType": "BUS"}, "vehicleType"),
        ({"licensePlate": new_plate(), "vehicleType": "CAR", "spotId": ""}, "spotId"),
        ({"licensePlate": new_plate(), "vehicleType": "CAR", "gate": 3}, "gate"),
        ({"licensePlate": 12345, "vehicleType": "CAR"}, "licensePlate"),
    ]
    for body, field in cases:
        response = operator.post(f"{API}/garages/{garage_id}/check-in", json=body)
        assert response.status_code == 400, body
        assert any(field in name for name in response.json()["error"]["details"]["fields"]), (body, response.json())
    raw = operator.post(f"{API}/garages/{garage_id}/check-in", content=b"{nope", headers={"content-type": "application/json"})
    assert raw.status_code == 400 and error_code(raw) == "VALIDATION_ERROR"


def test_roles(admin: httpx.Client, viewer: httpx.Client, anonymous: httpx.Client) -> None:
    garage_id, _ = new_garage(admin, [(0, "1", "STANDARD")])
    refused = check_in(viewer, garage_id, licensePlate=new_plate(), vehicleType="CAR")
    assert refused.status_code == 403 and error_code(refused) == "FORBIDDEN"
    unknown = check_in(anonymous, garage_id, licensePlate=new_plate(), vehicleType="CAR")
    assert unknown.status_code == 401 and error_code(unknown) == "UNAUTHENTICATED"
    assert spot_of(check_in(admin, garage_id, licensePlate=new_plate(), vehicleType="CAR")) == "0/1"  # admin includes operator
