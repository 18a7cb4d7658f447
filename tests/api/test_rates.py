"""Rates through HTTP: every garage has one (defaults at creation, no tariffs); admins replace it
whole with PUT, tariffs (per vehicle type overrides and flat rates) included."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.api.test_garages import assert_invalid, audit_of, create_garage, error_of

NEW_RATE = {"hourlyRateCents": 480, "incrementMinutes": 30, "graceMinutes": 0, "dailyMaxCents": 3600, "lostTicketFeeCents": 9000}
NO_TARIFFS: dict[str, Any] = {"vehicleTypeRates": {}, "flatRates": []}
EARLY_BIRD = {"name": "Early bird", "days": ["MON", "TUE", "WED", "THU", "FRI"], "entryFrom": "06:00",
              "entryTo": "09:00", "exitBy": "19:00", "amountCents": 1200}
EVENING = {"name": "Evening", "days": ["SUN", "FRI", "SAT"], "entryFrom": "17:30", "entryTo": "23:59",
           "exitBy": "06:00", "amountCents": 800}
TARIFFS = {
    "vehicleTypeRates": {"TRUCK": {"dailyMaxCents": 6000}, "MOTORCYCLE": {"hourlyRateCents": 100, "dailyMaxCents": 1000}},
    "flatRates": [EARLY_BIRD, EVENING],
}


def test_put_replaces_the_rate_and_audits(admin: httpx.Client, viewer: httpx.Client) -> None:
    garage = create_garage(admin)
    path = f"/api/v1/garages/{garage['id']}/rates"
    response = admin.put(path, json=NEW_RATE)
    assert response.status_code == 200, response.text
    assert response.json() == {"garageId": garage["id"], **NEW_RATE, **NO_TARIFFS}
    assert viewer.get(path).json() == {"garageId": garage["id"], **NEW_RATE, **NO_TARIFFS}
    update = audit_of(admin, "Rate", garage["id"])[0]
    assert update["action"] == "UPDATE"
    assert update["before"]["hourlyRateCents"] == 300 and update["after"]["hourlyRateCents"] == 480


def test_zero_amounts_and_the_smallest_increment_are_allowed(admin: httpx.Client) -> None:
    garage = create_garage(admin)
    free = {"hourlyRateCents": 0, "incrementMinutes": 1, "graceMinutes": 0, "dailyMaxCents": 0, "lostTicketFeeCents": 0}
    assert admin.put(f"/api/v1/garages/{garage['id']}/rates", json=free).json() == {
        "garageId": garage["id"], **free, **NO_TARIFFS
    }


def test_only_admins_put_rates_everyone_with_a_key_reads(
    admin: httpx.Client, operator: httpx.Client, viewer: httpx.Client, anonymous: httpx.Client
) -> None:
    garage = create_garage(admin)
    path = f"/api/v1/garages/{garage['id']}/rates"
    error_of(operator.put(path, json=NEW_RATE), 403, "FORBIDDEN")
    error_of(viewer.put(path, json=NEW_RATE), 403, "FORBIDDEN")
    error_of(anonymous.put(path, json=NEW_RATE), 401, "UNAUTHENTICATED")
    error_of(anonymous.get(path), 401, "UNAUTHENTICATED")
    assert operator.get(path).json()["hourlyRateCents"] == 300
    assert viewer.get(path).json()["hourlyRateCents"] == 300


def test_rates_of_an_unknown_garage_are_404(admin: httpx.Client) -> None:
    error_of(admin.get("/api/v1/garages/nope/rates"), 404, "NOT_FOUND")
    error_of(admin.put("/api/v1/garages/nope/rates", json=NEW_RATE), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"hourlyRateCents": -1}, "hourlyRateCents"),
        ({"incrementMinutes": 0}, "incrementMinutes"),
        ({"graceMinutes": -5}, "graceMinutes"),
        ({"dailyMaxCents": -1}, "dailyMaxCents"),
        ({"lostTicketFeeCents": -1}, "lostTicketFeeCents"),
        ({"hourlyRateCents": "300"}, "hourlyRateCents"),
        ({"hourlyRateCents": 2.5}, "hourlyRateCents"),
        ({"hourlyRateCents": True}, "hourlyRateCents"),
        ({"hourlyRateCents": None}, "hourlyRateCents"),
        ({"hourlyRateCents": 10**15}, "hourlyRateCents"),
        ({"currency": "EUR"}, "currency"),
    ],
)
def test_invalid_rates_are_400_naming_the_field(admin: httpx.Client, change: dict[str, Any], field: str) -> None:
    garage = create_garage(admin)
    path = f"/api/v1/garages/{garage['id']}/rates"
    assert_invalid(admin.put(path, json={**NEW_RATE, **change}), field)
    assert admin.get(path).json()["hourlyRateCents"] == 300


@pytest.mark.parametrize("missing", sorted(NEW_RATE))
def test_put_needs_every_field(admin: httpx.Client, missing: str) -> None:
    garage = create_garage(admin)
    body = {key: value for key, value in NEW_RATE.items() if key != missing}
    assert_invalid(admin.put(f"/api/v1/garages/{garage['id']}/rates", json=body), missing)


@pytest.mark.parametrize("raw", [b"{", b"", b"[]", b"null"])
def test_malformed_rate_bodies_are_400(admin: httpx.Client, raw: bytes) -> None:
    garage = create_garage(admin)
    response = admin.put(f"/api/v1/garages/{garage['id']}/rates", content=raw, headers={"content-type": "application/json"})
    assert_invalid(response, "body")


def test_a_new_garage_has_no_tariffs(admin: httpx.Client) -> None:
    garage = create_garage(admin)
    rate = admin.get(f"/api/v1/garages/{garage['id']}/rates").json()
    assert (rate["vehicleTypeRates"], rate["flatRates"]) == ({}, [])


def test_put_sets_tariffs_and_get_shows_them(admin: httpx.Client, viewer: httpx.Client) -> None:
    garage = create_garage(admin, timezone="Europe/Berlin")
    path = f"/api/v1/garages/{garage['id']}/rates"
    response = admin.put(path, json={**NEW_RATE, **TARIFFS})
    assert response.status_code == 200, response.text
    expected = {
        "garageId": garage["id"],
        **NEW_RATE,
        # vehicle types in the contract's order; a figure not overridden shows as null
        "vehicleTypeRates": {
            "MOTORCYCLE": {"hourlyRateCents": 100, "dailyMaxCents": 1000},
            "TRUCK": {"hourlyRateCents": None, "dailyMaxCents": 6000},
        },
        # flat rates in the order put; days in week order whatever order they came in
        "flatRates": [EARLY_BIRD, {**EVENING, "days": ["FRI", "SAT", "SUN"]}],
    }
    assert response.json() == expected
    assert list(response.json()["vehicleTypeRates"]) == ["MOTORCYCLE", "TRUCK"]
    assert viewer.get(path).json() == expected
    # what GET shows can be put back unchanged (nulls included)
    shown = {key: value for key, value in expected.items() if key != "garageId"}
    assert admin.put(path, json=shown).json() == expected


def test_put_replaces_the_whole_rate_so_left_out_tariffs_are_emptied(admin: httpx.Client) -> None:
    garage = create_garage(admin)
    path = f"/api/v1/garages/{garage['id']}/rates"
    assert admin.put(path, json={**NEW_RATE, **TARIFFS}).status_code == 200
    only_flat = admin.put(path, json={**NEW_RATE, "flatRates": [EVENING]}).json()
    assert only_flat["vehicleTypeRates"] == {} and [flat["name"] for flat in only_flat["flatRates"]] == ["Evening"]
    only_types = admin.put(path, json={**NEW_RATE, "vehicleTypeRates": {"VAN": {"hourlyRateCents": 500}}}).json()
    assert only_types["flatRates"] == [] and only_types["vehicleTypeRates"] == {
        "VAN": {"hourlyRateCents": 500, "dailyMaxCents": None}
    }
    assert admin.put(path, json=NEW_RATE).json() == {"garageId": garage["id"], **NEW_RATE, **NO_TARIFFS}
    assert admin.get(path).json() == {"garageId": garage["id"], **NEW_RATE, **NO_TARIFFS}


def test_the_audit_shows_the_tariffs_before_and_after(admin: httpx.Client) -> None:
    garage = create_garage(admin)
    path = f"/api/v1/garages/{garage['id']}/rates"
    assert admin.put(path, json={**NEW_RATE, **TARIFFS}).status_code == 200
    assert admin.put(path, json={**NEW_RATE, "flatRates": [EARLY_BIRD]}).status_code == 200
    latest, first = audit_of(admin, "Rate", garage["id"])[:2]
    assert first["action"] == latest["action"] == "UPDATE"
    assert (json.loads(first["before"]["vehicleTypeRates"]), json.loads(first["before"]["flatRates"])) == ({}, [])
    assert json.loads(first["after"]["vehicleTypeRates"]) == {
        "MOTORCYCLE": {"hourlyRateCents": 100, "dailyMaxCents": 1000}, "TRUCK": {"dailyMaxCents": 6000}
    }
    assert [flat["name"] for flat in json.loads(first["after"]["flatRates"])] == ["Early bird", "Evening"]
    assert latest["before"] == first["after"]
    assert json.loads(latest["after"]["vehicleTypeRates"]) == {}
    assert json.loads(latest["after"]["flatRates"]) == [EARLY_BIRD]


def flat(**change: Any) -> dict[str, Any]:
    return {**EARLY_BIRD, **change}


@pytest.mark.parametrize(
    ("tariffs", "field"),
    [
        ({"vehicleTypeRates": {"BUS": {"hourlyRateCents": 100}}}, "vehicleTypeRates.BUS.[key]"),
        ({"vehicleTypeRates": {"CAR": {}}}, "vehicleTypeRates.CAR"),
        ({"vehicleTypeRates": {"CAR": {"hourlyRateCents": None, "dailyMaxCents": None}}}, "vehicleTypeRates.CAR"),
        ({"vehicleTypeRates": {"CAR": {"hourlyRateCents": -1}}}, "vehicleTypeRates.CAR.hourlyRateCents"),
        ({"vehicleTypeRates": {"CAR": {"dailyMaxCents": 10**15}}}, "vehicleTypeRates.CAR.dailyMaxCents"),
        ({"vehicleTypeRates": {"CAR": {"hourlyRateCents": "100"}}}, "vehicleTypeRates.CAR.hourlyRateCents"),
        ({"vehicleTypeRates": {"CAR": {"incrementMinutes": 5}}}, "vehicleTypeRates.CAR.incrementMinutes"),
        ({"vehicleTypeRates": None}, "vehicleTypeRates"),
        ({"vehicleTypeRates": []}, "vehicleTypeRates"),
        ({"flatRates": None}, "flatRates"),
        ({"flatRates": {}}, "flatRates"),
        ({"flatRates": [flat(name="")]}, "flatRates.0.name"),
        ({"flatRates": [flat(name="x" * 101)]}, "flatRates.0.name"),
        ({"flatRates": [flat(name="a\tb")]}, "flatRates.0.name"),
        ({"flatRates": [flat(days=[])]}, "flatRates.0.days"),
        ({"flatRates": [flat(days=["MON", "MON"])]}, "flatRates.0.days"),
        ({"flatRates": [flat(days=["MONDAY"])]}, "flatRates.0.days.0"),
        ({"flatRates": [flat(days="MON")]}, "flatRates.0.days"),
        ({"flatRates": [flat(entryFrom="7:00")]}, "flatRates.0.entryFrom"),
        ({"flatRates": [flat(entryFrom="24:00")]}, "flatRates.0.entryFrom"),
        ({"flatRates": [flat(entryFrom="06:60")]}, "flatRates.0.entryFrom"),
        ({"flatRates": [flat(entryFrom="06:00:00")]}, "flatRates.0.entryFrom"),
        ({"flatRates": [flat(entryFrom=" 06:00")]}, "flatRates.0.entryFrom"),
        ({"flatRates": [flat(entryFrom=600)]}, "flatRates.0.entryFrom"),
        ({"flatRates": [flat(entryTo="06:00")]}, "flatRates.0.entryTo"),  # not after entryFrom
        ({"flatRates": [flat(entryTo="05:59")]}, "flatRates.0.entryTo"),
        ({"flatRates": [flat(exitBy="19:00Z")]}, "flatRates.0.exitBy"),
        ({"flatRates": [flat(amountCents=-1)]}, "flatRates.0.amountCents"),
        ({"flatRates": [flat(amountCents=12.5)]}, "flatRates.0.amountCents"),
        ({"flatRates": [flat(priority=1)]}, "flatRates.0.priority"),
        ({"flatRates": [{k: v for k, v in EARLY_BIRD.items() if k != "exitBy"}]}, "flatRates.0.exitBy"),
        ({"flatRates": [EARLY_BIRD, EVENING, flat(days=["SAT"])]}, "flatRates.2.name"),  # a name used twice
        ({"flatRates": [flat(name=f"f{n}") for n in range(21)]}, "flatRates"),
    ],
)
def test_invalid_tariffs_are_400_naming_the_field_and_change_nothing(
    admin: httpx.Client, tariffs: dict[str, Any], field: str
) -> None:
    garage = create_garage(admin)
    path = f"/api/v1/garages/{garage['id']}/rates"
    assert admin.put(path, json={**NEW_RATE, **TARIFFS}).status_code == 200
    before = admin.get(path).json()
    error = error_of(admin.put(path, json={**NEW_RATE, "hourlyRateCents": 1, **tariffs}), 400, "VALIDATION_ERROR")
    assert field in error["details"]["fields"], error
    assert admin.get(path).json() == before


def test_twenty_flat_rates_and_the_widest_day_are_allowed(admin: httpx.Client) -> None:
    garage = create_garage(admin)
    many = [flat(name=f"Rate {n}", entryFrom="00:00", entryTo="23:59", exitBy="23:59") for n in range(20)]
    response = admin.put(f"/api/v1/garages/{garage['id']}/rates", json={**NEW_RATE, "flatRates": many})
    assert response.status_code == 200, response.text
    assert len(response.json()["flatRates"]) == 20


def test_the_openapi_document_describes_the_tariffs(anonymous: httpx.Client) -> None:
    schemas = anonymous.get("/openapi.json").json()["components"]["schemas"]
    assert {"vehicleTypeRates", "flatRates"} <= set(schemas["Rate"]["required"])
    assert {"vehicleTypeRates", "flatRates"} <= set(schemas["ReplaceRateRequest"]["properties"])
    assert schemas["ReplaceRateRequest"]["properties"]["flatRates"]["maxItems"] == 20
    assert schemas["FlatRateRequest"]["properties"]["entryFrom"]["pattern"] == "^([01][0-9]|2[0-3]):[0-5][0-9]$"
    assert schemas["FlatRate"]["properties"]["exitBy"]["type"] == "string"
