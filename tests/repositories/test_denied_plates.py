"""DeniedPlateRepository: put (list a plate, replace its reason, or leave an unchanged one alone)
and delete, each in a unit of work with its audit entry (entity id "<garageId>/<plate>"); the
lookup check-in uses; a garage's list in plate order, paged. No events: the contract has none."""

from __future__ import annotations

import pytest
from prisma import Prisma

from garage.repositories.audit import audit_view
from garage.repositories.base import WriteOutsideUnitOfWork
from garage.repositories.denied_plates import audit_id
from garage.repositories.records import DeniedPlate, Garage
from garage.repositories.unit_of_work import Database, UnitOfWork
from garage.vocabulary import AuditEntity
from tests.repositories.builders import ACTOR, audit_entries, make_garage, new_plate

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def put(db: Prisma, garage: Garage, plate: str, reason: str) -> DeniedPlate:
    denied: DeniedPlate = await Database(db).transaction(
        lambda unit: unit.denied_plates.put(garage.id, plate, reason), actor=ACTOR
    )
    return denied


async def delete(db: Prisma, garage: Garage, plate: str) -> None:
    async def work(unit: UnitOfWork) -> None:
        denied = await unit.denied_plates.get(garage.id, plate)  # read in the same transaction, as the service does
        assert denied is not None
        await unit.denied_plates.delete(denied)

    await Database(db).transaction(work, actor=ACTOR)


async def test_put_lists_replaces_and_leaves_an_unchanged_reason_alone(db: Prisma) -> None:
    garage, _ = await make_garage(db, spots=0)
    plate = new_plate("D")
    created = await put(db, garage, plate, "unpaid fees")
    assert (created.garageId, created.licensePlate, created.reason) == (garage.id, plate, "unpaid fees")
    assert await Database(db).denied_plates.get(garage.id, plate) == created
    replaced = await put(db, garage, plate, "damaged the barrier")
    assert replaced.reason == "damaged the barrier" and replaced.createdAt == created.createdAt
    same = await put(db, garage, plate, "damaged the barrier")
    assert same == replaced
    assert await audit_entries(db, "DeniedPlate", audit_id(garage.id, plate)) == [
        (ACTOR, "CREATE", None, audit_view(created, AuditEntity.DENIED_PLATE)),
        (
            ACTOR,
            "UPDATE",
            audit_view(created, AuditEntity.DENIED_PLATE),
            audit_view(replaced, AuditEntity.DENIED_PLATE),
        ),
    ]
    events = await Database(db).events.after(0, garage_id=garage.id, types=None, limit=100)
    assert events.items == []


async def test_delete_removes_the_row_and_the_audit_keeps_it(db: Prisma) -> None:
    garage, _ = await make_garage(db, spots=0)
    plate = new_plate("D")
    denied = await put(db, garage, plate, "stolen")
    await delete(db, garage, plate)
    assert await Database(db).denied_plates.get(garage.id, plate) is None
    entries = await audit_entries(db, "DeniedPlate", audit_id(garage.id, plate))
    assert entries[-1] == (ACTOR, "DELETE", audit_view(denied, AuditEntity.DENIED_PLATE), None)
    again = await put(db, garage, plate, "stolen again")  # listed anew after its removal
    assert again.reason == "stolen again"


async def test_a_plate_is_denied_per_garage(db: Prisma) -> None:
    garage, _ = await make_garage(db, spots=0)
    other, _ = await make_garage(db, spots=0)
    plate = new_plate("G")
    await put(db, garage, plate, "here only")
    assert await Database(db).denied_plates.get(other.id, plate) is None
    assert await Database(db).denied_plates.get(garage.id, new_plate("G")) is None


async def test_writes_outside_a_unit_of_work_are_refused(db: Prisma) -> None:
    garage, _ = await make_garage(db, spots=0)
    plates = Database(db).denied_plates
    with pytest.raises(WriteOutsideUnitOfWork):
        await plates.put(garage.id, new_plate("W"), "nope")
    denied = await put(db, garage, new_plate("W"), "listed")
    with pytest.raises(WriteOutsideUnitOfWork):
        await plates.put(garage.id, denied.licensePlate, "another reason")
    with pytest.raises(WriteOutsideUnitOfWork):
        await plates.delete(denied)
    assert await plates.get(garage.id, denied.licensePlate) == denied


async def test_the_garage_s_list_is_in_plate_order_and_paged(db: Prisma) -> None:
    garage, _ = await make_garage(db, spots=0)
    other, _ = await make_garage(db, spots=0)
    plates = [new_plate("L") for _ in range(5)]
    for plate in plates:
        await put(db, garage, plate, f"reason {plate}")
    await put(db, other, new_plate("L"), "another garage's")
    seen: list[str] = []
    after = None
    while True:
        page = await Database(db).denied_plates.of_garage(garage.id, limit=2, after_plate=after)
        assert len(page.items) <= 2
        seen += [row.licensePlate for row in page.items]
        if page.next_after is None:
            break
        after = page.next_after
    assert seen == sorted(plates)
    whole = await Database(db).denied_plates.of_garage(garage.id, limit=5, after_plate=None)
    assert [row.licensePlate for row in whole.items] == sorted(plates) and whole.next_after is None
