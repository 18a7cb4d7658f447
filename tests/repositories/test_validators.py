"""Validators (repositories/validators.py, API-operations.md "Merchant validations"): created and
changed in units of work with their audit entries, read by id, listed per garage newest first in
pages, and all of a garage oldest first for the validations report."""

from __future__ import annotations

from typing import Any

import pytest
from prisma import Prisma

from garage.repositories.base import WriteOutsideUnitOfWork
from garage.repositories.records import Garage, Validator
from garage.repositories.unit_of_work import Database, UnitOfWork
from garage.vocabulary import ValidatorKind
from tests.repositories.builders import ACTOR, audit_entries, make_garage

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def create_validator(
    db: Prisma, garage: Garage, *, name: str = "Cinema", kind: ValidatorKind = ValidatorKind.FREE_MINUTES,
    value: int = 120,
) -> Validator:
    async def work(unit: UnitOfWork) -> Validator:
        return await unit.validators.create(garage_id=garage.id, name=name, kind=kind, value=value)

    validator: Validator = await Database(db).transaction(work, actor=ACTOR)
    return validator


async def update_validator(db: Prisma, validator_id: str, changes: dict[str, Any]) -> Validator:
    async def work(unit: UnitOfWork) -> Validator:
        read = await unit.validators.get(validator_id)  # read in the same transaction, as the service does
        assert read is not None
        return await unit.validators.update(read, changes)

    updated: Validator = await Database(db).transaction(work, actor=ACTOR)
    return updated


async def test_a_validator_is_created_active_with_its_audit_entry(db: Prisma) -> None:
    garage, _ = await make_garage(db, spots=0)
    validator = await create_validator(db, garage, name="Bookshop", kind=ValidatorKind.AMOUNT_OFF, value=500)

    stored = await Database(db).validators.get(validator.id)
    assert stored == validator
    assert (stored.garageId, stored.name, stored.kind, stored.value, stored.active) == (
        garage.id, "Bookshop", "AMOUNT_OFF", 500, True)
    ((actor, action, before, after),) = await audit_entries(db, "Validator", validator.id)
    assert (actor, action, before) == (ACTOR, "CREATE", None)
    assert isinstance(after, dict) and after["name"] == "Bookshop" and after["value"] == 500 and after["active"] is True


async def test_an_unknown_validator_reads_as_none(db: Prisma) -> None:
    assert await Database(db).validators.get("no-such-validator") is None


async def test_an_update_changes_the_row_and_audits_before_and_after(db: Prisma) -> None:
    garage, _ = await make_garage(db, spots=0)
    validator = await create_validator(db, garage)

    updated = await update_validator(db, validator.id, {"name": "Cinema (evenings)", "value": 90, "active": False})

    assert (updated.name, updated.value, updated.active) == ("Cinema (evenings)", 90, False)
    assert updated.kind == "FREE_MINUTES"
    assert await Database(db).validators.get(validator.id) == updated
    (_, (actor, action, before, after)) = await audit_entries(db, "Validator", validator.id)
    assert (actor, action) == (ACTOR, "UPDATE")
    assert isinstance(before, dict) and isinstance(after, dict)
    assert (before["value"], before["active"]) == (120, True) and (after["value"], after["active"]) == (90, False)


async def test_a_garage_lists_its_own_validators_newest_first_in_pages(db: Prisma) -> None:
    garage, _ = await make_garage(db, spots=0)
    other, _ = await make_garage(db, spots=0)
    made = [await create_validator(db, garage, name=f"shop {n}") for n in range(3)]
    await create_validator(db, other, name="elsewhere")
    validators = Database(db).validators

    first = await validators.of_garage(garage.id, limit=2, cursor=None)
    assert first.next_after_id is not None
    rest = await validators.of_garage(garage.id, limit=2, cursor=first.next_after_id)
    assert rest.next_after_id is None
    assert [v.id for v in [*first.items, *rest.items]] == [v.id for v in reversed(made)]

    assert [v.id for v in await validators.all_of_garage(garage.id)] == [v.id for v in made]
    assert await validators.all_of_garage("no-such-garage") == []


async def test_writes_need_a_unit_of_work(db: Prisma) -> None:
    garage, _ = await make_garage(db, spots=0)
    validator = await create_validator(db, garage)
    validators = Database(db).validators
    with pytest.raises(WriteOutsideUnitOfWork):
        await validators.create(garage_id=garage.id, name="x", kind=ValidatorKind.FULL, value=0)
    with pytest.raises(WriteOutsideUnitOfWork):
        await validators.update(validator, {"name": "y"})
    assert await validators.get(validator.id) == validator
