"""The event log through HTTP (API-operations.md "Events"): every change writes its events in its own
transaction, a refused request writes none, and GET /events lists them in commit order."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.parking_data import API, check_in, error_code, new_garage, new_plate, parked


def events(client: httpx.Client, garage_id: str, after: str | None = None, **params: Any) -> list[dict[str, Any]]:
    query = {"garageId": garage_id, "limit": 1000, **params}
    if after is not None:
        query["after"] = after
    response = client.get(f"{API}/events", params=query)
    assert response.status_code == 200, response.text
    assert response.json()["nextCursor"] is None
    return list(response.json()["items"])


def types(items: list[dict[str, Any]]) -> list[str]:
    return [item["type"] for item in items]


def test_check_in_and_check_out_write_their_events(admin: httpx.Client, operator: httpx.Client,
                                                    viewer: httpx.Client) -> None:
    garage_id, spots = new_garage(admin, [(0, "1", "STANDARD"), (0, "2", "STANDARD")])
    start = events(viewer, garage_id)
    assert types(start) == ["spot.changed", "spot.changed", "occupancy.changed"]  # the two spots created
    assert start[-1]["data"] == {"garageId": garage_id, "total": 2, "available": 2, "occupied": 0, "reserved": 0,
                                 "maintenance": 0, "state": "OPEN"}

    checked_in = parked(operator, garage_id, spotId=spots["0/1"])
    session = checked_in["session"]
    after_in = events(viewer, garage_id, after=start[-1]["id"])
    assert types(after_in) == ["session.started", "spot.changed", "occupancy.changed"]
    started = after_in[0]["data"]
    assert started["session"]["id"] == session["id"] and started["session"]["ticketCode"] == session["ticketCode"]
    assert (started["spot"]["id"], started["spot"]["status"]) == (spots["0/1"], "OCCUPIED")
    assert after_in[2]["data"]["occupied"] == 1 and after_in[2]["data"]["state"] == "OPEN"

    out = operator.post(f"{API}/sessions/{session['id']}/check-out",
                        json={"paymentMethod": "CARD", "reference": "secret-ref-123"})
    assert out.status_code == 200, out.text
    after_out = events(viewer, garage_id, after=after_in[-1]["id"])
    assert types(after_out) == ["session.completed", "spot.changed", "occupancy.changed"]
    completed = after_out[0]["data"]
    assert completed["session"]["status"] == "COMPLETED"
    assert completed["payment"]["id"] == out.json()["payment"]["id"]
    assert "reference" not in completed["payment"]  # encrypted fields never travel in events
    assert after_out[1]["data"]["spot"]["status"] == "AVAILABLE"
    assert after_out[2]["data"]["occupied"] == 0

    refunded = admin.post(f"{API}/payments/{completed['payment']['id']}/refund")
    assert refunded.status_code == 200, refunded.text
    (refund,) = events(viewer, garage_id, after=after_out[-1]["id"])
    assert refund["type"] == "payment.refunded" and refund["data"]["payment"]["status"] == "REFUNDED"

    ids = [event["id"] for event in [*start, *after_in, *after_out, refund]]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_spot_changes_and_closing_write_events(admin: httpx.Client, operator: httpx.Client) -> None:
    garage_id, spots = new_garage(admin, [(0, "1", "COMPACT")])
    last = events(operator, garage_id)[-1]["id"]
    assert operator.patch(f"{API}/spots/{spots['0/1']}", json={"status": "MAINTENANCE"}).status_code == 200
    changed = events(operator, garage_id, after=last)
    assert types(changed) == ["spot.changed", "occupancy.changed"]
    assert changed[1]["data"]["state"] == "FULL"
    assert admin.patch(f"{API}/garages/{garage_id}", json={"closed": True}).status_code == 200
    (closing,) = events(operator, garage_id, after=changed[-1]["id"])
    assert (closing["type"], closing["data"]["state"]) == ("occupancy.changed", "CLOSED")
    # a change that does not touch the counts or the state: no occupancy event
    assert admin.patch(f"{API}/garages/{garage_id}", json={"name": "renamed"}).status_code == 200
    assert events(operator, garage_id, after=closing["id"]) == []


def test_a_refused_request_writes_no_event(admin: httpx.Client, operator: httpx.Client) -> None:
    garage_id, _ = new_garage(admin, [(0, "1", "STANDARD")])
    parked(operator, garage_id)
    last = events(operator, garage_id)[-1]["id"]
    full = check_in(operator, garage_id, licensePlate=new_plate(), vehicleType="CAR")
    assert full.status_code == 409 and error_code(full) == "GARAGE_FULL"
    assert events(operator, garage_id, after=last) == []


def test_the_list_pages_and_filters(admin: httpx.Client, viewer: httpx.Client) -> None:
    garage_id, _ = new_garage(admin, [(0, str(n), "STANDARD") for n in range(1, 6)])
    everything = events(viewer, garage_id)
    assert len(everything) == 6  # five spot.changed, one occupancy.changed
    only_occupancy = events(viewer, garage_id, types="occupancy.changed")
    assert [event["id"] for event in only_occupancy] == [everything[-1]["id"]]
    walked, after = [], None
    while True:
        params: dict[str, Any] = {"garageId": garage_id, "limit": 2, **({"after": after} if after else {})}
        page = viewer.get(f"{API}/events", params=params).json()
        walked += page["items"]
        if page["nextCursor"] is None:
            break
        after = page["nextCursor"]
    assert walked == everything


def test_bad_queries_are_400(viewer: httpx.Client, anonymous: httpx.Client) -> None:
    for params in ({"after": "not-an-id"}, {"types": "session.started,nonsense"}, {"limit": 0}):
        response = viewer.get(f"{API}/events", params=params)
        assert response.status_code == 400 and error_code(response) == "VALIDATION_ERROR", (params, response.text)
    assert anonymous.get(f"{API}/events").status_code == 401


def test_deleting_a_garage_changes_its_spots(admin: httpx.Client, viewer: httpx.Client) -> None:
    garage_id, spots = new_garage(admin, [(0, "1", "STANDARD"), (0, "2", "EV")])
    last = events(viewer, garage_id)[-1]["id"]
    assert admin.delete(f"{API}/garages/{garage_id}").status_code == 204
    gone = events(viewer, garage_id, after=last)
    assert types(gone) == ["spot.changed", "spot.changed", "occupancy.changed"]
    assert {event["data"]["spot"]["id"] for event in gone[:2]} == set(spots.values())
    assert all(event["data"]["spot"]["deletedAt"] is not None for event in gone[:2])
    assert (gone[2]["data"]["total"], gone[2]["data"]["state"]) == (0, "FULL")
