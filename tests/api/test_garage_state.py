"""Garage state (API-operations.md "Garage state"): `closed` (admin PATCH), check-in into a closed
garage is 409 GARAGE_CLOSED (first among the conflicts, "Precise points"), check-outs go on, and
occupancy's `state` is CLOSED, FULL (no AVAILABLE spot takes a CAR) or OPEN."""

from __future__ import annotations

import httpx

from tests.api.parking_data import API, check_in, error_code, new_garage, new_plate, parked


def close(admin: httpx.Client, garage_id: str, closed: bool = True) -> dict[str, object]:
    response = admin.patch(f"{API}/garages/{garage_id}", json={"closed": closed})
    assert response.status_code == 200, response.text
    return dict(response.json())


def state(client: httpx.Client, garage_id: str) -> str:
    response = client.get(f"{API}/garages/{garage_id}/occupancy")
    assert response.status_code == 200, response.text
    return str(response.json()["state"])


def test_a_garage_is_open_until_an_admin_closes_it(admin: httpx.Client, operator: httpx.Client) -> None:
    garage_id, _ = new_garage(admin, [(0, "1", "STANDARD")])
    assert admin.get(f"{API}/garages/{garage_id}").json()["closed"] is False
    refused = operator.patch(f"{API}/garages/{garage_id}", json={"closed": True})
    assert refused.status_code == 403
    assert close(admin, garage_id)["closed"] is True
    assert admin.get(f"{API}/garages/{garage_id}").json()["closed"] is True
    audit = admin.get(f"{API}/admin/audit", params={"entity": "Garage", "entityId": garage_id}).json()["items"]
    assert audit[0]["action"] == "UPDATE"
    assert (audit[0]["before"]["closed"], audit[0]["after"]["closed"]) == (False, True)
    for wrong in (None, "yes", 1):
        bad = admin.patch(f"{API}/garages/{garage_id}", json={"closed": wrong})
        assert bad.status_code == 400 and error_code(bad) == "VALIDATION_ERROR", bad.text
    assert admin.get(f"{API}/garages/{garage_id}").json()["closed"] is True


def test_a_closed_garage_refuses_check_ins_and_writes_nothing(admin: httpx.Client, operator: httpx.Client) -> None:
    garage_id, spots = new_garage(admin, [(0, "1", "STANDARD"), (0, "2", "STANDARD")])
    inside = parked(operator, garage_id)
    close(admin, garage_id)
    plate = new_plate()

    refused = check_in(operator, garage_id, licensePlate=plate, vehicleType="CAR")

    assert refused.status_code == 409 and error_code(refused) == "GARAGE_CLOSED", refused.text
    assert admin.get(f"{API}/vehicles", params={"plate": plate}).json()["items"] == []
    free = admin.get(f"{API}/spots/{spots['0/2']}").json()
    assert free["status"] == "AVAILABLE"
    # check-outs go on
    out = operator.post(f"{API}/sessions/{inside['session']['id']}/check-out", json={"paymentMethod": "CARD"})
    assert out.status_code == 200, out.text
    # open again: check-ins go on
    close(admin, garage_id, closed=False)
    assert check_in(operator, garage_id, licensePlate=plate, vehicleType="CAR").status_code == 201


def test_garage_closed_comes_before_the_vehicles_own_conflict(admin: httpx.Client, operator: httpx.Client) -> None:
    garage_id, _ = new_garage(admin, [(0, "1", "STANDARD")])
    plate = parked(operator, garage_id)["session"]["licensePlate"]  # parked, and the garage is now full
    close(admin, garage_id)
    again = check_in(operator, garage_id, licensePlate=plate)
    assert again.status_code == 409 and error_code(again) == "GARAGE_CLOSED", again.text


def test_the_state_signs_show(admin: httpx.Client, operator: httpx.Client, viewer: httpx.Client) -> None:
    garage_id, spots = new_garage(admin, [(0, "1", "COMPACT"), (0, "2", "EV"), (0, "3", "MOTORCYCLE")])
    assert state(viewer, garage_id) == "OPEN"
    taken = parked(operator, garage_id, spotId=spots["0/1"])
    # the EV and MOTORCYCLE spots are free, but a CAR takes neither
    assert state(viewer, garage_id) == "FULL"
    assert check_in(operator, garage_id, licensePlate=new_plate(), vehicleType="CAR").status_code == 409
    close(admin, garage_id)
    assert state(viewer, garage_id) == "CLOSED"
    close(admin, garage_id, closed=False)
    operator.post(f"{API}/sessions/{taken['session']['id']}/check-out", json={"paymentMethod": "CASH"})
    assert state(viewer, garage_id) == "OPEN"
    # a spot out of use does not take a car either
    assert operator.patch(f"{API}/spots/{spots['0/1']}", json={"status": "MAINTENANCE"}).status_code == 200
    assert state(viewer, garage_id) == "FULL"
