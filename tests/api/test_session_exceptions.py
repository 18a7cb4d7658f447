"""Session exceptions over HTTP (API-operations.md "Session exceptions"): voids, exit and quote by
plate, plate search on vehicles and sessions; and check-in's deny-list refusal in the contract's order
("Precise points")."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

from tests.api.parking_data import API, check_in, error_code, new_garage, new_plate, parked, walk

START = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)


def void(client: httpx.Client, session_id: str, reason: str = "left through the open gate") -> httpx.Response:
    return client.post(f"{API}/sessions/{session_id}/void", json={"reason": reason})


def events_of(client: httpx.Client, garage_id: str, types: str) -> list[dict[str, Any]]:
    return walk(client, "/events", garageId=garage_id, types=types, limit=200)


def test_a_void_ends_the_session_without_fee_or_payment_and_frees_the_spot(
    admin: httpx.Client, operator: httpx.Client, viewer: httpx.Client
) -> None:
    garage_id, spots = new_garage(admin, [(0, "1", "STANDARD")])
    entry = parked(operator, garage_id, at=START.isoformat())
    session_id, code = entry["session"]["id"], entry["ticket"]["code"]

    response = void(admin, session_id)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"session", "ticket"}
    session, ticket = body["session"], body["ticket"]
    assert (session["status"], session["feeCents"], session["voidReason"]) == ("VOIDED", None, "left through the open gate")
    assert session["endTime"] is not None and session["endTime"] >= session["startTime"]
    assert ticket == {**entry["ticket"], "status": "VOID"}
    assert viewer.get(f"{API}/sessions/{session_id}").json() == session
    assert viewer.get(f"{API}/tickets/{code}").json() == {"ticket": ticket, "session": session}
    assert viewer.get(f"{API}/spots/{spots['0/1']}").json()["status"] == "AVAILABLE"
    assert walk(viewer, "/payments", garageId=garage_id) == []
    # audited as a VOID with before and after
    entries = admin.get(f"{API}/admin/audit", params={"entity": "Session", "entityId": session_id}).json()["items"]
    assert [e["action"] for e in entries] == ["VOID", "CHECK_IN"]
    assert entries[0]["before"]["status"] == "ACTIVE" and entries[0]["after"]["status"] == "VOIDED"
    assert entries[0]["after"]["voidReason"] == "left through the open gate"
    # session.voided, the spot's change and the occupancy after it
    voided = events_of(viewer, garage_id, "session.voided")
    assert [e["data"]["session"]["id"] for e in voided] == [session_id]
    assert voided[0]["data"]["session"]["status"] == "VOIDED"
    spot_events = events_of(viewer, garage_id, "spot.changed")
    assert [e["data"]["spot"]["status"] for e in spot_events][-1] == "AVAILABLE"
    assert events_of(viewer, garage_id, "occupancy.changed")[-1]["data"]["available"] == 1
    # the plate may park again; the voided session is over for every other exit
    assert void(admin, session_id).status_code == 409 and error_code(void(admin, session_id)) == "SESSION_NOT_ACTIVE"
    paid = operator.post(f"{API}/sessions/{session_id}/check-out", json={"paymentMethod": "CASH"})
    assert error_code(paid) == "SESSION_NOT_ACTIVE"
    assert error_code(viewer.get(f"{API}/sessions/{session_id}/quote")) == "SESSION_NOT_ACTIVE"
    again = check_in(operator, garage_id, licensePlate=session["licensePlate"])
    assert again.status_code == 201, again.text


def test_void_is_for_admins_and_checks_its_reason(
    admin: httpx.Client, operator: httpx.Client, viewer: httpx.Client
) -> None:
    garage_id, _ = new_garage(admin, [(0, "1", "STANDARD")])
    session_id = parked(operator, garage_id)["session"]["id"]
    assert error_code(void(operator, session_id)) == "FORBIDDEN"
    assert error_code(void(viewer, session_id)) == "FORBIDDEN"
    for bad in ({}, {"reason": ""}, {"reason": "x" * 201}, {"reason": 7}, {"reason": "ok", "extra": 1}):
        response = admin.post(f"{API}/sessions/{session_id}/void", json=bad)
        assert response.status_code == 400 and error_code(response) == "VALIDATION_ERROR", (bad, response.text)
    assert error_code(void(admin, "no-such-session")) == "NOT_FOUND"
    # nothing was voided by the refused requests
    assert admin.get(f"{API}/sessions/{session_id}").json()["status"] == "ACTIVE"
    assert void(admin, session_id, "x" * 200).status_code == 200


def test_exit_by_plate_checks_out_the_plates_active_session_in_that_garage(
    admin: httpx.Client, operator: httpx.Client, viewer: httpx.Client
) -> None:
    garage_id, _ = new_garage(admin, [(0, "1", "STANDARD"), (0, "2", "STANDARD")])
    other_garage, _ = new_garage(admin, [(0, "1", "STANDARD")])
    entry = parked(operator, garage_id, at=START.isoformat())
    plate = entry["session"]["licensePlate"]
    end = START + timedelta(minutes=61)  # 5 increments of 75

    quote = viewer.get(f"{API}/garages/{garage_id}/quote", params={"licensePlate": plate.lower(), "at": end.isoformat()})
    assert quote.status_code == 200, quote.text
    assert (quote.json()["sessionId"], quote.json()["feeCents"], quote.json()["minutes"]) == (
        entry["session"]["id"], 375, 61)
    lost = viewer.get(f"{API}/garages/{garage_id}/quote",
                      params={"licensePlate": plate, "at": end.isoformat(), "lostTicket": "true"})
    assert lost.json()["feeCents"] == 5000
    # another garage has no ACTIVE session of the plate
    assert error_code(viewer.get(f"{API}/garages/{other_garage}/quote", params={"licensePlate": plate})) == "NOT_FOUND"
    elsewhere = operator.post(f"{API}/garages/{other_garage}/check-out",
                              json={"licensePlate": plate, "paymentMethod": "CARD"})
    assert elsewhere.status_code == 404 and error_code(elsewhere) == "NOT_FOUND"

    # the plate as a camera reads it (unnormalised)
    spaced = plate[:3].lower() + " " + plate[3:]
    out = operator.post(f"{API}/garages/{garage_id}/check-out",
                        json={"licensePlate": spaced, "paymentMethod": "CARD", "at": end.isoformat()})
    assert out.status_code == 200, out.text
    body = out.json()
    assert set(body) == {"session", "payment", "ticket"}
    assert (body["session"]["id"], body["session"]["status"], body["payment"]["amountCents"]) == (
        entry["session"]["id"], "COMPLETED", 375)
    assert body["ticket"]["status"] == "PAID"
    # the session is over: no ACTIVE session of the plate any more
    again = operator.post(f"{API}/garages/{garage_id}/check-out", json={"licensePlate": plate, "paymentMethod": "CARD"})
    assert error_code(again) == "NOT_FOUND"


def test_exit_and_quote_by_plate_refuse_bad_input(admin: httpx.Client, operator: httpx.Client,
                                                  viewer: httpx.Client) -> None:
    garage_id, _ = new_garage(admin, [(0, "1", "STANDARD")])
    plate = parked(operator, garage_id)["session"]["licensePlate"]
    for body in ({"paymentMethod": "CARD"}, {"licensePlate": "A", "paymentMethod": "CARD"},
                 {"licensePlate": plate, "paymentMethod": "CHEQUE"}, {"licensePlate": plate}):
        response = operator.post(f"{API}/garages/{garage_id}/check-out", json=body)
        assert response.status_code == 400 and error_code(response) == "VALIDATION_ERROR", (body, response.text)
    for params in ({}, {"licensePlate": "A_1"}, {"licensePlate": plate, "lostTicket": "maybe"}):
        response = viewer.get(f"{API}/garages/{garage_id}/quote", params=params)
        assert response.status_code == 400 and error_code(response) == "VALIDATION_ERROR", (params, response.text)
    assert error_code(viewer.get(f"{API}/garages/nope/quote", params={"licensePlate": plate})) == "NOT_FOUND"
    nowhere = operator.post(f"{API}/garages/nope/check-out", json={"licensePlate": plate, "paymentMethod": "CARD"})
    assert error_code(nowhere) == "NOT_FOUND"
    assert error_code(viewer.post(f"{API}/garages/{garage_id}/check-out",
                                  json={"licensePlate": plate, "paymentMethod": "CARD"})) == "FORBIDDEN"
    # nothing was checked out by the refused requests
    assert walk(viewer, "/sessions", garageId=garage_id, status="ACTIVE")[0]["licensePlate"] == plate


def test_plate_search_on_vehicles_and_sessions(admin: httpx.Client, operator: httpx.Client,
                                               viewer: httpx.Client) -> None:
    garage_id, _ = new_garage(admin, [(0, str(n), "STANDARD") for n in range(1, 5)])
    marker = new_plate("")[:4]
    plates = [f"ZQ{marker}1", f"{marker}X7", f"K{marker}"]
    for plate in plates:
        assert check_in(operator, garage_id, licensePlate=plate, vehicleType="CAR").status_code == 201
    assert check_in(operator, garage_id, licensePlate=new_plate("W"), vehicleType="CAR").status_code == 201

    # normalised like a plate: lower case, dashes and spaces ignored
    query = f"{marker[:2].lower()}-{marker[2:]}"
    found_vehicles = walk(viewer, "/vehicles", q=query, limit=2)
    assert sorted(v["licensePlate"] for v in found_vehicles) == sorted(plates)
    found_sessions = walk(viewer, "/sessions", q=query, garageId=garage_id, limit=2)
    assert sorted(s["licensePlate"] for s in found_sessions) == sorted(plates)
    # with the other filters
    assert [s["licensePlate"] for s in walk(viewer, "/sessions", q=f"{marker}X", status="ACTIVE")] == [f"{marker}X7"]
    assert walk(viewer, "/sessions", q=marker, status="COMPLETED", garageId=garage_id) == []
    assert [v["licensePlate"] for v in walk(viewer, "/vehicles", q=marker, plate=f"K{marker}")] == [f"K{marker}"]
    # `plate=` stays exact
    assert walk(viewer, "/vehicles", plate=marker) == []
    # 2..10 characters after normalising, else 400 naming q
    for bad in ("A", "-A-", "ABCDEFGHIJK", "AB_1", ""):
        for path in ("/vehicles", "/sessions"):
            response = viewer.get(f"{API}{path}", params={"q": bad})
            assert response.status_code == 400 and error_code(response) == "VALIDATION_ERROR", (path, bad, response.text)
            assert "q" in response.json()["error"]["details"]["fields"], response.text


def test_a_denied_plate_is_refused_at_check_in_in_the_contracts_order(
    admin: httpx.Client, operator: httpx.Client, viewer: httpx.Client
) -> None:
    garage_id, _ = new_garage(admin, [(0, "1", "STANDARD")])
    other_garage, _ = new_garage(admin, [(0, "1", "STANDARD")])
    denied, parked_plate = new_plate("D"), new_plate("E")
    assert admin.put(f"{API}/garages/{garage_id}/denied-plates/{denied}", json={"reason": "unpaid fees"}).status_code == 200

    refused = check_in(operator, garage_id, licensePlate=denied.lower(), vehicleType="CAR")
    assert refused.status_code == 409 and error_code(refused) == "VEHICLE_DENIED", refused.text
    # nothing written: no vehicle, no session, no event
    assert walk(viewer, "/vehicles", plate=denied) == []
    assert walk(viewer, "/sessions", garageId=garage_id) == []
    assert events_of(viewer, garage_id, "session.started") == []
    # the deny list is per garage
    assert check_in(operator, other_garage, licensePlate=denied, vehicleType="CAR").status_code == 201
    # denied before "already parked" (it is parked in the other garage now), after "closed"
    assert error_code(check_in(operator, garage_id, licensePlate=denied, vehicleType="CAR")) == "VEHICLE_DENIED"
    assert admin.patch(f"{API}/garages/{garage_id}", json={"closed": True}).status_code == 200
    assert error_code(check_in(operator, garage_id, licensePlate=denied, vehicleType="CAR")) == "GARAGE_CLOSED"
    assert admin.patch(f"{API}/garages/{garage_id}", json={"closed": False}).status_code == 200
    # lifted: the plate may enter (once it has left the other garage)
    assert admin.delete(f"{API}/garages/{garage_id}/denied-plates/{denied}").status_code == 204
    assert error_code(check_in(operator, garage_id, licensePlate=denied, vehicleType="CAR")) == "VEHICLE_ALREADY_PARKED"
    assert check_in(operator, garage_id, licensePlate=parked_plate, vehicleType="CAR").status_code == 201
