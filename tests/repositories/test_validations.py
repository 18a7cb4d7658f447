"""Validations (repositories/validations.py, API-operations.md "Merchant validations", "Reports"): a
validation copies its validator's kind and value, is audited (VALIDATE) and emits
validation.created in the session's garage, all with the change; a session has at most one
(the unique sessionId refuses a second whatever was read before); the report's totals count the
validated check-outs of a window by payment time, refunded ones included, and sum their discounts."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from prisma import Prisma

from garage.errors import UniqueViolation
from garage.repositories.base import WriteOutsideUnitOfWork
from garage.repositories.events import event_view
from garage.repositories.records import ParkingSession, Payment, Validation, Validator
from garage.repositories.rows import now_ms
from garage.repositories.unit_of_work import Database, UnitOfWork
from garage.repositories.validations import ValidatorTotals
from garage.vocabulary import EventType, ValidatorKind
from tests.repositories.builders import ACTOR, T0, audit_entries, make_garage, start_session
from tests.repositories.test_validators import create_validator, update_validator

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def validate(db: Prisma, session: ParkingSession, validator: Validator) -> Validation:
    async def work(unit: UnitOfWork) -> Validation:
        return await unit.validations.create(session, validator)

    validation: Validation = await Database(db).transaction(work, actor=ACTOR)
    return validation


async def pay(db: Prisma, session: ParkingSession, *, at: datetime, discount_cents: int) -> Payment:
    """The session's payment at `at` (its check-out time) with what its validation took off."""
    async with Database(db).batch(actor=ACTOR) as unit:
        payment = unit.payments.queue_create(
            session_id=session.id, garage_id=session.garageId, amount_cents=100, currency="EUR", method="CARD",
            reference=None, discount_cents=discount_cents, created_at=at, now=now_ms(),
        )
    return payment


async def refund(db: Prisma, payment: Payment) -> None:
    async def work(unit: UnitOfWork) -> None:
        assert await unit.payments.refund(payment) is not None

    await Database(db).transaction(work, actor=ACTOR)


async def test_a_validation_copies_the_validator_and_is_audited_and_announced_with_it(db: Prisma) -> None:
    garage, spots = await make_garage(db, spots=1)
    session = await start_session(db, spots[0])
    validator = await create_validator(db, garage, kind=ValidatorKind.PERCENT_OFF, value=25)
    database = Database(db)
    mark = await database.events.newest_seq()

    validation = await validate(db, session, validator)

    assert (validation.sessionId, validation.validatorId, validation.kind, validation.value) == (
        session.id, validator.id, "PERCENT_OFF", 25)
    assert await database.validations.of_session(session.id) == validation
    ((actor, action, before, after),) = await audit_entries(db, "Validation", validation.id)
    assert (actor, action, before) == (ACTOR, "VALIDATE", None)
    assert after == json.loads(validation.model_dump_json(exclude={"session", "validator"}))
    page = await database.events.after(mark, garage_id=garage.id, types=None, limit=10)
    (event,) = page.items
    assert (event.type, event.garageId) == (EventType.VALIDATION_CREATED, garage.id)
    assert json.loads(event.data) == {"validation": event_view(validation)}
    assert set(json.loads(event.data)["validation"]) == {"id", "sessionId", "validatorId", "kind", "value", "createdAt"}


async def test_the_validators_later_changes_do_not_change_a_validation(db: Prisma) -> None:
    garage, spots = await make_garage(db, spots=1)
    session = await start_session(db, spots[0])
    validator = await create_validator(db, garage, value=60)
    validation = await validate(db, session, validator)

    await update_validator(db, validator.id, {"value": 30})

    assert await Database(db).validations.of_session(session.id) == validation


async def test_a_second_validation_of_a_session_is_refused_and_writes_nothing(db: Prisma) -> None:
    garage, spots = await make_garage(db, spots=1)
    session = await start_session(db, spots[0])
    first, second = await create_validator(db, garage, name="first"), await create_validator(db, garage, name="second")
    kept = await validate(db, session, first)
    mark = await Database(db).events.newest_seq()

    with pytest.raises(UniqueViolation) as refused:
        await validate(db, session, second)

    assert refused.value.involves("sessionId")
    assert await Database(db).validations.of_session(session.id) == kept
    assert (await Database(db).events.after(mark, garage_id=garage.id, types=None, limit=10)).items == []


async def test_a_session_without_a_validation_has_none(db: Prisma) -> None:
    _, spots = await make_garage(db, spots=1)
    session = await start_session(db, spots[0])
    assert await Database(db).validations.of_session(session.id) is None


async def test_writes_need_a_unit_of_work(db: Prisma) -> None:
    garage, spots = await make_garage(db, spots=1)
    session = await start_session(db, spots[0])
    validator = await create_validator(db, garage)
    with pytest.raises(WriteOutsideUnitOfWork):
        await Database(db).validations.create(session, validator)
    assert await Database(db).validations.of_session(session.id) is None


async def test_totals_count_validated_check_outs_in_the_window_and_sum_their_discounts(db: Prisma) -> None:
    garage, spots = await make_garage(db, spots=6)
    other, other_spots = await make_garage(db, spots=1)
    cinema, shop, idle = [await create_validator(db, garage, name=name) for name in ("cinema", "shop", "idle")]
    elsewhere = await create_validator(db, other, name="elsewhere")
    since, until = T0, T0 + timedelta(days=1)
    sessions = [await start_session(db, spot, start=T0 - timedelta(hours=2)) for spot in spots]
    # in the window: two of the cinema's (one refunded: it still counts), one of the shop's
    for session, validator in ((sessions[0], cinema), (sessions[1], cinema), (sessions[2], shop)):
        await validate(db, session, validator)
    await pay(db, sessions[0], at=since, discount_cents=300)
    await refund(db, await pay(db, sessions[1], at=until - timedelta(milliseconds=1), discount_cents=45))
    await pay(db, sessions[2], at=T0 + timedelta(hours=3), discount_cents=0)
    # outside it: checked out at `until` (exclusive), before `since`; a check-out without a validation
    await validate(db, sessions[3], shop)
    await pay(db, sessions[3], at=until, discount_cents=999)
    await validate(db, sessions[4], shop)
    await pay(db, sessions[4], at=since - timedelta(milliseconds=1), discount_cents=999)
    await pay(db, sessions[5], at=T0 + timedelta(hours=1), discount_cents=0)
    # another garage's, in the window
    elsewhere_session = await start_session(db, other_spots[0], start=T0)
    await validate(db, elsewhere_session, elsewhere)
    await pay(db, elsewhere_session, at=T0 + timedelta(hours=1), discount_cents=7)

    totals = await Database(db).validations.totals_by_validator(garage.id, since, until)

    assert dict(totals) == {
        cinema.id: ValidatorTotals(count=2, discount_cents=345),
        shop.id: ValidatorTotals(count=1, discount_cents=0),
    }
    assert idle.id not in totals
    assert await Database(db).validations.totals_by_validator(garage.id, until, until + timedelta(days=1)) == {
        shop.id: ValidatorTotals(count=1, discount_cents=999)
    }
