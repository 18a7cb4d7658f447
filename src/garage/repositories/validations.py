"""Validations: a merchant's discount on one ticket's session (API-operations.md "Merchant
validations"). At most one per session: Validation.sessionId is UNIQUE, so however many merchants
validate one ticket at once, the database keeps exactly one (the others' inserts raise
UniqueViolation). The quote and check-out read a session's validation with the session
(repositories/sessions.py includes the relation)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from garage.repositories.base import Repository
from garage.repositories.events import event_view
from garage.repositories.records import ParkingSession, Validation, Validator
from garage.repositories.rows import now_ms
from garage.vocabulary import AuditAction, AuditEntity, EventType


@dataclass(frozen=True)
class ValidatorTotals:
    """What one validator's validations came to over the check-outs of a window."""

    count: int
    discount_cents: int


class ValidationRepository(Repository):
    async def create(self, session: ParkingSession, validator: Validator) -> Validation:
        """The session's validation with the validator's kind and value as they are now. A session
        validated already raises UniqueViolation (whatever this transaction read before). Emits
        validation.created in the session's garage. The session's updatedAt moves too: a check-out
        that priced the session before this validation finds it changed (SessionRepository.queue_complete)."""
        validation = await self._writing().validation.create(
            data={
                "sessionId": session.id,
                "validatorId": validator.id,
                "kind": validator.kind,
                "value": validator.value,
            }
        )
        # later than the read even within one millisecond, so the version always moves
        moved = max(now_ms(), session.updatedAt + timedelta(milliseconds=1))
        await self._writing().parkingsession.update_many(where={"id": session.id}, data={"updatedAt": moved})
        self._record(AuditAction.VALIDATE, AuditEntity.VALIDATION, validation.id, after=validation)
        self._emit(EventType.VALIDATION_CREATED, session.garageId, {"validation": event_view(validation)})
        return validation

    async def of_session(self, session_id: str) -> Validation | None:
        return await self._db.validation.find_unique(where={"sessionId": session_id})

    async def totals_by_validator(
        self, garage_id: str, since: datetime, until: datetime
    ) -> Mapping[str, ValidatorTotals]:
        """Per validator id: the validated sessions of the garage checked out in [since, until) (by
        their payment's createdAt, the check-out time; refunded payments count too: the merchant's
        validation happened) and the sum of those payments' discountCents. Read from the payments
        of the window (index [garageId, createdAt]), only those whose session has a validation."""
        payments = await self._db.payment.find_many(
            where={
                "garageId": garage_id,
                "createdAt": {"gte": since, "lt": until},
                "session": {"is": {"validation": {"is_not": None}}},
            },
            include={"session": {"include": {"validation": True}}},
        )
        counts: dict[str, int] = {}
        cents: dict[str, int] = {}
        for payment in payments:
            assert payment.session is not None and payment.session.validation is not None, "filtered above"
            validator_id = payment.session.validation.validatorId
            counts[validator_id] = counts.get(validator_id, 0) + 1
            cents[validator_id] = cents.get(validator_id, 0) + payment.discountCents
        return {key: ValidatorTotals(count=counts[key], discount_cents=cents[key]) for key in counts}
