"""Rates through HTTP: every garage has one (defaults at creation); admins replace it with PUT."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.test_garages import assert_invalid, audit_of, create_garage, error_of

NEW_RATE = {"hourlyRateCents": 480, "incrementMinutes": 30, "graceMinutes": 0, "dailyMaxCents": 3600, "lostTicketFeeCents": 9000}


def test_put_replaces_the_rate_and_audits(admin: httpx.Client, viewer: httpx.Client) -> None:
    garage = create_garage(admin)
    path = f"/api/v1/garages/{garage['id']}/rates"
    response = admin.put(path, json=NEW_RATE)
    assert response.status_code == 200, response.text
    assert response.json() == {"garageId": garage["id"], **NEW_RATE}
    assert viewer.get(path).json() == {"garageId": garage["id"], **NEW_RATE}
    update = audit_of(admin, "Rate", garage["id"])[0]
    assert update["action"] == "UPDATE"
    assert update["before"]["hourlyRateCents"] == 300 and update["after"]["hourlyRateCents"] == 480


def test_zero_amounts_and_the_smallest_increment_are_allowed(admin: httpx.Client) -> None:
    garage = create_garage(admin)
    free = {"hourlyRateCents": 0, "incrementMinutes": 1, "graceMinutes": 0, "dailyMaxCents": 0, "lostTicketFeeCents": 0}
    assert admin.put(f"/api/v1/garages/{garage['id']}/rates", json=free).json() == {"garageId": garage["id"], **free}


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
