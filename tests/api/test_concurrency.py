"""The invariants of API.md under real concurrency: simultaneous requests over HTTP to a live
uvicorn with 2 worker processes (two engines, one SQLite file)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

from tests.api.conftest import LiveServer
from tests.api.parking_data import API, check_in, error_code, new_garage, new_plate, walk


def operator_client(server: LiveServer) -> httpx.Client:
    admin = server.client(server.admin_key)
    key = admin.post(f"{API}/admin/api-keys", json={"name": "concurrency operator", "role": "operator"})
    key.raise_for_status()
    return server.client(key.json()["key"])


def all_at_once(count: int, request: Callable[[httpx.Client, int], httpx.Response], server: LiveServer,
                key: str) -> list[httpx.Response]:
    """`count` requests released together (a barrier), each on its own connection."""
    clients = [server.client(key) for _ in range(count)]
    barrier = threading.Barrier(count)

    def run(index: int) -> httpx.Response:
        barrier.wait()
        return request(clients[index], index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def assert_invariants(client: httpx.Client, garage_id: str) -> None:
    spots = walk(client, f"/garages/{garage_id}/spots", limit=200)
    sessions = walk(client, "/sessions", garageId=garage_id, limit=200)
    payments = walk(client, "/payments", garageId=garage_id, limit=200)
    active = [s for s in sessions if s["status"] == "ACTIVE"]
    # one ACTIVE session per spot and per vehicle
    assert len({s["spotId"] for s in active}) == len(active)
    assert len({s["vehicleId"] for s in active}) == len(active)
    # a spot is OCCUPIED exactly when it has an ACTIVE session
    occupied = {s["id"] for s in spots if s["status"] == "OCCUPIED"}
    assert occupied == {s["spotId"] for s in active}
    # every COMPLETED session: exactly one payment, a PAID or LOST ticket
    paid = Counter(p["sessionId"] for p in payments)
    for session in sessions:
        if session["status"] == "COMPLETED":
            assert paid[session["id"]] == 1, session
            ticket = client.get(f"{API}/tickets/{session['ticketCode']}").json()["ticket"]
            assert ticket["status"] in ("PAID", "LOST")
        else:  # ACTIVE, or VOIDED: no payment; a voided session's ticket is VOID
            assert paid[session["id"]] == 0
            if session["status"] == "VOIDED":
                assert client.get(f"{API}/tickets/{session['ticketCode']}").json()["ticket"]["status"] == "VOID"
    # and no vehicle is ACTIVE twice anywhere (across garages)
    everywhere = walk(client, "/sessions", status="ACTIVE", limit=200)
    assert len({s["vehicleId"] for s in everywhere}) == len(everywhere)


def test_simultaneous_check_ins_fill_the_garage_exactly_then_check_outs_pay_once(
    make_server: Callable[..., LiveServer]
) -> None:
    server = make_server(workers=2)
    admin = server.client(server.admin_key)
    operator = operator_client(server)
    key = operator.headers["authorization"].removeprefix("Bearer ")
    garage_id, _ = new_garage(admin, [(level, str(n), "STANDARD") for level in (0, 1, 2) for n in range(1, 6)])

    plates = [new_plate("Q") for _ in range(40)]
    results = all_at_once(40, lambda c, i: check_in(c, garage_id, licensePlate=plates[i], vehicleType="CAR"), server, key)
    outcome = Counter(r.status_code for r in results)
    assert outcome == {201: 15, 409: 25}, [r.text for r in results if r.status_code not in (201, 409)]
    assert {error_code(r) for r in results if r.status_code == 409} == {"GARAGE_FULL"}
    assert len({r.json()["spot"]["id"] for r in results if r.status_code == 201}) == 15
    # refused check-ins created no vehicle
    refused = [plates[i] for i, r in enumerate(results) if r.status_code == 409]
    assert all(operator.get(f"{API}/vehicles", params={"plate": p}).json()["items"] == [] for p in refused)
    assert_invariants(operator, garage_id)

    session_id = next(r.json()["session"]["id"] for r in results if r.status_code == 201)
    outs = all_at_once(20, lambda c, i: c.post(f"{API}/sessions/{session_id}/check-out",
                                               json={"paymentMethod": "CASH"}), server, key)
    assert Counter(r.status_code for r in outs) == {200: 1, 409: 19}
    assert {error_code(r) for r in outs if r.status_code == 409} == {"SESSION_NOT_ACTIVE"}
    assert_invariants(operator, garage_id)

    # the same mixed: check-outs by ticket and new check-ins racing for the freed spots
    winners = [r.json() for r in results if r.status_code == 201 and r.json()["session"]["id"] != session_id][:5]
    newcomers = [new_plate("R") for _ in range(10)]

    def mixed(client: httpx.Client, index: int) -> httpx.Response:
        if index < 5:
            code = winners[index]["ticket"]["code"]
            return client.post(f"{API}/tickets/{code}/check-out", json={"paymentMethod": "CARD", "lostTicket": index == 0})
        return check_in(client, garage_id, licensePlate=newcomers[index - 5], vehicleType="CAR")

    mixed_results = all_at_once(15, mixed, server, key)
    assert all(r.status_code == 200 for r in mixed_results[:5])
    assert all(r.status_code in (201, 409) for r in mixed_results[5:])
    assert_invariants(operator, garage_id)
    active = walk(operator, "/sessions", garageId=garage_id, status="ACTIVE", limit=200)
    # 15 spots: 14 left after the first check-out, minus 5 checked out, plus the check-ins that got in
    assert len(active) == 14 - 5 + sum(r.status_code == 201 for r in mixed_results[5:]) <= 15


def test_simultaneous_check_ins_of_one_new_plate(make_server: Callable[..., LiveServer]) -> None:
    server = make_server(workers=2)
    admin = server.client(server.admin_key)
    operator = operator_client(server)
    key = operator.headers["authorization"].removeprefix("Bearer ")
    garage_id, _ = new_garage(admin, [(0, str(n), "STANDARD") for n in range(1, 11)])
    plate = new_plate("S")
    results = all_at_once(10, lambda c, i: check_in(c, garage_id, licensePlate=plate, vehicleType="CAR"), server, key)
    assert Counter(r.status_code for r in results) == {201: 1, 409: 9}
    assert {error_code(r) for r in results if r.status_code == 409} == {"VEHICLE_ALREADY_PARKED"}
    vehicles: list[dict[str, Any]] = operator.get(f"{API}/vehicles", params={"plate": plate}).json()["items"]
    assert len(vehicles) == 1
    assert_invariants(operator, garage_id)


def test_simultaneous_check_ins_of_one_new_plate_for_the_last_free_spot(make_server: Callable[..., LiveServer]) -> None:
    """One fitting spot left: the losers find no spot under the write lock, but what they lost to
    is the same vehicle, so the contract's answer is VEHICLE_ALREADY_PARKED, not GARAGE_FULL (or
    SPOT_NOT_AVAILABLE when they all asked for that spot)."""
    server = make_server(workers=2)
    admin = server.client(server.admin_key)
    operator = operator_client(server)
    key = operator.headers["authorization"].removeprefix("Bearer ")
    for by_spot_id in (False, True):
        garage_id, spot_ids = new_garage(admin, [(0, "1", "STANDARD"), (0, "2", "LARGE")])
        assert check_in(operator, garage_id, licensePlate=new_plate("T"), vehicleType="TRUCK").status_code == 201
        plate = new_plate("L")
        body: dict[str, Any] = {"licensePlate": plate, "vehicleType": "CAR"}
        if by_spot_id:
            body["spotId"] = spot_ids["0/1"]
        results = all_at_once(10, lambda c, i: check_in(c, garage_id, **body), server, key)
        assert Counter(r.status_code for r in results) == {201: 1, 409: 9}, [r.text for r in results]
        assert {error_code(r) for r in results if r.status_code == 409} == {"VEHICLE_ALREADY_PARKED"}
        assert_invariants(operator, garage_id)


def test_a_void_racing_check_outs_leaves_exactly_one_winner(make_server: Callable[..., LiveServer]) -> None:
    """API-operations.md "Session exceptions": a void and check-outs of one session at once, on 2 workers:
    exactly one succeeds, the others get SESSION_NOT_ACTIVE, and the invariants hold either way."""
    server = make_server(workers=2)
    admin = server.client(server.admin_key)
    garage_id, _ = new_garage(admin, [(0, str(n), "STANDARD") for n in range(1, 7)])
    outcomes: Counter[str] = Counter()
    for _ in range(6):
        entry = check_in(admin, garage_id, licensePlate=new_plate("V"), vehicleType="CAR").json()
        session_id = entry["session"]["id"]

        def void_or_pay(client: httpx.Client, index: int) -> httpx.Response:
            if index % 2 == 0:
                return client.post(f"{API}/sessions/{session_id}/void", json={"reason": "race"})  # noqa: B023
            return client.post(f"{API}/sessions/{session_id}/check-out", json={"paymentMethod": "CASH"})  # noqa: B023

        results = all_at_once(6, void_or_pay, server, server.admin_key)
        assert Counter(r.status_code for r in results) == {200: 1, 409: 5}, [r.text for r in results]
        assert {error_code(r) for r in results if r.status_code == 409} == {"SESSION_NOT_ACTIVE"}
        winner = next(r.json() for r in results if r.status_code == 200)
        outcomes[winner["session"]["status"]] += 1
        assert admin.get(f"{API}/sessions/{session_id}").json()["status"] == winner["session"]["status"]
    assert_invariants(admin, garage_id)
    assert sum(outcomes.values()) == 6 and set(outcomes) <= {"VOIDED", "COMPLETED"}


def test_a_validation_racing_a_check_out_is_either_charged_or_refused(make_server: Callable[..., LiveServer]) -> None:
    """A validation committed while a check-out of the same ticket is in flight is never lost: either
    the payment shows its discount or the validation is refused (SESSION_NOT_ACTIVE), on 2 workers."""
    server = make_server(workers=2)
    admin = server.client(server.admin_key)
    garage_id, _ = new_garage(admin, [(0, str(n), "STANDARD") for n in range(1, 9)])
    validator = admin.post(f"{API}/garages/{garage_id}/validators",
                           json={"name": "Bakery", "kind": "AMOUNT_OFF", "value": 100}).json()
    start = (datetime.now(timezone.utc) - timedelta(hours=2)).isoformat()  # 2 h: 600 due, 100 off when validated
    outcomes: Counter[str] = Counter()
    for _ in range(8):
        entry = check_in(admin, garage_id, licensePlate=new_plate("C"), vehicleType="CAR", at=start).json()
        code = entry["ticket"]["code"]

        def validate_or_leave(client: httpx.Client, index: int) -> httpx.Response:
            if index == 0:
                return client.post(f"{API}/tickets/{code}/validations", json={"validatorId": validator["id"]})  # noqa: B023
            return client.post(f"{API}/tickets/{code}/check-out", json={"paymentMethod": "CARD"})  # noqa: B023

        validated, left = all_at_once(2, validate_or_leave, server, server.admin_key)
        assert left.status_code == 200, left.text
        payment = left.json()["payment"]
        if validated.status_code == 201:
            assert payment["discountCents"] == 100
            assert payment["amountCents"] + 100 == fee_without_validation(payment, left.json()["session"])
            outcomes["validated first"] += 1
        else:
            assert error_code(validated) == "SESSION_NOT_ACTIVE", validated.text
            assert payment["discountCents"] == 0
            outcomes["checked out first"] += 1
    assert sum(outcomes.values()) == 8
    assert_invariants(admin, garage_id)


def fee_without_validation(payment: dict[str, Any], session: dict[str, Any]) -> int:
    """The default rate's fee of the session's stay (API.md): what an unvalidated check-out charges."""
    start = datetime.fromisoformat(session["startTime"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(session["endTime"].replace("Z", "+00:00"))
    minutes = -(-int((end - start).total_seconds() * 1000) // 60000)
    days, rest = divmod(minutes, 1440)
    return days * 2500 + min(2500, -(-rest // 15) * 75)
