"""The vocabulary (garage/vocabulary.py) is the API contract's words, and what derives from it
says the same: the OpenAPI document's enums, the request models, the rate defaults."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from garage.routes.openapi import build_spec
from garage.routes.parking import CheckOutIn
from garage.routes.spots import SpotListQuery
from garage.vocabulary import (
    DEFAULT_RATE, HANDICAP_VEHICLES, PAYMENT_REFERENCE, SENSITIVE_FIELDS, SPOT_PREFERENCE, VEHICLE_OWNER_FIELDS,
    PERMIT_HOLDER_FIELDS, PaymentMethod, PaymentStatus, PermitStatus, RateTerms, Role, SessionStatus, SpotStatus,
    SpotType, TicketStatus, ValidatorKind, VehicleType, Weekday,
)

# ../shared/API.md, "Resources", word for word, with the values API-operations.md adds (VOIDED, VOID
# from "Session exceptions"; permits, validators, flat rate days).
CONTRACT = {
    SpotType: "MOTORCYCLE | COMPACT | STANDARD | LARGE | EV | HANDICAP",
    SpotStatus: "AVAILABLE | OCCUPIED | RESERVED | MAINTENANCE",
    VehicleType: "MOTORCYCLE | CAR | EV | VAN | TRUCK",
    SessionStatus: "ACTIVE | COMPLETED | VOIDED",
    TicketStatus: "OPEN | PAID | LOST | VOID",
    PaymentMethod: "CASH | CARD | MOBILE | VALIDATION",
    PaymentStatus: "COMPLETED | REFUNDED",
    PermitStatus: "ACTIVE | CANCELLED",
    ValidatorKind: "FREE_MINUTES | AMOUNT_OFF | PERCENT_OFF | FULL",
    Weekday: "MON | TUE | WED | THU | FRI | SAT | SUN",
}


@pytest.mark.parametrize("enum", list(CONTRACT), ids=lambda enum: enum.__name__)
def test_enums_are_the_contract_values_and_their_own_strings(enum: Any) -> None:
    assert [member.value for member in enum] == CONTRACT[enum].split(" | ")
    for member in enum:
        assert member == member.value and f"{member}" == member.value and json.dumps(member) == f'"{member.value}"'


def test_the_openapi_document_names_each_enum_with_the_contract_values() -> None:
    schemas = build_spec()["components"]["schemas"]
    for enum, values in CONTRACT.items():
        assert schemas[enum.__name__]["enum"] == values.split(" | "), enum


def test_the_openapi_document_has_no_dangling_references() -> None:
    spec = build_spec()
    text = json.dumps(spec)
    assert "#/$defs/" not in text
    for name in set(part.split('"')[0] for part in text.split('"$ref": "#/components/schemas/')[1:]):
        assert name in spec["components"]["schemas"], name


def test_query_enums_are_named_schemas_in_the_parameters() -> None:
    spec = build_spec()
    parameters = spec["paths"]["/api/v1/garages/{id}/spots"]["get"]["parameters"]
    by_name = {parameter["name"]: parameter["schema"] for parameter in parameters}
    assert by_name["type"] == {"$ref": "#/components/schemas/SpotType"}
    assert spec["components"]["schemas"]["SpotType"]["enum"] == [t.value for t in SpotType]
    assert SpotListQuery.model_validate({"type": "EV"}).type is SpotType.EV


def test_request_models_refuse_words_outside_the_vocabulary() -> None:
    assert CheckOutIn.model_validate({"paymentMethod": "CARD"}).payment_method is PaymentMethod.CARD
    with pytest.raises(ValidationError, match="Input should be 'CASH', 'CARD', 'MOBILE' or 'VALIDATION'"):
        CheckOutIn.model_validate({"paymentMethod": "CHEQUE"})


def test_spot_fit_covers_every_vehicle_and_only_known_spot_types() -> None:
    assert set(SPOT_PREFERENCE) == set(VehicleType)
    assert all(SpotType.HANDICAP not in types for types in SPOT_PREFERENCE.values())
    assert HANDICAP_VEHICLES == {VehicleType.MOTORCYCLE, VehicleType.CAR, VehicleType.EV}


def test_sensitive_fields_bind_model_and_attribute_as_associated_data() -> None:
    # Changing one of these makes every stored value of that column undecryptable.
    assert dict(VEHICLE_OWNER_FIELDS) == {
        "ownerName": "Vehicle.ownerName", "ownerEmail": "Vehicle.ownerEmail", "ownerPhone": "Vehicle.ownerPhone",
    }
    assert PAYMENT_REFERENCE == "Payment.reference"
    assert {model: dict(fields) for model, fields in SENSITIVE_FIELDS.items()} == {
        "Vehicle": dict(VEHICLE_OWNER_FIELDS), "Payment": {"reference": "Payment.reference"},
        "Webhook": {"secret": "Webhook.secret"},
        "Permit": {"holderName": "Permit.holderName", "holderEmail": "Permit.holderEmail"},
    }
    assert dict(PERMIT_HOLDER_FIELDS) == SENSITIVE_FIELDS["Permit"]


def test_the_validator_role_stands_outside_the_role_ladder() -> None:
    """A merchant's key reaches only the endpoints that name it: no other role includes it, and it
    includes none (API-operations.md "Merchant validations")."""
    assert Role.VALIDATOR.includes(Role.VALIDATOR)
    for role in (Role.ADMIN, Role.OPERATOR, Role.VIEWER):
        assert not role.includes(Role.VALIDATOR) and not Role.VALIDATOR.includes(role)
    assert Role.ADMIN.includes(Role.OPERATOR) and Role.OPERATOR.includes(Role.VIEWER)
    assert not Role.VIEWER.includes(Role.OPERATOR)


def test_the_default_rate_is_the_contracts() -> None:
    assert DEFAULT_RATE == RateTerms(300, 15, 10, 2500, 5000)
    assert DEFAULT_RATE.as_row() == {
        "hourlyRateCents": 300, "incrementMinutes": 15, "graceMinutes": 10, "dailyMaxCents": 2500,
        "lostTicketFeeCents": 5000,
    }
