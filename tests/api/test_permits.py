"""Monthly permits over HTTP (API-operations.md "Monthly permits and the deny list", "Precise
points"): create, read, list, change and cancel; roles, 404s, 400s; the overlap rule (409
DUPLICATE_PERMIT, half-open validity, also when PATCH moves validTo) even under concurrent
creates; a cancelled permit stays cancelled (409 PERMIT_CANCELLED; cancelling again changes
nothing); holder fields encrypted at rest, shown in the audit log only as set, left out of
permit.changed events; the ACTIVE session of the plate follows the permits covering it."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.api.conftest import LiveServer
from tests.api.parking_data import API, check_in, error_code, new_garage, new_plate, walk

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def shown(moment: datetime) -> str:
    """A time as the API writes it."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def garage(admin: httpx.Client) -> str:
    garage_id, _ = new_garage(admin, [(0, "1", "STANDARD")])
    return garage_id


def create(
    client: httpx.Client,
    garage_id: str,
    plate: str | None = None,
    start: datetime = T0,
    end: datetime = T0 + 30 * DAY,
    **body: Any,
) -> httpx.Response:
    return client.post(
        f"{API}/garages/{garage_id}/permits",
        json={"licensePlate": plate or new_plate("P"), "validFrom": iso(start), "validTo": iso(end), **body},
    )


def created(
    client: httpx.Client,
    garage_id: str,
    plate: str | None = None,
    start: datetime = T0,
    end: datetime = T0 + 30 * DAY,
    **body: Any,
) -> dict[str, Any]:
    response = create(client, garage_id, plate, start, end, **body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def patch(client: httpx.Client, permit_id: str, **body: Any) -> httpx.Response:
    return client.patch(f"{API}/permits/{permit_id}", json=body)


def audit(admin: httpx.Client, permit_id: str) -> list[dict[str, Any]]:
    """The permit's audit entries, oldest first."""
    response = admin.get(f"{API}/admin/audit", params={"entity": "Permit", "entityId": permit_id})
    assert response.status_code == 200, response.text
    return list(reversed(response.json()["items"]))


def permit_events(client: httpx.Client, garage_id: str) -> list[dict[str, Any]]:
    response = client.get(f"{API}/events", params={"garageId": garage_id, "types": "permit.changed", "limit": 1000})
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def test_create_normalises_the_plate_and_reads_back(admin: httpx.Client, viewer: httpx.Client) -> None:
    garage_id = garage(admin)
    raw = "pm-" + uuid.uuid4().hex[:4] + " 7"
    response = create(admin, garage_id, raw, holderName="Ada Lovelace", holderEmail="ada@example.com")
    assert response.status_code == 201, response.text
    permit = response.json()
    assert set(permit) == {
        "id",
        "garageId",
        "licensePlate",
        "holderName",
        "holderEmail",
        "validFrom",
        "validTo",
        "status",
        "createdAt",
        "updatedAt",
    }
    assert permit["licensePlate"] == raw.upper().replace("-", "").replace(" ", "")
    assert (permit["garageId"], permit["holderName"], permit["holderEmail"], permit["status"]) == (
        garage_id,
        "Ada Lovelace",
        "ada@example.com",
        "ACTIVE",
    )
    assert (permit["validFrom"], permit["validTo"]) == ("2026-03-01T08:00:00.000Z", "2026-03-31T08:00:00.000Z")
    assert permit["createdAt"].endswith("Z")
    assert viewer.get(f"{API}/permits/{permit['id']}").json() == permit
    bare = created(admin, garage_id)
    assert (bare["holderName"], bare["holderEmail"]) == (None, None)
    # an offset other than Z is the same instant
    offset = created(admin, garage_id, start=T0 + 40 * DAY, end=T0 + 50 * DAY)
    moved = admin.post(
        f"{API}/garages/{garage_id}/permits",
        json={
            "licensePlate": offset["licensePlate"],
            "validFrom": "2026-04-20T10:00:00+02:00",
            "validTo": "2026-04-25T10:00:00.5+02:00",
        },
    )
    assert moved.status_code == 201, moved.text
    assert (moved.json()["validFrom"], moved.json()["validTo"]) == (
        "2026-04-20T08:00:00.000Z",
        "2026-04-25T08:00:00.500Z",
    )


def test_roles(admin: httpx.Client, operator: httpx.Client, viewer: httpx.Client, anonymous: httpx.Client) -> None:
    garage_id = garage(admin)
    permit = created(admin, garage_id)
    for client in (operator, viewer):
        for response in (create(client, garage_id), patch(client, permit["id"], status="CANCELLED")):
            assert response.status_code == 403 and error_code(response) == "FORBIDDEN", response.text
    for response in (
        anonymous.get(f"{API}/garages/{garage_id}/permits"),
        anonymous.get(f"{API}/permits/{permit['id']}"),
        create(anonymous, garage_id),
        patch(anonymous, permit["id"], status="CANCELLED"),
    ):
        assert response.status_code == 401 and error_code(response) == "UNAUTHENTICATED"
    for client in (viewer, operator):
        assert client.get(f"{API}/garages/{garage_id}/permits").status_code == 200
        assert client.get(f"{API}/permits/{permit['id']}").json()["status"] == "ACTIVE"


def test_unknown_garage_or_permit_is_404(admin: httpx.Client, viewer: httpx.Client) -> None:
    for response in (
        create(admin, "nope"),
        viewer.get(f"{API}/garages/nope/permits"),
        viewer.get(f"{API}/permits/nope"),
        patch(admin, "nope", status="CANCELLED"),
    ):
        assert response.status_code == 404 and error_code(response) == "NOT_FOUND", response.text
    deleted = garage(admin)
    permit = created(admin, deleted)
    # a deleted garage's permits stay readable by id (history) but no longer change
    admin.delete(f"{API}/garages/{deleted}").raise_for_status()
    assert create(admin, deleted, start=T0 + 100 * DAY, end=T0 + 101 * DAY).status_code == 404
    assert viewer.get(f"{API}/garages/{deleted}/permits").status_code == 404
    assert patch(admin, permit["id"], status="CANCELLED").status_code == 404
    assert viewer.get(f"{API}/permits/{permit['id']}").json()["status"] == "ACTIVE"


def test_invalid_bodies_are_400_naming_the_field(admin: httpx.Client) -> None:
    garage_id = garage(admin)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"licensePlate": "A"}, "licensePlate"),
        ({"licensePlate": "AB_12"}, "licensePlate"),
        ({"licensePlate": "ABCDEFGHIJK"}, "licensePlate"),
        ({"validTo": iso(T0)}, "validTo"),  # not after validFrom
        ({"validTo": iso(T0 - DAY)}, "validTo"),
        ({"validTo": iso(T0 + 400 * DAY + timedelta(milliseconds=1))}, "validTo"),
        ({"validFrom": "2026-03-01T08:00:00"}, "validFrom"),  # no offset: ambiguous
        ({"validFrom": 1772352000}, "validFrom"),
        ({"holderEmail": "not-an-email"}, "holderEmail"),
        ({"holderName": "x" * 201}, "holderName"),
        ({"holderName": ""}, "holderName"),
        ({"status": "ACTIVE"}, "status"),  # not a field of a new permit
        ({"colour": "red"}, "colour"),
    ]
    for extra, field in cases:
        body = {"licensePlate": new_plate("B"), "validFrom": iso(T0), "validTo": iso(T0 + DAY), **extra}
        response = admin.post(f"{API}/garages/{garage_id}/permits", json=body)
        assert response.status_code == 400, (extra, response.text)
        assert error_code(response) == "VALIDATION_ERROR"
        assert any(field in name for name in response.json()["error"]["details"]["fields"]), (extra, response.json())
    missing = admin.post(f"{API}/garages/{garage_id}/permits", json={"licensePlate": new_plate()})
    assert missing.status_code == 400 and {"validFrom", "validTo"} <= set(missing.json()["error"]["details"]["fields"])
    # exactly PERMIT_MAX_DAYS apart is allowed
    longest = create(admin, garage_id, start=T0, end=T0 + 400 * DAY)
    assert longest.status_code == 201, longest.text
    assert admin.get(f"{API}/garages/{garage_id}/permits").json()["items"] == [longest.json()]  # nothing else written


def test_patch_changes_what_is_sent_and_refuses_bad_values(admin: httpx.Client, viewer: httpx.Client) -> None:
    garage_id = garage(admin)
    permit = created(admin, garage_id, holderName="Grace", holderEmail="grace@example.com")
    changed = patch(admin, permit["id"], holderName=None, holderEmail="hopper@example.com", validTo=iso(T0 + 60 * DAY))
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["holderName"], body["holderEmail"], body["validTo"], body["status"]) == (
        None,
        "hopper@example.com",
        shown(T0 + 60 * DAY),
        "ACTIVE",
    )
    assert (body["validFrom"], body["licensePlate"], body["createdAt"]) == (
        permit["validFrom"],
        permit["licensePlate"],
        permit["createdAt"],
    )
    assert viewer.get(f"{API}/permits/{permit['id']}").json() == body
    for bad, field in (
        ({"validTo": None}, "validTo"),
        ({"status": None}, "status"),
        ({"status": "EXPIRED"}, "status"),
        ({"validTo": iso(T0)}, "validTo"),
        ({"validTo": iso(T0 - DAY)}, "validTo"),
        ({"validTo": iso(T0 + 401 * DAY)}, "validTo"),
        ({"validFrom": iso(T0)}, "validFrom"),
        ({"licensePlate": "AB12"}, "licensePlate"),
        ({"holderEmail": "x"}, "holderEmail"),
    ):
        response = patch(admin, permit["id"], **bad)
        assert response.status_code == 400, (bad, response.text)
        assert any(field in name for name in response.json()["error"]["details"]["fields"]), (bad, response.json())
    unchanged = patch(admin, permit["id"])
    assert unchanged.status_code == 200 and unchanged.json() == body
    assert [entry["action"] for entry in audit(admin, permit["id"])] == ["CREATE", "UPDATE"]


def test_overlapping_active_permits_are_409_but_back_to_back_ones_are_not(admin: httpx.Client) -> None:
    garage_id, other_garage = garage(admin), garage(admin)
    plate = new_plate("O")
    first = created(admin, garage_id, plate, T0, T0 + 30 * DAY)
    for start, end in (
        (T0 + 29 * DAY, T0 + 40 * DAY),
        (T0 - DAY, T0 + timedelta(milliseconds=1)),
        (T0 + DAY, T0 + 2 * DAY),
        (T0 - DAY, T0 + 31 * DAY),
    ):
        clash = create(admin, garage_id, f"{plate[:3].lower()}-{plate[3:]}", start, end)  # any spelling of it
        assert clash.status_code == 409 and error_code(clash) == "DUPLICATE_PERMIT", (start, end, clash.text)
        assert clash.json()["error"]["details"]["permitId"] == first["id"]
    after = created(admin, garage_id, plate, T0 + 30 * DAY, T0 + 60 * DAY)  # [validFrom, validTo): no overlap
    before = created(admin, garage_id, plate, T0 - 30 * DAY, T0)
    created(admin, other_garage, plate, T0, T0 + 30 * DAY)  # another garage's permit is another matter
    created(admin, garage_id, new_plate("O"), T0, T0 + 30 * DAY)  # and so is another plate's
    # a cancelled permit no longer blocks its validity
    assert patch(admin, after["id"], status="CANCELLED").status_code == 200
    replacement = created(admin, garage_id, plate, T0 + 45 * DAY, T0 + 75 * DAY)
    # moving validTo into another ACTIVE permit: 409, nothing changed
    into = patch(admin, before["id"], validTo=iso(T0 + timedelta(minutes=1)))
    assert into.status_code == 409 and error_code(into) == "DUPLICATE_PERMIT"
    assert admin.get(f"{API}/permits/{before['id']}").json()["validTo"] == before["validTo"]
    assert patch(admin, first["id"], validTo=iso(T0 + 46 * DAY)).status_code == 409
    # up to the next one's validFrom is fine; so is shortening, and cancelling with an overlapping validTo
    assert patch(admin, first["id"], validTo=iso(T0 + 45 * DAY)).status_code == 200
    assert patch(admin, before["id"], validTo=iso(T0 - DAY)).status_code == 200
    both = patch(admin, replacement["id"], validTo=iso(T0 + 90 * DAY), status="CANCELLED")
    assert both.status_code == 200 and (both.json()["status"], both.json()["validTo"]) == (
        "CANCELLED",
        shown(T0 + 90 * DAY),
    )


def test_concurrent_overlapping_creates_let_exactly_one_through(live: LiveServer, admin: httpx.Client) -> None:
    garage_id = garage(admin)
    plate = new_plate("R")

    def attempt(index: int) -> int:
        with httpx.Client(
            base_url=live.url, headers={"Authorization": f"Bearer {live.admin_key}"}, timeout=30
        ) as client:
            return create(client, garage_id, plate, T0 + index * timedelta(hours=1), T0 + 10 * DAY).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = sorted(pool.map(attempt, range(6)))
    assert statuses == [201, 409, 409, 409, 409, 409]
    listed = admin.get(f"{API}/garages/{garage_id}/permits", params={"plate": plate}).json()["items"]
    assert len(listed) == 1


def test_a_cancelled_permit_stays_cancelled(admin: httpx.Client, viewer: httpx.Client) -> None:
    garage_id = garage(admin)
    permit = created(admin, garage_id, holderName="Kept")
    cancelled = patch(admin, permit["id"], status="CANCELLED")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "CANCELLED"
    for body in (
        {"status": "ACTIVE"},
        {"validTo": iso(T0 + 10 * DAY)},
        {"validTo": iso(T0 + 10 * DAY), "status": "CANCELLED"},
    ):
        refused = patch(admin, permit["id"], **body)
        assert refused.status_code == 409 and error_code(refused) == "PERMIT_CANCELLED", (body, refused.text)
    # cancelling again (or sending its own validTo) changes nothing: 200, no audit entry, no event
    for body in (
        {"status": "CANCELLED"},
        {"validTo": permit["validTo"]},
        {"validTo": permit["validTo"], "status": "CANCELLED"},
    ):
        again = patch(admin, permit["id"], **body)
        assert again.status_code == 200 and again.json() == cancelled.json(), body
    # the holder's contact may still be corrected
    renamed = patch(admin, permit["id"], holderName="Corrected")
    assert renamed.status_code == 200 and (renamed.json()["holderName"], renamed.json()["status"]) == (
        "Corrected",
        "CANCELLED",
    )
    assert [entry["action"] for entry in audit(admin, permit["id"])] == ["CREATE", "UPDATE", "UPDATE"]
    assert [event["data"]["permit"]["status"] for event in permit_events(viewer, garage_id)] == [
        "ACTIVE",
        "CANCELLED",
        "CANCELLED",
    ]
    # an ACTIVE permit sent status ACTIVE is unchanged
    active = created(admin, garage_id)
    assert patch(admin, active["id"], status="ACTIVE").json() == active


def test_list_is_newest_validfrom_first_filtered_and_paged(admin: httpx.Client, viewer: httpx.Client) -> None:
    garage_id = garage(admin)
    plate, other = new_plate("L"), new_plate("M")
    first = created(admin, garage_id, plate, T0, T0 + 10 * DAY)
    second = created(admin, garage_id, plate, T0 + 10 * DAY, T0 + 20 * DAY)
    twins = [created(admin, garage_id, new_plate("T"), T0 + 10 * DAY, T0 + 11 * DAY) for _ in range(2)]
    cancelled = created(admin, garage_id, other, T0 + 30 * DAY, T0 + 31 * DAY)
    patch(admin, cancelled["id"], status="CANCELLED").raise_for_status()
    path = f"/garages/{garage_id}/permits"
    starting_together = sorted([second["id"], *(twin["id"] for twin in twins)], reverse=True)  # id breaks the tie
    everything = [p["id"] for p in walk(viewer, path, limit=2)]
    assert everything == [cancelled["id"], *starting_together, first["id"]]
    assert [p["id"] for p in walk(viewer, path, plate=f" {plate.lower()} ")] == [second["id"], first["id"]]
    assert [p["id"] for p in walk(viewer, path, status="CANCELLED")] == [cancelled["id"]]
    assert [p["id"] for p in walk(viewer, path, status="ACTIVE")] == everything[1:]
    assert [p["id"] for p in walk(viewer, path, activeAt=iso(T0 + 10 * DAY))] == starting_together
    assert [p["id"] for p in walk(viewer, path, activeAt=iso(T0 + 10 * DAY - timedelta(milliseconds=1)))] == [
        first["id"]
    ]
    assert walk(viewer, path, activeAt=iso(T0 + 30 * DAY)) == []  # only a CANCELLED one is valid then
    assert [p["id"] for p in walk(viewer, path, activeAt="2026-03-05T08:00:00+01:00", plate=plate)] == [first["id"]]
    for params in (
        {"plate": "#"},
        {"status": "EXPIRED"},
        {"activeAt": "2026-03-01T08:00:00"},
        {"activeAt": "yesterday"},
        {"limit": 0},
        {"limit": 201},
        {"cursor": "garbage!"},
    ):
        bad = viewer.get(f"{API}{path}", params=params)
        assert bad.status_code == 400 and error_code(bad) == "VALIDATION_ERROR", params


def test_holder_fields_are_encrypted_at_rest_and_kept_out_of_audit_and_events(
    live: LiveServer, admin: httpx.Client, viewer: httpx.Client
) -> None:
    garage_id = garage(admin)
    name, email = f"Holder {uuid.uuid4().hex}", f"holder-{uuid.uuid4().hex}@example.com"
    permit = created(admin, garage_id, holderName=name, holderEmail=email)
    patch(admin, permit["id"], validTo=iso(T0 + 20 * DAY), holderName=None).raise_for_status()
    raw = b""
    for path in (live.database, live.database.with_name(live.database.name + "-wal")):
        if path.exists():
            raw += path.read_bytes()
    assert permit["licensePlate"].encode() in raw  # the bytes are readable: plain columns are found
    for secret in (name, email):
        assert secret.encode() not in raw and secret.encode("utf-16-le") not in raw
    entries = audit(admin, permit["id"])
    assert [entry["action"] for entry in entries] == ["CREATE", "UPDATE"]
    assert name not in str(entries) and email not in str(entries)
    assert (entries[0]["after"]["holderName"], entries[0]["after"]["holderEmail"]) == ("(set)", "(set)")
    assert (entries[1]["before"]["holderName"], entries[1]["after"]["holderName"]) == ("(set)", None)
    assert entries[1]["before"]["validTo"] != entries[1]["after"]["validTo"]
    events = permit_events(viewer, garage_id)
    assert [event["type"] for event in events] == ["permit.changed", "permit.changed"]
    assert [event["data"]["permit"]["validTo"] for event in events] == [permit["validTo"], shown(T0 + 20 * DAY)]
    for event in events:
        assert event["garageId"] == garage_id and event["data"]["permit"]["id"] == permit["id"]
        assert "holderName" not in event["data"]["permit"] and "holderEmail" not in event["data"]["permit"]
    assert name not in str(events) and email not in str(events)


def test_the_active_session_follows_the_permits_covering_it(
    admin: httpx.Client, operator: httpx.Client, viewer: httpx.Client
) -> None:
    garage_id = garage(admin)
    plate = new_plate("S")
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    entry = check_in(operator, garage_id, licensePlate=plate, vehicleType="CAR", at=iso(start))
    assert entry.status_code == 201, entry.text
    session_id = entry.json()["session"]["id"]

    def permit_of_session() -> str | None:
        session = viewer.get(f"{API}/sessions/{session_id}").json()
        assert "permitId" in session, "the Session resource shows permitId (API-operations.md)"
        return session["permitId"]  # type: ignore[no-any-return]

    assert permit_of_session() is None
    # starting after the session started: it does not cover it
    later = created(admin, garage_id, plate, start + timedelta(minutes=1), start + 10 * DAY)
    assert permit_of_session() is None
    patch(admin, later["id"], status="CANCELLED").raise_for_status()
    covering = created(admin, garage_id, plate, start - DAY, start + 30 * DAY)
    assert permit_of_session() == covering["id"]
    # moved to end exactly at the session's start: [validFrom, validTo) no longer covers it
    patch(admin, covering["id"], validTo=iso(start)).raise_for_status()
    assert permit_of_session() is None
    patch(admin, covering["id"], validTo=iso(start + timedelta(seconds=1))).raise_for_status()
    assert permit_of_session() == covering["id"]
    patch(admin, covering["id"], status="CANCELLED").raise_for_status()
    assert permit_of_session() is None
    another = created(admin, garage_id, plate, start, start + DAY)  # validFrom == startTime covers
    assert permit_of_session() == another["id"]
    session_audit = admin.get(f"{API}/admin/audit", params={"entity": "Session", "entityId": session_id}).json()
    links = [
        (e["before"]["permitId"], e["after"]["permitId"])
        for e in reversed(session_audit["items"])
        if e["action"] == "UPDATE"
    ]
    assert links == [
        (None, covering["id"]),
        (covering["id"], None),
        (None, covering["id"]),
        (covering["id"], None),
        (None, another["id"]),
    ]
    # a permit of another plate, or of this plate in another garage, leaves the session alone
    created(admin, garage(admin), plate, start - DAY, start + DAY)
    created(admin, garage_id, new_plate("S"), start - DAY, start + DAY)
    assert permit_of_session() == another["id"]
    # once checked out the session keeps the permit it had
    out = operator.post(f"{API}/sessions/{session_id}/check-out", json={"paymentMethod": "CASH"})
    assert out.status_code == 200, out.text
    patch(admin, another["id"], status="CANCELLED").raise_for_status()
    assert permit_of_session() == another["id"]
