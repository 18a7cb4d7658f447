"""Quote and check-out (by session and by ticket): the fee rule end to end, the one-transaction
effects (session, payment, spot, ticket, audit), `at` rules, conflicts, roles, and encryption at
rest checked in the SQLite file itself."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

from tests.api.conftest import LiveServer
from tests.api.parking_data import API, check_in, error_code, new_garage, new_plate, parked


def iso(value: datetime) -> str:
    return value.isoformat()


def back_dated(operator: httpx.Client, garage_id: str, start: datetime, vehicle_type: str = "CAR") -> dict[str, Any]:
    return parked(operator, garage_id, vehicle_type, at=iso(start))


def check_out(client: httpx.Client, session_id: str, **body: Any) -> httpx.Response:
    return client.post(f"{API}/sessions/{session_id}/check-out", json={"paymentMethod": "CARD", **body})


START = datetime(2026, 2, 1, 9, 0, tzinfo=timezone.utc)


def test_check_out_ends_charges_pays_frees_and_marks_the_ticket(
    admin: httpx.Client, operator: httpx.Client, viewer: httpx.Client
) -> None:
    garage_id, spots = new_garage(admin, [(0, "1", "STANDARD")], currency="EUR")
    entry = back_dated(operator, garage_id, START)
    session_id = entry["session"]["id"]
    end = START + timedelta(minutes=61)  # 61 min -> 5 increments of 75 -> 375
    response = check_out(operator, session_id, paymentMethod="MOBILE", reference="txn-42", at=iso(end))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"session", "payment", "ticket"}
    session, payment, ticket = body["session"], body["payment"], body["ticket"]
    assert (session["status"], session["endTime"], session["feeCents"]) == ("COMPLETED", "2026-02-01T10:01:00.000Z", 375)
    assert session["ticketCode"] == ticket["code"] == entry["ticket"]["code"]
    assert (payment["sessionId"], payment["amountCents"], payment["currency"], payment["method"], payment["status"],
            payment["reference"], payment["createdAt"], payment["refundedAt"]) == (
        session_id, 375, "EUR", "MOBILE", "COMPLETED", "txn-42", "2026-02-01T10:01:00.000Z", None)
    assert ticket["status"] == "PAID"
    assert viewer.get(f"{API}/spots/{spots['0/1']}").json()["status"] == "AVAILABLE"
    assert viewer.get(f"{API}/sessions/{session_id}").json() == session
    assert viewer.get(f"{API}/payments/{payment['id']}").json() == payment
    assert viewer.get(f"{API}/tickets/{ticket['code']}").json() == {"ticket": ticket, "session": session}
    # audited, without the reference
    entries = admin.get(f"{API}/admin/audit", params={"entity": "Session", "entityId": session_id}).json()["items"]
    assert [e["action"] for e in entries] == ["CHECK_OUT", "CHECK_IN"]
    assert entries[0]["before"]["status"] == "ACTIVE" and entries[0]["after"]["status"] == "COMPLETED"
    paid = admin.get(f"{API}/admin/audit", params={"entity": "Payment", "entityId": payment["id"]}).json()["items"]
    assert [e["action"] for e in paid] == ["CREATE"] and paid[0]["after"]["reference"] == "(set)"
    assert "txn-42" not in str(paid) + str(entries)
    # the spot is free again
    assert check_in(operator, garage_id, licensePlate=new_plate(), vehicleType="CAR").status_code == 201


def test_fee_boundaries_through_the_api(admin: httpx.Client, operator: httpx.Client) -> None:
    garage_id, _ = new_garage(admin, [(0, str(n), "STANDARD") for n in range(1, 9)])
    cases = [  # minutes after START, lost ticket, expected cents (default rate: 75 per 15 min, grace 10, max 2500)
        (timedelta(minutes=10), False, 0),
        (timedelta(minutes=10, seconds=1), False, 75),           # 10 min 1 s rounds up to 11 minutes
        (timedelta(minutes=496), False, 2500),                   # daily maximum
        (timedelta(days=2, minutes=61), False, 5375),            # 2 days + 5 increments
        (timedelta(minutes=5), True, 5000),                      # lost ticket inside grace
        (timedelta(days=2, minutes=61), True, 5375),             # the fee exceeds the lost-ticket fee
    ]
    for elapsed, lost, expected in cases:
        start = START - timedelta(days=3)
        entry = back_dated(operator, garage_id, start)
        response = check_out(operator, entry["session"]["id"], lostTicket=lost, at=iso(start + elapsed))
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["session"]["feeCents"] == body["payment"]["amountCents"] == expected, (elapsed, lost)
        assert body["ticket"]["status"] == ("LOST" if lost else "PAID")


def test_the_rate_in_force_at_check_out_applies(admin: httpx.Client, operator: httpx.Client) -> None:
    garage_id, _ = new_garage(admin, [(0, "1", "STANDARD")])
    entry = back_dated(operator, garage_id, START)
    admin.put(f"{API}/garages/{garage_id}/rates", json={
        "hourlyRateCents": 250, "incrementMinutes": 15, "graceMinutes": 0, "dailyMaxCents": 9000,
        "lostTicketFeeCents": 100}).raise_for_status()
    # 250 c/h per 15 min = 62.5 -> 63 (half up); 31 min = 3 increments = 189
    response = check_out(operator, entry["session"]["id"], at=iso(START + timedelta(minutes=31)))
    assert response.json()["session"]["feeCents"] == 189


def test_quote_prices_without_writing(admin: httpx.Client, operator: httpx.Client, viewer: httpx.Client) -> None:
    garage_id, _ = new_garage(admin, [(0, "1", "STANDARD")])
    entry = back_dated(operator, garage_id, START)
    session_id = entry["session"]["id"]
    at = iso(START + timedelta(days=1, minutes=1))
    quote = viewer.get(f"{API}/sessions/{session_id}/quote", params={"at": at})
    assert quote.status_code == 200, quote.text
    assert quote.json() == {
        "sessionId": session_id, "at": "2026-02-02T09:01:00.000Z", "feeCents": 2575, "minutes": 1441,
        "discountCents": 0,
        "breakdown": {"graceApplied": False, "days": 1, "daysCents": 2500, "restMinutes": 1, "increments": 1,
                      "incrementCents": 75, "restCents": 75, "lostTicket": False, "lostTicketFeeCents": 5000,
                      "lostTicketSurchargeCents": 0,
                      # the complete rule's parts (API-operations.md): no permit, flat rate or validation here
                      "permitId": None, "permitCoveredMinutes": 0, "flatRate": None, "validation": None,
                      "hourlyRateCents": 300, "dailyMaxCents": 2500, "chargeableMinutes": 1441,
                      "billedMinutes": 1441, "standardFeeCents": 2575, "flatRateCents": None,
                      "feeBeforeValidationCents": 2575},
    }
    lost = viewer.get(f"{API}/sessions/{session_id}/quote", params={"at": at, "lostTicket": "true"}).json()
    assert (lost["feeCents"], lost["breakdown"]["lostTicketSurchargeCents"]) == (5000, 2425)
    far = viewer.get(f"{API}/sessions/{session_id}/quote", params={"at": "9999-12-30T00:00:00Z"})
    assert far.status_code == 200 and far.json()["feeCents"] > 0  # a planned exit may be quoted
    now_quote = viewer.get(f"{API}/sessions/{session_id}/quote").json()  # default: now
    assert now_quote["minutes"] > 1441 and now_quote["feeCents"] >= 2575
    assert viewer.get(f"{API}/sessions/{session_id}").json()["status"] == "ACTIVE"  # nothing written
    before = viewer.get(f"{API}/sessions/{session_id}/quote", params={"at": iso(START - timedelta(minutes=1))})
    assert before.status_code == 400 and "at" in before.json()["error"]["details"]["fields"]
    for params in ({"at": "2026-02-01T09:00:00"}, {"lostTicket": "maybe"}):
        assert viewer.get(f"{API}/sessions/{session_id}/quote", params=params).status_code == 400, params
    missing = viewer.get(f"{API}/sessions/nope/quote")
    assert missing.status_code == 404 and error_code(missing) == "NOT_FOUND"
    check_out(operator, session_id).raise_for_status()
    ended = viewer.get(f"{API}/sessions/{session_id}/quote")
    assert ended.status_code == 409 and error_code(ended) == "SESSION_NOT_ACTIVE"


def test_check_out_twice_is_session_not_active(admin: httpx.Client, operator: httpx.Client) -> None:
    garage_id, _ = new_garage(admin, [(0, "1", "STANDARD")])
    entry = parked(operator, garage_id)
    assert check_out(operator, entry["session"]["id"]).status_code == 200
    again = check_out(operator, entry["session"]["id"])
    assert again.status_code == 409 and error_code(again) == "SESSION_NOT_ACTIVE"
    by_ticket = operator.post(f"{API}/tickets/{entry['ticket']['code']}/check-out", json={"paymentMethod": "CASH"})
    assert by_ticket.status_code == 409 and error_code(by_ticket) == "SESSION_NOT_ACTIVE"
    payments = operator.get(f"{API}/payments", params={"garageId": garage_id}).json()["items"]
    assert len(payments) == 1  # nothing recorded by the refused attempts


def test_check_out_by_ticket_code_ignores_case(admin: httpx.Client, operator: httpx.Client) -> None:
    garage_id, _ = new_garage(admin, [(0, "1", "STANDARD")])
    entry = back_dated(operator, garage_id, START)
    code = entry["ticket"]["code"]
    response = operator.post(f"{API}/tickets/{code.lower()}/check-out",
                             json={"paymentMethod": "VALIDATION", "lostTicket": True, "at": iso(START + timedelta(hours=1))})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["session"]["id"] == entry["session"]["id"] and body["ticket"]["status"] == "LOST"
    assert body["payment"]["amountCents"] == 5000 and body["payment"]["reference"] is None
    unknown = operator.post(f"{API}/tickets/NOPENOPE/check-out", json={"paymentMethod": "CASH"})
    assert unknown.status_code == 404 and error_code(unknown) == "NOT_FOUND"


def test_check_out_at_rules(admin: httpx.Client, operator: httpx.Client) -> None:
    garage_id, _ = new_garage(admin, [(0, "1", "STANDARD")])
    entry = back_dated(operator, garage_id, START)
    session_id = entry["session"]["id"]
    for at in (START - timedelta(seconds=10), datetime.now(timezone.utc) + timedelta(minutes=1)):
        response = check_out(operator, session_id, at=iso(at))
        assert response.status_code == 400 and "at" in response.json()["error"]["details"]["fields"], at
    # within 5 s before the start is clock skew: the session ends at its start, free
    skewed = check_out(operator, session_id, at=iso(START - timedelta(seconds=3)))
    assert skewed.status_code == 200, skewed.text
    assert (skewed.json()["session"]["endTime"], skewed.json()["session"]["feeCents"]) == ("2026-02-01T09:00:00.000Z", 0)
    # a few seconds ahead of now is clock skew too: taken as now
    later = parked(operator, garage_id)
    ahead = check_out(operator, later["session"]["id"], at=iso(datetime.now(timezone.utc) + timedelta(seconds=3)))
    assert ahead.status_code == 200
    assert datetime.fromisoformat(ahead.json()["session"]["endTime"]) <= datetime.now(timezone.utc)


def test_bad_bodies_unknown_sessions_and_roles(
    admin: httpx.Client, operator: httpx.Client, viewer: httpx.Client, anonymous: httpx.Client
) -> None:
    garage_id, _ = new_garage(admin, [(0, "1", "STANDARD")])
    entry = parked(operator, garage_id)
    session_id = entry["session"]["id"]
    for body, field in (({}, "paymentMethod"), ({"paymentMethod": "GOLD"}, "paymentMethod"),
                        ({"paymentMethod": "CASH", "reference": "x" * 101}, "reference"),
                        ({"paymentMethod": "CASH", "lostTicket": "perhaps"}, "lostTicket"),
                        ({"paymentMethod": "CASH", "tip": 1}, "tip")):
        response = operator.post(f"{API}/sessions/{session_id}/check-out", json=body)
        assert response.status_code == 400, body
        assert any(field in name for name in response.json()["error"]["details"]["fields"]), body
    missing = check_out(operator, "nope")
    assert missing.status_code == 404 and error_code(missing) == "NOT_FOUND"
    for client, status, code in ((viewer, 403, "FORBIDDEN"), (anonymous, 401, "UNAUTHENTICATED")):
        for response in (check_out(client, session_id),
                         client.post(f"{API}/tickets/{entry['ticket']['code']}/check-out", json={"paymentMethod": "CASH"})):
            assert response.status_code == status and error_code(response) == code
    assert anonymous.get(f"{API}/sessions/{session_id}/quote").status_code == 401
    assert viewer.get(f"{API}/sessions/{session_id}").json()["status"] == "ACTIVE"


def test_sensitive_values_never_reach_the_database_file(live: LiveServer, admin: httpx.Client, operator: httpx.Client) -> None:
    email = f"owner-{uuid.uuid4().hex}@example.com"
    reference = f"card-ref-{uuid.uuid4().hex}"
    plate = new_plate("E")
    operator.post(f"{API}/vehicles", json={"licensePlate": plate, "type": "CAR", "ownerEmail": email,
                                           "ownerName": "Plain Name", "ownerPhone": "+1 555 0100"}).raise_for_status()
    garage_id, _ = new_garage(admin, [(0, "1", "STANDARD")])
    entry = check_in(operator, garage_id, licensePlate=plate)
    assert entry.status_code == 201
    out = check_out(operator, entry.json()["session"]["id"], reference=reference)
    assert out.status_code == 200 and out.json()["payment"]["reference"] == reference
    raw = b""
    for path in (live.database, live.database.with_name(live.database.name + "-wal")):
        if path.exists():
            raw += path.read_bytes()
    assert plate.encode() in raw  # the bytes are readable: plain columns are found
    for secret in (email, reference):
        assert secret.encode() not in raw
        assert secret.encode("utf-16-le") not in raw
