"""Validators: merchants' discount programmes (API-operations.md "Merchant validations").

A validator is never deleted (its validations and its merchant's keys refer to it); a merchant's
programme that ends is set inactive. What `kind` and `value` may be is the service's to check
(vocabulary.VALIDATOR_VALUE_RANGES); the table's CHECKs hold the same."""

from __future__ import annotations

from typing import Any

from prisma.types import ValidatorOrderByInput

from garage.repositories.base import Repository
from garage.repositories.pagination import Page, page_of, page_window
from garage.repositories.records import Validator
from garage.vocabulary import AuditAction, AuditEntity

NEWEST_FIRST: list[ValidatorOrderByInput] = [{"createdAt": "desc"}, {"id": "desc"}]


class ValidatorRepository(Repository):
    async def create(self, *, garage_id: str, name: str, kind: str, value: int) -> Validator:
        validator = await self._writing().validator.create(
            data={"garageId": garage_id, "name": name, "kind": kind, "value": value}
        )
        self._record(AuditAction.CREATE, AuditEntity.VALIDATOR, validator.id, after=validator)
        return validator

    async def get(self, validator_id: str) -> Validator | None:
        return await self._db.validator.find_unique(where={"id": validator_id})

    async def of_garage(self, garage_id: str, *, limit: int, cursor: str | None) -> Page[Validator]:
        """A page of the garage's validators, newest first (index [garageId, createdAt])."""
        rows = await self._db.validator.find_many(
            where={"garageId": garage_id},
            order=NEWEST_FIRST,
            **page_window(limit, cursor),
        )
        return page_of(rows, limit)

    async def all_of_garage(self, garage_id: str) -> list[Validator]:
        """Every validator of the garage, oldest first: the validations report lists each (a garage
        has a handful of merchants, not thousands)."""
        return await self._db.validator.find_many(
            where={"garageId": garage_id}, order=[{"createdAt": "asc"}, {"id": "asc"}]
        )

    async def update(self, validator: Validator, changes: dict[str, Any]) -> Validator:
        """`changes` uses the model's field names (name, value, active); `validator` is the row read
        in the same transaction."""
        updated = await self._writing().validator.update(where={"id": validator.id}, data=changes)  # type: ignore[arg-type]
        assert updated is not None, f"validator {validator.id} vanished inside its transaction"
        self._record(AuditAction.UPDATE, AuditEntity.VALIDATOR, validator.id, before=validator, after=updated)
        return updated
