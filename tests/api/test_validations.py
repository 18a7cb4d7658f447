"""Merchant validations through HTTP (API-operations.md "Merchant validations", "Reports", "Audit",
"Events", "Precise points"): validators, validating a ticket and the order of its answers, the
`validator` key role (its own validator only, nothing but reading and validating tickets), one
validation per ticket however many merchants try at once, and the validations report."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.api.conftest import LiveServer
from tests.api.parking_data import API, error_code, new_garage, parked

START = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)
VALIDATION_FIELDS = {"id", "sessionId", "validatorId", "kind", "value", "createdAt"}


def iso(value: datetime) -> str:
    return value.isoformat()


def new_validator(admin: httpx.Client, garage_id: str, kind: str = "FREE_MINUTES", value: int | None = 60,
                  name: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name or f"shop {uuid.uuid4().hex[:6]}", "kind": kind}
    if value is not None:
        body["value"] = value
    response = admin.post(f"{API}/garages/{garage_id}/validators", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def new_key(
    live: LiveServer, admin: httpx.Client, role: str, validator_id: str | None = None
) -> tuple[str, httpx.Client]:
    """A key's id and a client using it."""
    body: dict[str, Any] = {"name": f"test {role} {uuid.uuid4().hex[:6]}", "role": role}
    if validator_id is not None:
        body["validatorId"] = validator_id
    response = admin.post(f"{API}/admin/api-keys", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"]), live.client(response.json()["key"])


def validate(client: httpx.Client, code: str, validator_id: str) -> httpx.Response:
    return client.post(f"{API}/tickets/{code}/validations", json={"validatorId": validator_id})


def audit(admin: httpx.Client, entity: str, entity_id: str) -> list[dict[str, Any]]:
    response = admin.get(f"{API}/admin/audit", params={"entity": entity, "entityId": entity_id})
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def validation_events(client: httpx.Client, garage_id: str) -> list[dict[str, Any]]:
    response = client.get(f"{API}/events", params={"garageId": garage_id, "types": "validation.created", "limit": 1000})
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def report(client: httpx.Client, garage_id: str, since: datetime, until: datetime) -> httpx.Response:
    return client.get(f"{API}/garages/{garage_id}/reports/validations", params={"from": iso(since), "to": iso(until)})


@pytest.fixture
def garage(admin: httpx.Client) -> tuple[str, dict[str, str]]:
    return new_garage(admin, [(0, str(n), "STANDARD") for n in range(1, 5)])


# ---- validators -------------------------------------------------------------------------------------------

def test_validators_are_created_read_listed_and_changed_with_their_audit(
    admin: httpx.Client, viewer: httpx.Client, garage: tuple[str, dict[str, str]]
) -> None:
    garage_id, _ = garage
    created = new_validator(admin, garage_id, "AMOUNT_OFF", 500, name="Bookshop")
    assert set(created) == {"id", "garageId", "name", "kind", "value", "active", "createdAt", "updatedAt"}
    assert (created["garageId"], created["name"], created["kind"], created["value"], created["active"]) == (
        garage_id, "Bookshop", "AMOUNT_OFF", 500, True)
    assert created["createdAt"].endswith("Z")
    newer = new_validator(admin, garage_id, "PERCENT_OFF", 10)

    assert viewer.get(f"{API}/validators/{created['id']}").json() == created
    listed = viewer.get(f"{API}/garages/{garage_id}/validators")
    assert listed.status_code == 200, listed.text
    assert listed.json() == {"items": [newer, created], "nextCursor": None}
    first = viewer.get(f"{API}/garages/{garage_id}/validators", params={"limit": 1}).json()
    assert first["items"] == [newer] and first["nextCursor"] is not None
    rest = viewer.get(f"{API}/garages/{garage_id}/validators", params={"limit": 1, "cursor": first["nextCursor"]})
    assert rest.json() == {"items": [created], "nextCursor": None}

    patched = admin.patch(f"{API}/validators/{created['id']}", json={"name": "Bookshop (old)", "value": 250,
                                                                       "active": False})
    assert patched.status_code == 200, patched.text
    changed = patched.json()
    assert (changed["name"], changed["value"], changed["active"], changed["kind"]) == (
        "Bookshop (old)", 250, False, "AMOUNT_OFF")
    assert viewer.get(f"{API}/validators/{created['id']}").json() == changed
    only_name = admin.patch(f"{API}/validators/{created['id']}", json={"name": "Bookshop"}).json()
    assert (only_name["value"], only_name["active"]) == (250, False)

    entries = audit(admin, "Validator", created["id"])
    assert [entry["action"] for entry in entries] == ["UPDATE", "UPDATE", "CREATE"]
    assert entries[1]["before"]["value"] == 500 and entries[1]["after"]["value"] == 250
    assert entries[2]["before"] is None and entries[2]["after"]["kind"] == "AMOUNT_OFF"


def test_a_full_validator_stores_0_whatever_was_sent(admin: httpx.Client, garage: tuple[str, dict[str, str]]) -> None:
    garage_id, _ = garage
    assert new_validator(admin, garage_id, "FULL", None)["value"] == 0
    full = new_validator(admin, garage_id, "FULL", 12345)
    assert full["value"] == 0
    patched = admin.patch(f"{API}/validators/{full['id']}", json={"value": 77})
    assert patched.status_code == 200 and patched.json()["value"] == 0


@pytest.mark.parametrize(("kind", "bad"), [
    ("FREE_MINUTES", 0), ("FREE_MINUTES", 1441), ("AMOUNT_OFF", 0), ("AMOUNT_OFF", 10_000_001),
    ("PERCENT_OFF", 0), ("PERCENT_OFF", 101), ("PERCENT_OFF", -5), ("FREE_MINUTES", None),
])
def test_a_value_outside_its_kinds_range_is_400_naming_value(
    admin: httpx.Client, garage: tuple[str, dict[str, str]], kind: str, bad: int | None
) -> None:
    garage_id, _ = garage
    body: dict[str, Any] = {"name": "shop", "kind": kind, **({"value": bad} if bad is not None else {})}
    response = admin.post(f"{API}/garages/{garage_id}/validators", json=body)
    assert response.status_code == 400, response.text
    assert error_code(response) == "VALIDATION_ERROR" and "value" in response.json()["error"]["details"]["fields"]
    listed = admin.get(f"{API}/garages/{garage_id}/validators").json()["items"]
    assert listed == []


def test_the_edges_of_each_range_are_accepted_and_patches_keep_to_the_kind(
    admin: httpx.Client, garage: tuple[str, dict[str, str]]
) -> None:
    garage_id, _ = garage
    for kind, low, high in (("FREE_MINUTES", 1, 1440), ("AMOUNT_OFF", 1, 10_000_000), ("PERCENT_OFF", 1, 100)):
        assert new_validator(admin, garage_id, kind, low)["value"] == low
        made = new_validator(admin, garage_id, kind, high)
        assert made["value"] == high
        too_big = admin.patch(f"{API}/validators/{made['id']}", json={"value": high + 1})
        assert too_big.status_code == 400 and "value" in too_big.json()["error"]["details"]["fields"]
        assert admin.get(f"{API}/validators/{made['id']}").json()["value"] == high


def test_validator_requests_that_are_invalid_unknown_or_not_allowed(
    admin: httpx.Client, operator: httpx.Client, viewer: httpx.Client, garage: tuple[str, dict[str, str]]
) -> None:
    garage_id, _ = garage
    validator = new_validator(admin, garage_id)
    body = {"name": "shop", "kind": "FULL"}
    assert admin.post(f"{API}/garages/nope/validators", json=body).status_code == 404
    unknown_kind = {"name": "shop", "kind": "GRATIS"}
    assert admin.post(f"{API}/garages/{garage_id}/validators", json=unknown_kind).status_code == 400
    assert admin.post(f"{API}/garages/{garage_id}/validators", json={"kind": "FULL"}).status_code == 400
    assert viewer.get(f"{API}/garages/nope/validators").status_code == 404
    assert viewer.get(f"{API}/validators/nope").status_code == 404
    assert admin.patch(f"{API}/validators/nope", json={"name": "x"}).status_code == 404
    null = admin.patch(f"{API}/validators/{validator['id']}", json={"active": None})
    assert null.status_code == 400 and "active" in null.json()["error"]["details"]["fields"]
    kind = admin.patch(f"{API}/validators/{validator['id']}", json={"kind": "FULL"})
    assert kind.status_code == 400  # the kind never changes
    for response in (
        operator.post(f"{API}/garages/{garage_id}/validators", json=body),
        operator.patch(f"{API}/validators/{validator['id']}", json={"active": False}),
        viewer.patch(f"{API}/validators/{validator['id']}", json={"active": False}),
    ):
        assert response.status_code == 403 and error_code(response) == "FORBIDDEN"
    assert admin.get(f"{API}/validators/{validator['id']}").json() == validator


# ---- validating a ticket --------------------------------------------------------------------------------

def test_an_operator_validates_with_any_validator_audited_and_announced(
    live: LiveServer, admin: httpx.Client, viewer: httpx.Client, garage: tuple[str, dict[str, str]]
) -> None:
    garage_id, _ = garage
    operator_id, operator = new_key(live, admin, "operator")
    validator = new_validator(admin, garage_id, "PERCENT_OFF", 20)
    session = parked(operator, garage_id)["session"]

    response = validate(operator, session["ticketCode"].lower(), validator["id"])  # codes are case-insensitive

    assert response.status_code == 201, response.text
    validation = response.json()
    assert set(validation) == VALIDATION_FIELDS
    assert (validation["sessionId"], validation["validatorId"], validation["kind"], validation["value"]) == (
        session["id"], validator["id"], "PERCENT_OFF", 20)
    assert validation["createdAt"].endswith("Z")
    (entry,) = audit(admin, "Validation", validation["id"])
    assert (entry["actor"], entry["action"], entry["before"]) == (operator_id, "VALIDATE", None)
    # the audit log writes times as pydantic does (microseconds), the API with milliseconds
    assert {**entry["after"], "createdAt": validation["createdAt"]} == validation
    (event,) = validation_events(viewer, garage_id)
    assert (event["type"], event["garageId"], event["data"]) == ("validation.created", garage_id,
                                                                {"validation": validation})
    # the kind and value were the validator's at that moment: a later change leaves the validation alone
    admin.patch(f"{API}/validators/{validator['id']}", json={"value": 50})
    again = validate(operator, session["ticketCode"], validator["id"])
    assert again.status_code == 409 and error_code(again) == "ALREADY_VALIDATED"
    assert len(validation_events(viewer, garage_id)) == 1


def test_admins_validate_too_and_viewers_may_not(
    admin: httpx.Client, operator: httpx.Client, viewer: httpx.Client, garage: tuple[str, dict[str, str]]
) -> None:
    garage_id, _ = garage
    validator = new_validator(admin, garage_id)
    first, second = parked(operator, garage_id)["session"], parked(operator, garage_id)["session"]
    refused = validate(viewer, first["ticketCode"], validator["id"])
    assert refused.status_code == 403 and error_code(refused) == "FORBIDDEN"
    assert validate(admin, first["ticketCode"], validator["id"]).status_code == 201
    assert validate(operator, second["ticketCode"], validator["id"]).status_code == 201
    assert len(validation_events(viewer, garage_id)) == 2


def test_unknown_tickets_and_validators_are_404(
    admin: httpx.Client, operator: httpx.Client, viewer: httpx.Client, garage: tuple[str, dict[str, str]]
) -> None:
    garage_id, _ = garage
    other_id, _ = new_garage(admin, [(0, "1", "STANDARD")])
    validator = new_validator(admin, garage_id)
    elsewhere = new_validator(admin, other_id)
    code = parked(operator, garage_id)["session"]["ticketCode"]
    for response in (
        validate(operator, "NOSUCHCODE", validator["id"]),
        validate(operator, "NOSUCHCODE", "nope"),
        validate(operator, code, "nope"),
        validate(operator, code, elsewhere["id"]),  # a validator of another garage than the ticket's
    ):
        assert response.status_code == 404 and error_code(response) == "NOT_FOUND", response.text
    missing = operator.post(f"{API}/tickets/{code}/validations", json={})
    assert missing.status_code == 400 and "validatorId" in missing.json()["error"]["details"]["fields"]
    assert validation_events(viewer, garage_id) == []


def test_each_409_and_the_order_of_the_answers(
    admin: httpx.Client, operator: httpx.Client, viewer: httpx.Client, garage: tuple[str, dict[str, str]]
) -> None:
    garage_id, _ = garage
    other_id, _ = new_garage(admin, [(0, "1", "STANDARD")])
    validator = new_validator(admin, garage_id)
    inactive = new_validator(admin, garage_id)
    assert admin.patch(f"{API}/validators/{inactive['id']}", json={"active": False}).status_code == 200
    elsewhere = new_validator(admin, other_id)

    def code_of(response: httpx.Response) -> tuple[int, str]:
        return response.status_code, error_code(response)

    active = parked(operator, garage_id)["session"]
    assert code_of(validate(operator, active["ticketCode"], inactive["id"])) == (409, "VALIDATOR_INACTIVE")
    assert validate(operator, active["ticketCode"], validator["id"]).status_code == 201
    # validated already outranks an inactive validator; a foreign validator is 404 before any 409
    assert code_of(validate(operator, active["ticketCode"], inactive["id"])) == (409, "ALREADY_VALIDATED")
    assert code_of(validate(operator, active["ticketCode"], elsewhere["id"])) == (404, "NOT_FOUND")

    out = operator.post(f"{API}/sessions/{active['id']}/check-out", json={"paymentMethod": "CARD"})
    assert out.status_code == 200, out.text
    # ended outranks validated already
    assert code_of(validate(operator, active["ticketCode"], validator["id"])) == (409, "SESSION_NOT_ACTIVE")
    done = parked(operator, garage_id)["session"]
    assert operator.post(f"{API}/sessions/{done['id']}/check-out", json={"paymentMethod": "CASH"}).status_code == 200
    assert code_of(validate(operator, done["ticketCode"], inactive["id"])) == (409, "SESSION_NOT_ACTIVE")
    assert code_of(validate(operator, done["ticketCode"], elsewhere["id"])) == (404, "NOT_FOUND")
    voided = parked(operator, garage_id)["session"]
    void = admin.post(f"{API}/sessions/{voided['id']}/void", json={"reason": "test"})
    assert void.status_code == 200, void.text
    assert code_of(validate(operator, voided["ticketCode"], validator["id"])) == (409, "SESSION_NOT_ACTIVE")
    assert len(validation_events(viewer, garage_id)) == 1


# ---- the validator key role ---------------------------------------------------------------------------

def test_a_validator_key_needs_a_validator_only_for_its_role(
    admin: httpx.Client, garage: tuple[str, dict[str, str]]
) -> None:
    garage_id, _ = garage
    validator = new_validator(admin, garage_id)
    keys = f"{API}/admin/api-keys"
    without = admin.post(keys, json={"name": "merchant", "role": "validator"})
    assert without.status_code == 400 and "validatorId" in without.json()["error"]["details"]["fields"]
    for role in ("admin", "operator", "viewer"):
        wrong = admin.post(keys, json={"name": "gate", "role": role, "validatorId": validator["id"]})
        assert wrong.status_code == 400 and "validatorId" in wrong.json()["error"]["details"]["fields"]
    unknown = admin.post(keys, json={"name": "merchant", "role": "validator", "validatorId": "nope"})
    assert unknown.status_code == 404 and error_code(unknown) == "NOT_FOUND"

    created = admin.post(keys, json={"name": "merchant", "role": "validator", "validatorId": validator["id"]})
    assert created.status_code == 201, created.text
    body = created.json()
    assert set(body) == {"id", "name", "role", "validatorId", "key", "createdAt"}
    assert (body["role"], body["validatorId"]) == ("validator", validator["id"])
    listed = admin.get(keys, params={"limit": 200}).json()["items"]
    assert next(item for item in listed if item["id"] == body["id"])["validatorId"] == validator["id"]
    assert all(item["validatorId"] is None for item in listed if item["role"] != "validator")
    (entry,) = audit(admin, "ApiKey", body["id"])
    assert entry["after"]["validatorId"] == validator["id"] and "hash" not in entry["after"]


def test_a_validator_key_reads_tickets_and_validates_with_its_own_validator_only(
    live: LiveServer, admin: httpx.Client, operator: httpx.Client, garage: tuple[str, dict[str, str]]
) -> None:
    garage_id, _ = garage
    own = new_validator(admin, garage_id, "FULL", None)
    neighbour = new_validator(admin, garage_id)
    key_id, merchant = new_key(live, admin, "validator", own["id"])
    first = parked(operator, garage_id)["session"]
    second = parked(operator, garage_id)["session"]

    ticket = merchant.get(f"{API}/tickets/{first['ticketCode']}")
    assert ticket.status_code == 200, ticket.text
    assert ticket.json()["session"]["id"] == first["id"]
    other = validate(merchant, first["ticketCode"], neighbour["id"])
    assert other.status_code == 403 and error_code(other) == "FORBIDDEN"
    assert validate(merchant, "NOSUCHCODE", neighbour["id"]).status_code == 403  # decided by the key alone
    mine = validate(merchant, first["ticketCode"], own["id"])
    assert mine.status_code == 201, mine.text
    assert (mine.json()["kind"], mine.json()["value"]) == ("FULL", 0)
    assert audit(admin, "Validation", mine.json()["id"])[0]["actor"] == key_id
    # operators may still use any validator, the merchant's neighbour included
    assert validate(operator, second["ticketCode"], neighbour["id"]).status_code == 201


def test_a_validator_key_may_call_nothing_else(
    live: LiveServer, admin: httpx.Client, operator: httpx.Client, garage: tuple[str, dict[str, str]]
) -> None:
    garage_id, spots = garage
    validator = new_validator(admin, garage_id)
    _, merchant = new_key(live, admin, "validator", validator["id"])
    session = parked(operator, garage_id)["session"]
    window = {"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"}
    refused = [
        merchant.get(f"{API}/garages"),
        merchant.get(f"{API}/garages/{garage_id}"),
        merchant.get(f"{API}/garages/{garage_id}/occupancy"),
        merchant.get(f"{API}/sessions/{session['id']}"),
        merchant.get(f"{API}/sessions"),
        merchant.get(f"{API}/vehicles"),
        merchant.get(f"{API}/payments"),
        merchant.get(f"{API}/events", params={"garageId": garage_id}),
        merchant.get(f"{API}/validators/{validator['id']}"),
        merchant.get(f"{API}/garages/{garage_id}/validators"),
        merchant.get(f"{API}/garages/{garage_id}/reports/validations", params=window),
        merchant.get(f"{API}/garages/{garage_id}/reports/usage", params=window),
        merchant.get(f"{API}/sessions/{session['id']}/quote"),
        merchant.post(f"{API}/garages/{garage_id}/check-in", json={"licensePlate": "AB123CD"}),
        merchant.post(f"{API}/tickets/{session['ticketCode']}/check-out", json={"paymentMethod": "CASH"}),
        merchant.patch(f"{API}/validators/{validator['id']}", json={"value": 1440}),
        merchant.patch(f"{API}/spots/{spots['0/1']}", json={"status": "MAINTENANCE"}),
        merchant.get(f"{API}/admin/api-keys"),
        merchant.get(f"{API}/admin/audit"),
    ]
    for response in refused:
        assert (response.status_code, error_code(response)) == (403, "FORBIDDEN"), (response.request.url, response.text)
    assert "validator key" in refused[0].json()["error"]["message"]
    assert admin.get(f"{API}/validators/{validator['id']}").json() == validator
    assert admin.get(f"{API}/sessions/{session['id']}").json()["status"] == "ACTIVE"


def race(server: LiveServer, attempts: int = 20) -> None:
    """`attempts` operators validate one ticket at the same moment (a barrier releases them), with
    validators of its garage in turn: exactly one validation is stored, the others are told
    ALREADY_VALIDATED."""
    admin = server.client(server.admin_key)
    garage_id, _ = new_garage(admin, [(0, "1", "STANDARD")])
    validators = [new_validator(admin, garage_id) for _ in range(4)]
    operator_key = admin.post(f"{API}/admin/api-keys", json={"name": "race", "role": "operator"}).json()["key"]
    session = parked(server.client(operator_key), garage_id)["session"]
    clients = [server.client(operator_key) for _ in range(attempts)]
    start = threading.Barrier(attempts)
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def attempt(index: int) -> None:
        start.wait()
        response = validate(clients[index], session["ticketCode"], validators[index % len(validators)]["id"])
        with lock:
            answers.append(response)

    threads = [threading.Thread(target=attempt, args=(index,)) for index in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    outcomes = sorted((response.status_code, error_code(response) if response.status_code != 201 else "")
                      for response in answers)
    assert outcomes == [(201, "")] + [(409, "ALREADY_VALIDATED")] * (attempts - 1)
    (won,) = [response.json() for response in answers if response.status_code == 201]
    (event,) = validation_events(admin, garage_id)
    assert event["data"]["validation"] == won
    entries = admin.get(f"{API}/admin/audit", params={"entity": "Validation", "limit": 200}).json()["items"]
    assert [entry["entityId"] for entry in entries if entry["after"]["sessionId"] == session["id"]] == [won["id"]]
    out = admin.post(f"{API}/sessions/{session['id']}/check-out", json={"paymentMethod": "CARD"})
    assert out.status_code == 200, out.text
    day = timedelta(days=1)
    now = datetime.now(UTC)
    lines = report(admin, garage_id, now - day, now + day).json()["validators"]
    assert sorted(line["count"] for line in lines) == [0, 0, 0, 1]


def test_simultaneous_validations_of_one_ticket_store_exactly_one(live: LiveServer) -> None:
    race(live)


def test_simultaneous_validations_across_two_worker_processes_store_exactly_one(
    make_server: Callable[..., LiveServer],
) -> None:
    race(make_server(workers=2))


# ---- the validations report ------------------------------------------------------------------------------

def test_the_report_lists_every_validator_with_its_validated_check_outs(
    admin: httpx.Client, operator: httpx.Client, viewer: httpx.Client, garage: tuple[str, dict[str, str]]
) -> None:
    garage_id, _ = garage
    since, until = START, START + timedelta(days=1)
    cinema = new_validator(admin, garage_id, "AMOUNT_OFF", 200, name="cinema")
    idle = new_validator(admin, garage_id, "PERCENT_OFF", 50, name="idle")
    empty = report(viewer, garage_id, since, until)
    assert empty.status_code == 200, empty.text
    assert empty.json() == {"validators": [
        {"validatorId": cinema["id"], "name": "cinema", "count": 0, "discountCents": 0},
        {"validatorId": idle["id"], "name": "idle", "count": 0, "discountCents": 0},
    ]}

    def stay(minutes: int, validator: dict[str, Any] | None) -> dict[str, Any]:
        """A session from START, validated if asked, checked out `minutes` later: its payment."""
        session = parked(operator, garage_id, at=iso(START))["session"]
        if validator is not None:
            assert validate(operator, session["ticketCode"], validator["id"]).status_code == 201
        out = operator.post(f"{API}/sessions/{session['id']}/check-out",
                            json={"paymentMethod": "CARD", "at": iso(START + timedelta(minutes=minutes))})
        assert out.status_code == 200, out.text
        return dict(out.json()["payment"])

    paid = stay(120, cinema)
    refunded = stay(180, cinema)
    assert admin.post(f"{API}/payments/{refunded['id']}/refund").status_code == 200
    stay(60, None)
    lines = report(viewer, garage_id, since, until).json()["validators"]
    assert [(line["validatorId"], line["count"]) for line in lines] == [(cinema["id"], 2), (idle["id"], 0)]
    # what each check-out's validation took off (the fee rule writes it on the payment), refunds included
    assert lines[0]["discountCents"] == paid["discountCents"] + refunded["discountCents"] == 400
    assert lines[1]["discountCents"] == 0
    # check-outs are counted by their time, `to` exclusive
    before = report(viewer, garage_id, since, START + timedelta(minutes=180)).json()["validators"]
    assert before[0]["count"] == 1 and before[0]["discountCents"] == 200
    later = report(viewer, garage_id, until, until + timedelta(days=1)).json()["validators"]
    assert [line["count"] for line in later] == [0, 0]


def test_report_windows_and_roles(admin: httpx.Client, operator: httpx.Client, live: LiveServer,
                                  garage: tuple[str, dict[str, str]]) -> None:
    garage_id, _ = garage
    assert report(admin, "nope", START, START + timedelta(days=1)).status_code == 404
    backwards = report(admin, garage_id, START, START)
    assert backwards.status_code == 400 and "to" in backwards.json()["error"]["details"]["fields"]
    too_long = report(admin, garage_id, START, START + timedelta(days=367))
    assert too_long.status_code == 400 and "to" in too_long.json()["error"]["details"]["fields"]
    missing = admin.get(f"{API}/garages/{garage_id}/reports/validations", params={"from": iso(START)})
    assert missing.status_code == 400
    assert report(operator, garage_id, START, START + timedelta(days=366)).json() == {"validators": []}
