"""Merchant validations (API-operations.md "Merchant validations", "Reports"): validators, validating
a ticket (the one write a `validator` key may make) and the validations report."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from garage.routes.endpoint import Call, Router
from garage.routes.garages import Name, PatchModel
from garage.routes.models import (
    ApiModel,
    IdText,
    InstantIn,
    ListQuery,
    ListResponse,
    RequestModel,
    Timestamp,
    list_response,
)
from garage.vocabulary import VALIDATOR_VALUE_RANGES, Role, ValidatorKind

ROUTER = Router()
"""This module's endpoints (listed in routes/api.py)."""

VALUE = "Minutes (FREE_MINUTES), cents (AMOUNT_OFF) or percent (PERCENT_OFF); " + ", ".join(
    f"{kind} {low}..{high}" for kind, (low, high) in VALIDATOR_VALUE_RANGES.items() if kind is not ValidatorKind.FULL
)


class ValidatorOut(ApiModel, title="Validator"):
    """A merchant's discount programme: what its validation of a ticket takes off the fee."""

    id: str
    garage_id: str
    name: str
    kind: ValidatorKind
    value: int = Field(description=VALUE + "; 0 for FULL")
    active: bool = Field(description="Only an active validator validates (409 VALIDATOR_INACTIVE)")
    created_at: Timestamp
    updated_at: Timestamp


class ValidatorList(ListResponse[ValidatorOut]):
    """A page of a garage's validators, newest first."""


class CreateValidatorIn(RequestModel):
    """A new validator."""

    model_config = ConfigDict(
        title="CreateValidatorRequest",
        json_schema_extra={"examples": [{"name": "Cinema: 2 hours free", "kind": "FREE_MINUTES", "value": 120}]},
    )

    name: Name
    kind: ValidatorKind
    value: int | None = Field(None, description=VALUE + " (400 outside); required but for FULL, which stores 0")


class UpdateValidatorIn(PatchModel):
    """The fields to change; fields left out keep their value (the kind never changes)."""

    model_config = ConfigDict(
        title="UpdateValidatorRequest", json_schema_extra={"examples": [{"value": 90, "active": False}]}
    )

    name: Name | None = None
    value: int | None = Field(None, description="Within the range of the validator's kind; a FULL one keeps 0")
    active: bool | None = Field(None, description="false: it no longer validates (409 VALIDATOR_INACTIVE)")


class ValidateIn(RequestModel):
    """The validator validating the ticket."""

    model_config = ConfigDict(title="ValidateTicketRequest", json_schema_extra={"examples": [{"validatorId": "c1"}]})

    validator_id: IdText = Field(description="A validator of the ticket's garage; a validator key's own only")


class ValidationOut(ApiModel, title="Validation"):
    """A ticket's validation: the validator's kind and value when it validated (the quote and
    check-out apply it)."""

    id: str
    session_id: str
    validator_id: str
    kind: ValidatorKind
    value: int
    created_at: Timestamp


class ValidationsReportQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    since: InstantIn = Field(alias="from", description="Check-outs at or after this instant")
    until: InstantIn = Field(alias="to", description="Check-outs before this instant; at most 366 days after from")


class ValidatorLineOut(ApiModel, title="ValidatorReportLine"):
    """One validator's validated check-outs in the window."""

    validator_id: str
    name: str
    count: int = Field(description="Validated sessions checked out in the window (refunded ones too)")
    discount_cents: int = Field(description="What their validations took off: the sum of their payments' discountCents")


class ValidationsReportOut(ApiModel, title="ValidationsReport"):
    """Every validator of the garage, oldest first, zeros included: for billing merchants back."""

    validators: list[ValidatorLineOut]


@ROUTER.endpoint(
    "POST",
    "/garages/{id}/validators",
    role=Role.ADMIN,
    summary="Create a validator: a merchant's discount programme",
    tag="validations",
    body=CreateValidatorIn,
    response=ValidatorOut,
    status=201,
    errors=("NOT_FOUND",),
    operation_id="createValidator",
)
async def create_validator(call: Call[CreateValidatorIn, None]) -> ValidatorOut:
    body = call.body
    validator = await call.services.validations.create_validator(
        call.path("id"), name=body.name, kind=body.kind, value=body.value, actor=call.principal.key_id
    )
    return ValidatorOut.model_validate(validator)


@ROUTER.endpoint(
    "GET",
    "/garages/{id}/validators",
    role=Role.VIEWER,
    summary="A garage's validators, newest first",
    tag="validations",
    query=ListQuery,
    response=ValidatorList,
    errors=("NOT_FOUND",),
    operation_id="listValidators",
)
async def list_validators(call: Call[None, ListQuery]) -> dict[str, object]:
    page = await call.services.validations.validators(
        call.path("id"), limit=call.query.limit, cursor=call.query.after_id
    )
    return list_response(page, ValidatorOut)


@ROUTER.endpoint(
    "GET",
    "/validators/{id}",
    role=Role.VIEWER,
    summary="A validator",
    tag="validations",
    response=ValidatorOut,
    errors=("NOT_FOUND",),
    operation_id="getValidator",
)
async def get_validator(call: Call[None, None]) -> ValidatorOut:
    return ValidatorOut.model_validate(await call.services.validations.validator(call.path("id")))


@ROUTER.endpoint(
    "PATCH",
    "/validators/{id}",
    role=Role.ADMIN,
    summary="Change a validator's name, value or active flag",
    tag="validations",
    body=UpdateValidatorIn,
    response=ValidatorOut,
    errors=("NOT_FOUND",),
    operation_id="updateValidator",
)
async def update_validator(call: Call[UpdateValidatorIn, None]) -> ValidatorOut:
    validator = await call.services.validations.update_validator(
        call.path("id"), call.body.changes(), actor=call.principal.key_id
    )
    return ValidatorOut.model_validate(validator)


@ROUTER.endpoint(
    "POST",
    "/tickets/{code}/validations",
    role=Role.OPERATOR,
    admits_validator=True,
    summary="Validate a ticket: its session's fee gets the validator's discount at check-out",
    tag="validations",
    body=ValidateIn,
    response=ValidationOut,
    status=201,
    errors=("NOT_FOUND", "SESSION_NOT_ACTIVE", "ALREADY_VALIDATED", "VALIDATOR_INACTIVE"),
    responses={
        403: "FORBIDDEN: a viewer key; or a validator key naming another validator than its own",
    },
    operation_id="createValidation",
)
async def validate_ticket(call: Call[ValidateIn, None]) -> ValidationOut:
    """Answers, first that applies: 403 (a validator key naming another validator), 404 (the ticket;
    then the validator, unknown or of another garage than the ticket's session), 409
    SESSION_NOT_ACTIVE, ALREADY_VALIDATED, VALIDATOR_INACTIVE. Of simultaneous validations of one
    ticket exactly one succeeds; the others answer ALREADY_VALIDATED."""
    validation = await call.services.validations.validate(
        call.path("code"),
        call.body.validator_id,
        bound_to=call.principal.validator_id,
        actor=call.principal.key_id,
    )
    return ValidationOut.model_validate(validation)


@ROUTER.endpoint(
    "GET",
    "/garages/{id}/reports/validations",
    role=Role.VIEWER,
    summary="Validated check-outs and their discounts per validator (every validator listed, zeros included)",
    tag="reports",
    query=ValidationsReportQuery,
    response=ValidationsReportOut,
    errors=("NOT_FOUND",),
    operation_id="getValidationsReport",
)
async def validations_report(call: Call[None, ValidationsReportQuery]) -> ValidationsReportOut:
    """Check-outs in [from, to) by their payment's time (the check-out time); a validated
    session whose payment was refunded still counts (the merchant's validation happened)."""
    q = call.query
    lines = await call.services.validations.report(call.path("id"), q.since, q.until)
    return ValidationsReportOut(validators=[ValidatorLineOut.model_validate(line) for line in lines])
