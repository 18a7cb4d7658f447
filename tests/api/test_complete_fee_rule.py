"""The complete fee rule end to end (API-operations.md "The fee rule, complete"): quote and check-out
over HTTP with a vehicle type's override, flat rates in the garage's timezone, a merchant's
validation (the payment's discountCents) and a monthly permit. Every expected figure is worked out
by hand in its comment; the rule's every step and combination is tested pure in
tests/services/test_fee_rule.py, this file shows the API wires each input to it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

from tests.api.parking_data import API, check_in, new_garage, new_plate

# Monday 2 March 2026, 12:10 UTC = 07:10 in New York (EST, UTC-5)
MONDAY_0710_NEW_YORK = datetime(2026, 3, 2, 12, 10, tzinfo=timezone.utc)
EARLY_BIRD = {"name": "Early bird", "days": ["MON", "TUE", "WED", "THU", "FRI"], "entryFrom": "06:00",
              "entryTo": "09:00", "exitBy": "19:00", "amountCents": 1200}
DEFAULT_RATE = {"hourlyRateCents": 300, "incrementMinutes": 15, "graceMinutes": 10, "dailyMaxCents": 2500,
                "lostTicketFeeCents": 5000}


def garage_with(admin: httpx.Client, *, timezone_name: str = "UTC", **rate: Any) -> str:
    garage_id, _ = new_garage(admin, [(0, str(n), "STANDARD") for n in range(1, 6)])
    if timezone_name != "UTC":
        patched = admin.patch(f"{API}/garages/{garage_id}", json={"timezone": timezone_name})
        assert patched.status_code == 200, patched.text
    if rate:  # the default rate's figures (API.md) with the tariff parts given
        put = admin.put(f"{API}/garages/{garage_id}/rates", json={**DEFAULT_RATE, **rate})
        assert put.status_code == 200, put.text
    return garage_id


def enter(operator: httpx.Client, garage_id: str, at: datetime, vehicle_type: str = "CAR",
          plate: str | None = None) -> dict[str, Any]:
    response = check_in(operator, garage_id, licensePlate=plate or new_plate("F"), vehicleType=vehicle_type,
                        at=at.isoformat())
    assert response.status_code == 201, response.text
    return dict(response.json()["session"])


def quote(client: httpx.Client, session_id: str, at: datetime, **params: Any) -> dict[str, Any]:
    response = client.get(f"{API}/sessions/{session_id}/quote", params={"at": at.isoformat(), **params})
    assert response.status_code == 200, response.text
    return dict(response.json())


def leave(operator: httpx.Client, session_id: str, at: datetime, **body: Any) -> dict[str, Any]:
    response = operator.post(f"{API}/sessions/{session_id}/check-out",
                             json={"paymentMethod": "CARD", "at": at.isoformat(), **body})
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_vehicle_types_override_prices_its_sessions(admin: httpx.Client, operator: httpx.Client) -> None:
    garage_id = garage_with(admin, vehicleTypeRates={"MOTORCYCLE": {"hourlyRateCents": 100, "dailyMaxCents": 1000}})
    start = MONDAY_0710_NEW_YORK - timedelta(days=2)
    bike = enter(operator, garage_id, start, "MOTORCYCLE")
    car = enter(operator, garage_id, start)
    assert (bike["vehicleType"], car["vehicleType"]) == ("MOTORCYCLE", "CAR")
    # 61 min: 5 increments; MOTORCYCLE 100 c/h -> 25 per increment = 125; CAR 75 per increment = 375
    end = start + timedelta(minutes=61)
    bike_quote = quote(operator, bike["id"], end)
    assert bike_quote["feeCents"] == 125
    assert (bike_quote["breakdown"]["hourlyRateCents"], bike_quote["breakdown"]["dailyMaxCents"]) == (100, 1000)
    assert quote(operator, car["id"], end)["feeCents"] == 375
    # a day and 8 hours: 1000 for the day + min(1000, 32 * 25 = 800) = 1800 (a car: 2500 + 2400 = 4900)
    later = start + timedelta(days=1, hours=8)
    assert leave(operator, bike["id"], later)["payment"]["amountCents"] == 1800
    assert leave(operator, car["id"], later)["payment"]["amountCents"] == 4900


def test_an_early_bird_flat_rate_in_the_garages_timezone(admin: httpx.Client, operator: httpx.Client) -> None:
    garage_id = garage_with(admin, timezone_name="America/New_York", flatRates=[EARLY_BIRD])
    session = enter(operator, garage_id, MONDAY_0710_NEW_YORK)
    # out at 17:00 local: 590 min -> min(2500, 40 * 75) = 2500 standard; the early bird's 1200 is less
    by_five = quote(operator, session["id"], MONDAY_0710_NEW_YORK + timedelta(hours=9, minutes=50))
    assert (by_five["feeCents"], by_five["breakdown"]["flatRate"], by_five["breakdown"]["standardFeeCents"]) == (
        1200, "Early bird", 2500)
    # out at 19:30 local, after exitBy: the flat rate does not apply, the daily maximum does
    too_late = quote(operator, session["id"], MONDAY_0710_NEW_YORK + timedelta(hours=12, minutes=20))
    assert (too_late["feeCents"], too_late["breakdown"]["flatRate"]) == (2500, None)
    paid = leave(operator, session["id"], MONDAY_0710_NEW_YORK + timedelta(hours=9, minutes=50))
    assert (paid["payment"]["amountCents"], paid["session"]["feeCents"], paid["payment"]["discountCents"]) == (
        1200, 1200, 0)
    # 07:10 UTC on the same Monday is 02:10 in New York: not an early-bird entry
    night = enter(operator, garage_id, MONDAY_0710_NEW_YORK - timedelta(hours=5))
    assert quote(operator, night["id"], MONDAY_0710_NEW_YORK + timedelta(hours=4))["breakdown"]["flatRate"] is None


def test_a_validation_takes_its_discount_and_the_payment_shows_it(admin: httpx.Client, operator: httpx.Client) -> None:
    garage_id = garage_with(admin)
    created = admin.post(f"{API}/garages/{garage_id}/validators",
                         json={"name": "Cafe 15%", "kind": "PERCENT_OFF", "value": 15})
    assert created.status_code == 201, created.text
    start = MONDAY_0710_NEW_YORK - timedelta(days=1)
    session = enter(operator, garage_id, start)
    validated = operator.post(f"{API}/tickets/{session['ticketCode']}/validations",
                              json={"validatorId": created.json()["id"]})
    assert validated.status_code == 201, validated.text
    # 61 min: 375; 15% of 375 = 56.25 -> 56 off (half up) -> 319
    end = start + timedelta(minutes=61)
    priced = quote(operator, session["id"], end)
    assert (priced["feeCents"], priced["discountCents"]) == (319, 56)
    assert priced["breakdown"]["validation"] == {"kind": "PERCENT_OFF", "value": 15, "discountCents": 56}
    # a lost ticket after the validation: max(319, 5000)
    assert quote(operator, session["id"], end, lostTicket="true")["feeCents"] == 5000
    paid = leave(operator, session["id"], end)
    assert (paid["payment"]["amountCents"], paid["payment"]["discountCents"], paid["session"]["feeCents"]) == (
        319, 56, 319)
    assert operator.get(f"{API}/payments/{paid['payment']['id']}").json()["discountCents"] == 56


def test_free_minutes_count_as_a_discount(admin: httpx.Client, operator: httpx.Client) -> None:
    garage_id = garage_with(admin)
    validator = admin.post(f"{API}/garages/{garage_id}/validators",
                           json={"name": "Cinema 2 h", "kind": "FREE_MINUTES", "value": 120}).json()
    start = MONDAY_0710_NEW_YORK - timedelta(days=1)
    session = enter(operator, garage_id, start)
    assert operator.post(f"{API}/tickets/{session['ticketCode']}/validations",
                         json={"validatorId": validator["id"]}).status_code == 201
    # 150 min - 120 free = 30 min: 2 increments = 150; without it 150 min = 10 increments = 750: 600 off
    paid = leave(operator, session["id"], start + timedelta(minutes=150))
    assert (paid["payment"]["amountCents"], paid["payment"]["discountCents"]) == (150, 600)


def test_a_permit_makes_its_minutes_free(admin: httpx.Client, operator: httpx.Client, viewer: httpx.Client) -> None:
    garage_id = garage_with(admin)
    plate, start = new_plate("M"), MONDAY_0710_NEW_YORK - timedelta(days=3)
    permit = admin.post(f"{API}/garages/{garage_id}/permits", json={
        "licensePlate": plate, "validFrom": (start - timedelta(days=10)).isoformat(),
        "validTo": (start + timedelta(minutes=30)).isoformat()})
    assert permit.status_code == 201, permit.text
    permit_id = permit.json()["id"]
    session = enter(operator, garage_id, start, plate=plate)
    assert session["permitId"] == permit_id
    # inside the permit: nothing is due, lost ticket or not
    within = quote(viewer, session["id"], start + timedelta(minutes=25), lostTicket="true")
    assert within["feeCents"] == 0
    assert (within["breakdown"]["permitId"], within["breakdown"]["permitCoveredMinutes"]) == (permit_id, 25)
    # 61 min, the permit ends after 30: 31 chargeable minutes -> 3 increments = 225
    after = quote(viewer, session["id"], start + timedelta(minutes=61))
    assert (after["feeCents"], after["minutes"], after["breakdown"]["permitCoveredMinutes"]) == (225, 61, 30)
    paid = leave(operator, session["id"], start + timedelta(minutes=61), lostTicket=True)
    assert paid["payment"]["amountCents"] == 225  # no lost-ticket minimum for a permit holder
    assert paid["session"]["permitId"] == permit_id
    # a session starting after validTo is not covered
    later = enter(operator, garage_id, start + timedelta(hours=2), plate=plate)
    assert later["permitId"] is None
