"""GET /sessions (filters, order, pages), GET /sessions/{id}, GET /tickets/{code}."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone

import httpx

from tests.api.parking_data import API, check_in, error_code, new_garage, new_plate, walk

T = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)


def test_filters_and_newest_start_first(admin: httpx.Client, operator: httpx.Client, viewer: httpx.Client) -> None:
    garage_id, _ = new_garage(admin, [(0, str(n), "STANDARD") for n in range(1, 6)])
    other_garage, _ = new_garage(admin, [(0, "1", "STANDARD")])
    plate = new_plate("F")
    made: list[dict[str, object]] = []
    for hours in (0, 1, 2, 3):
        response = check_in(operator, garage_id, licensePlate=new_plate() if hours else plate, vehicleType="CAR",
                            at=(T + timedelta(hours=hours)).isoformat())
        assert response.status_code == 201, response.text
        made.append(response.json()["session"])
    check_in(operator, other_garage, licensePlate=new_plate(), vehicleType="CAR", at=T.isoformat()).raise_for_status()
    operator.post(f"{API}/sessions/{made[1]['id']}/check-out", json={"paymentMethod": "CASH"}).raise_for_status()

    def ids(**params: object) -> list[object]:
        return [s["id"] for s in walk(viewer, "/sessions", garageId=garage_id, limit=2, **params)]

    assert ids() == [s["id"] for s in reversed(made)]
    assert ids(status="COMPLETED") == [made[1]["id"]]
    assert ids(status="ACTIVE") == [made[3]["id"], made[2]["id"], made[0]["id"]]
    assert ids(plate=f"{plate[:2].lower()} {plate[2:]}") == [made[0]["id"]]
    # from inclusive, to exclusive, on startTime
    assert ids(**{"from": (T + timedelta(hours=1)).isoformat(), "to": (T + timedelta(hours=3)).isoformat()}) == [
        made[2]["id"], made[1]["id"]]
    assert ids(**{"from": (T + timedelta(hours=3)).isoformat()}) == [made[3]["id"]]
    assert ids(**{"to": (T + timedelta(hours=1)).isoformat()}) == [made[0]["id"]]
    everywhere = walk(viewer, "/sessions", plate=plate)
    assert [s["id"] for s in everywhere] == [made[0]["id"]]
    unfiltered = viewer.get(f"{API}/sessions", params={"limit": 200}).json()["items"]
    starts = [s["startTime"] for s in unfiltered]
    assert starts == sorted(starts, reverse=True)


def test_one_session_and_its_ticket(admin: httpx.Client, operator: httpx.Client, viewer: httpx.Client) -> None:
    garage_id, _ = new_garage(admin, [(0, "1", "STANDARD")])
    entry = check_in(operator, garage_id, licensePlate=new_plate(), vehicleType="CAR").json()
    session, ticket = entry["session"], entry["ticket"]
    assert viewer.get(f"{API}/sessions/{session['id']}").json() == session
    found = viewer.get(f"{API}/tickets/{ticket['code'].lower()}")
    assert found.status_code == 200 and found.json() == {"ticket": ticket, "session": session}
    for path in ("/sessions/nope", "/tickets/NOPENOPE"):
        response = viewer.get(f"{API}{path}")
        assert response.status_code == 404 and error_code(response) == "NOT_FOUND"


def test_bad_parameters_and_auth(viewer: httpx.Client, anonymous: httpx.Client) -> None:
    for params, field in (({"status": "PARKED"}, "status"), ({"from": "2025-06-01T12:00:00"}, "from"),
                          ({"to": "soon"}, "to"), ({"from": "0001-01-01T00:00:00+01:00"}, "from"), ({"plate": "!!"}, "plate"), ({"limit": "x"}, "limit"),
                          ({"cursor": "@@"}, "cursor")):
        response = viewer.get(f"{API}/sessions", params=params)
        assert response.status_code == 400, params
        assert any(field in name for name in response.json()["error"]["details"]["fields"]), (params, response.json())
    for path in ("/sessions", "/sessions/x", "/tickets/x"):
        assert anonymous.get(f"{API}{path}").status_code == 401


def test_cursors_carry_the_position_and_old_id_cursors_still_work(admin: httpx.Client, operator: httpx.Client,
                                                                   viewer: httpx.Client) -> None:
    """A page's nextCursor holds the last row's startTime and id (opaque): the next page seeks to it. A cursor
    holding only a session id (handed out before) still pages after that session; a cursor whose position is
    not a time is a 400 like any cursor this API did not hand out."""
    garage_id, _ = new_garage(admin, [(0, str(n), "STANDARD") for n in range(1, 4)])
    made = [check_in(operator, garage_id, licensePlate=new_plate(), vehicleType="CAR", at=T.isoformat()).json()
            ["session"]["id"] for _ in range(3)]  # three at the same instant: ordered by id
    expected = sorted(made, reverse=True)
    assert [s["id"] for s in walk(viewer, "/sessions", garageId=garage_id, limit=1)] == expected
    first = viewer.get(f"{API}/sessions", params={"garageId": garage_id, "limit": 1}).json()
    assert [s["id"] for s in first["items"]] == expected[:1] and first["nextCursor"] is not None
    old = base64.urlsafe_b64encode(f"v1:{expected[0]}".encode()).decode().rstrip("=")
    after_old = viewer.get(f"{API}/sessions", params={"garageId": garage_id, "cursor": old}).json()
    assert [s["id"] for s in after_old["items"]] == expected[1:]
    forged = base64.urlsafe_b64encode(f"v1:\x00soon\x00{expected[0]}".encode()).decode().rstrip("=")
    response = viewer.get(f"{API}/sessions", params={"garageId": garage_id, "cursor": forged})
    assert response.status_code == 400 and "cursor" in str(response.json()["error"]["details"]["fields"])
