"""Merchant validations (API-operations.md "Merchant validations", "Reports"): validators (a
merchant's discount programme), validating a ticket, and the report that bills merchants back.

Validating a ticket answers, first that applies: 403 FORBIDDEN (a validator key naming another
validator than its own: decided from the key alone, before anything is looked up), 404 (the ticket;
then the validator, unknown or of another garage than the ticket's session), 409
SESSION_NOT_ACTIVE, 409 ALREADY_VALIDATED, 409 VALIDATOR_INACTIVE. The checks and the insert run
in ONE transaction (BEGIN IMMEDIATE: writers queue for the lock), so a check-out, a void or another
validation of the session commits wholly before the checks read or after the insert; and the
unique Validation.sessionId is the last line of defence: of simultaneous validations of one ticket
exactly one is stored, the others answer ALREADY_VALIDATED."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from garage.errors import Conflict, Forbidden, NotFound, UniqueViolation, ValidationFailed, found
from garage.repositories.pagination import Page
from garage.repositories.records import Validation, Validator
from garage.repositories.unit_of_work import Database, UnitOfWork
from garage.services.garages import live_garage
from garage.services.reports import check_window
from garage.services.tickets import normalise_ticket_code
from garage.vocabulary import VALIDATOR_VALUE_RANGES, SessionStatus, ValidatorKind


@dataclass(frozen=True)
class ValidatorLine:
    """One validator's line of the validations report."""

    validator_id: str
    name: str
    count: int
    discount_cents: int


def stored_value(kind: ValidatorKind, value: int | None) -> int:
    """The value to store for `kind`: within VALIDATOR_VALUE_RANGES (ValidationFailed naming
    `value` otherwise, or when a kind that needs one has none); FULL stores 0 whatever was sent."""
    low, high = VALIDATOR_VALUE_RANGES[kind]
    if kind is ValidatorKind.FULL:
        return low
    if value is None:
        raise ValidationFailed(f"A {kind} validator needs a value", details={"fields": {"value": "required"}})
    if not low <= value <= high:
        problem = f"must be {low}..{high} for {kind}"
        raise ValidationFailed(f"value {problem}", details={"fields": {"value": problem}})
    return value


class ValidationService:
    def __init__(self, db: Database) -> None:
        self._db = db

    # ---- validators -----------------------------------------------------------------------
    async def create_validator(
        self, garage_id: str, *, name: str, kind: ValidatorKind, value: int | None, actor: str
    ) -> Validator:
        stored = stored_value(kind, value)

        async def work(unit: UnitOfWork) -> Validator:
            await live_garage(unit.garages, garage_id)
            return await unit.validators.create(garage_id=garage_id, name=name, kind=kind, value=stored)

        return await self._db.transaction(work, actor=actor)

    async def validators(self, garage_id: str, *, limit: int, cursor: str | None) -> Page[Validator]:
        await live_garage(self._db.garages, garage_id)
        return await self._db.validators.of_garage(garage_id, limit=limit, cursor=cursor)

    async def validator(self, validator_id: str) -> Validator:
        return found(await self._db.validators.get(validator_id), f"validator {validator_id}")

    async def update_validator(self, validator_id: str, changes: dict[str, Any], *, actor: str) -> Validator:
        """`changes`: any of name, value, active (the model's field names). The value is checked
        against the validator's kind (a FULL validator keeps 0)."""

        async def work(unit: UnitOfWork) -> Validator:
            validator = found(await unit.validators.get(validator_id), f"validator {validator_id}")
            update = dict(changes)
            if "value" in update:
                update["value"] = stored_value(ValidatorKind(validator.kind), update["value"])
            return await unit.validators.update(validator, update)

        return await self._db.transaction(work, actor=actor)

    # ---- validating a ticket ------------------------------------------------------------------
    async def validate(self, code: str, validator_id: str, *, bound_to: str | None, actor: str) -> Validation:
        """`bound_to`: the validator a `validator` key is bound to (None for operators and admins,
        who may validate with any). Order of the answers: the module docstring."""
        if bound_to is not None and validator_id != bound_to:
            raise Forbidden("A validator key validates only with its own validator")
        normalised = normalise_ticket_code(code)

        async def work(unit: UnitOfWork) -> Validation:
            session = found(await unit.sessions.by_ticket_code(normalised), f"ticket {code}")
            validator = await unit.validators.get(validator_id)
            if validator is None or validator.garageId != session.garageId:
                raise NotFound(f"No validator {validator_id} in the ticket's garage")
            if session.status != SessionStatus.ACTIVE:
                raise Conflict(f"The ticket's session is {session.status}", code="SESSION_NOT_ACTIVE")
            if await unit.validations.of_session(session.id) is not None:
                raise _already_validated()
            if not validator.active:
                raise Conflict(f"Validator {validator.name} is inactive", code="VALIDATOR_INACTIVE")
            return await unit.validations.create(session, validator)

        try:
            return await self._db.transaction(work, actor=actor)
        except UniqueViolation as error:
            # Validation.sessionId: a validation of the session committed since this one's checks
            raise _already_validated() from error

    # ---- the report -----------------------------------------------------------------------------
    async def report(self, garage_id: str, since: datetime, until: datetime) -> list[ValidatorLine]:
        """Every validator of the garage (oldest first, zeros included) with the validated
        check-outs in [since, until) and what their validations took off."""
        check_window(since, until)
        await live_garage(self._db.garages, garage_id)
        validators = await self._db.validators.all_of_garage(garage_id)
        totals = await self._db.validations.totals_by_validator(garage_id, since, until)
        lines = []
        for validator in validators:
            total = totals.get(validator.id)
            lines.append(
                ValidatorLine(
                    validator_id=validator.id,
                    name=validator.name,
                    count=total.count if total is not None else 0,
                    discount_cents=total.discount_cents if total is not None else 0,
                )
            )
        return lines


def _already_validated() -> Conflict:
    return Conflict("The ticket's session is validated already", code="ALREADY_VALIDATED")
