"""PermitRepository (and SessionRepository.set_permit, which keeps a session's permitId true):
writes in units of work with their audit entries (holder fields only as set or not) and a
permit.changed event without holder fields; the coverage and overlap reads on half-open
validity; the garage's list, newest validFrom first, filtered and paged; key rotation's walk.
PermitService's encryption at rest is checked here too, against the raw row."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from prisma import Prisma

from garage.repositories.audit import audit_view
from garage.repositories.base import WriteOutsideUnitOfWork
from garage.repositories.records import Garage, Permit
from garage.repositories.unit_of_work import Database, UnitOfWork
from garage.security.crypto import DecryptionFailed, FieldCipher
from garage.services.permits import PermitService
from garage.vocabulary import AuditEntity, EventType, PermitStatus
from tests.repositories.builders import ACTOR, T0, audit_entries, make_garage, new_plate, start_session

pytestmark = pytest.mark.asyncio(loop_scope="session")
DAY = timedelta(days=1)
SEALED = "v1:k:sealed-holder"  # stands for a ciphertext: the repository stores what it is given


async def create(
    db: Prisma,
    garage: Garage,
    plate: str,
    valid_from: datetime = T0,
    valid_to: datetime = T0 + 30 * DAY,
    **holder: str | None,
) -> Permit:
    async def work(unit: UnitOfWork) -> Permit:
        return await unit.permits.create(
            garage_id=garage.id,
            license_plate=plate,
            holder_name=holder.get("holder_name"),
            holder_email=holder.get("holder_email"),
            valid_from=valid_from,
            valid_to=valid_to,
        )

    permit: Permit = await Database(db).transaction(work, actor=ACTOR)
    return permit


async def update(db: Prisma, permit: Permit, changes: dict[str, Any]) -> Permit:
    async def work(unit: UnitOfWork) -> Permit:
        before = await unit.permits.get(permit.id)  # read in the same transaction, as the service does
        assert before is not None
        return await unit.permits.update(before, changes)

    updated: Permit = await Database(db).transaction(work, actor=ACTOR)
    return updated


async def permit_events(db: Prisma, garage: Garage) -> list[dict[str, Any]]:
    """The permit.changed events of `garage` (a new one per test: only this test's), oldest first."""
    page = await Database(db).events.after(0, garage_id=garage.id, types=[EventType.PERMIT_CHANGED], limit=1000)
    return [json.loads(event.data) for event in page.items]


async def test_create_records_its_audit_and_an_event_without_holder_fields(db: Prisma) -> None:
    garage, _ = await make_garage(db, spots=0)
    plate = new_plate("P")
    permit = await create(db, garage, plate, holder_email=SEALED)
    assert (permit.licensePlate, permit.status, permit.holderEmail, permit.holderName) == (
        plate,
        PermitStatus.ACTIVE,
        SEALED,
        None,
    )
    assert (permit.validFrom, permit.validTo) == (T0, T0 + 30 * DAY)
    (entry,) = await audit_entries(db, "Permit", permit.id)
    assert entry == (ACTOR, "CREATE", None, audit_view(permit, AuditEntity.PERMIT))
    assert isinstance(entry[3], dict) and (entry[3]["holderEmail"], entry[3]["holderName"]) == ("(set)", None)
    assert SEALED not in json.dumps(entry)
    (event,) = await permit_events(db, garage)
    shown = event["permit"]
    assert set(shown) == {"id", "garageId", "licensePlate", "validFrom", "validTo", "status", "createdAt", "updatedAt"}
    assert (shown["id"], shown["validFrom"], shown["status"]) == (permit.id, "2026-03-01T08:00:00.000Z", "ACTIVE")
    assert await Database(db).permits.get(permit.id) == permit
    assert await Database(db).permits.get("nope") is None


async def test_update_records_before_and_after_and_an_event(db: Prisma) -> None:
    garage, _ = await make_garage(db, spots=0)
    permit = await create(db, garage, new_plate("P"), holder_name=SEALED)
    cancelled = await update(db, permit, {"status": PermitStatus.CANCELLED, "holderName": None})
    assert (cancelled.status, cancelled.holderName, cancelled.validTo) == ("CANCELLED", None, permit.validTo)
    entries = await audit_entries(db, "Permit", permit.id)
    assert [entry[1] for entry in entries] == ["CREATE", "UPDATE"]
    assert entries[1][2] == audit_view(permit, AuditEntity.PERMIT)
    assert entries[1][3] == audit_view(cancelled, AuditEntity.PERMIT)
    assert isinstance(entries[1][2], dict) and entries[1][2]["holderName"] == "(set)"
    events = await permit_events(db, garage)
    assert [event["permit"]["status"] for event in events] == ["ACTIVE", "CANCELLED"]
    assert all("holderName" not in event["permit"] for event in events)


async def test_writes_outside_a_unit_of_work_are_refused(db: Prisma) -> None:
    garage, _ = await make_garage(db, spots=0)
    permits = Database(db).permits
    with pytest.raises(WriteOutsideUnitOfWork):
        await permits.create(
            garage_id=garage.id,
            license_plate=new_plate("P"),
            holder_name=None,
            holder_email=None,
            valid_from=T0,
            valid_to=T0 + DAY,
        )
    permit = await create(db, garage, new_plate("P"))
    with pytest.raises(WriteOutsideUnitOfWork):
        await permits.update(permit, {"status": PermitStatus.CANCELLED})
    with pytest.raises(WriteOutsideUnitOfWork):
        await permits.set_holder_fields(permit.id, name=None, email=None)
    assert await permits.get(permit.id) == permit


async def test_covering_is_half_open_active_and_of_the_garage_and_plate(db: Prisma) -> None:
    garage, _ = await make_garage(db, spots=0)
    other_garage, _ = await make_garage(db, spots=0)
    plate = new_plate("C")
    permit = await create(db, garage, plate, T0, T0 + 10 * DAY)
    await create(db, other_garage, plate, T0 - 100 * DAY, T0 - 90 * DAY)
    covering = Database(db).permits.covering
    assert await covering(garage.id, plate, T0) == permit
    assert await covering(garage.id, plate, T0 + 10 * DAY - timedelta(milliseconds=1)) == permit
    assert await covering(garage.id, plate, T0 + 10 * DAY) is None
    assert await covering(garage.id, plate, T0 - timedelta(milliseconds=1)) is None
    assert await covering(garage.id, new_plate("C"), T0) is None
    assert await covering(other_garage.id, plate, T0) is None
    await update(db, permit, {"status": PermitStatus.CANCELLED})
    assert await covering(garage.id, plate, T0) is None


async def test_covering_prefers_the_latest_validfrom_should_active_permits_overlap(db: Prisma) -> None:
    """The service never lets them overlap; the read still answers one way if rows ever do."""
    garage, _ = await make_garage(db, spots=0)
    plate = new_plate("O")
    await create(db, garage, plate, T0, T0 + 10 * DAY)
    later = await create(db, garage, plate, T0 + DAY, T0 + 5 * DAY)
    assert await Database(db).permits.covering(garage.id, plate, T0 + 2 * DAY) == later


async def test_overlapping_treats_validity_as_half_open(db: Prisma) -> None:
    garage, _ = await make_garage(db, spots=0)
    plate = new_plate("H")
    permit = await create(db, garage, plate, T0, T0 + 10 * DAY)
    overlapping = Database(db).permits.overlapping
    # back to back, either side: no overlap
    assert await overlapping(garage.id, plate, T0 + 10 * DAY, T0 + 20 * DAY, besides=None) is None
    assert await overlapping(garage.id, plate, T0 - 10 * DAY, T0, besides=None) is None
    for start, end in (
        (T0 + 9 * DAY, T0 + 20 * DAY),
        (T0 - DAY, T0 + timedelta(milliseconds=1)),
        (T0 + DAY, T0 + 2 * DAY),
        (T0 - DAY, T0 + 11 * DAY),
    ):
        assert await overlapping(garage.id, plate, start, end, besides=None) == permit, (start, end)
    assert await overlapping(garage.id, plate, T0, T0 + 30 * DAY, besides=permit.id) is None  # itself
    assert await overlapping(garage.id, new_plate("H"), T0, T0 + DAY, besides=None) is None
    await update(db, permit, {"status": PermitStatus.CANCELLED})
    assert await overlapping(garage.id, plate, T0, T0 + DAY, besides=None) is None


async def test_the_garage_s_list_is_newest_validfrom_first_filtered_and_paged(db: Prisma) -> None:
    garage, _ = await make_garage(db, spots=0)
    plate, other = new_plate("L"), new_plate("M")
    first = await create(db, garage, plate, T0, T0 + 10 * DAY)
    second = await create(db, garage, plate, T0 + 10 * DAY, T0 + 20 * DAY)
    twins = [await create(db, garage, other, T0 + 10 * DAY, T0 + 11 * DAY) for _ in range(2)]
    cancelled = await update(
        db, await create(db, garage, other, T0 + 30 * DAY, T0 + 31 * DAY), {"status": PermitStatus.CANCELLED}
    )
    permits = Database(db).permits

    async def ids(**filters: Any) -> list[str]:
        seen: list[str] = []
        cursor = None
        while True:
            page = await permits.of_garage(
                garage.id,
                **{"license_plate": None, "status": None, "active_at": None, **filters},
                limit=2,
                cursor=cursor,
            )
            seen += [permit.id for permit in page.items]
            if page.next_after_id is None:
                return seen
            cursor = page.next_after_id

    # newest validFrom first; the three starting at T0 + 10 days by id, descending (the tie-break)
    starting_together = sorted([second.id, *(permit.id for permit in twins)], reverse=True)
    assert await ids() == [cancelled.id, *starting_together, first.id]
    assert await ids(license_plate=plate) == [second.id, first.id]
    assert await ids(status=PermitStatus.CANCELLED) == [cancelled.id]
    assert await ids(active_at=T0 + 10 * DAY) == starting_together
    assert await ids(active_at=T0 + 30 * DAY) == []  # only a CANCELLED one is valid then
    assert await ids(active_at=T0 + 5 * DAY, license_plate=plate) == [first.id]
    assert await ids(active_at=T0 + 5 * DAY, status=PermitStatus.CANCELLED) == []
    other_garage, _ = await make_garage(db, spots=0)
    assert (
        await permits.of_garage(other_garage.id, license_plate=None, status=None, active_at=None, limit=5, cursor=None)
    ).items == []


async def test_key_rotation_walks_permits_holding_holder_fields_and_rewrites_them(db: Prisma) -> None:
    garage, _ = await make_garage(db, spots=0)
    holding = [
        await create(db, garage, new_plate("K"), holder_name=SEALED),
        await create(db, garage, new_plate("K"), holder_email=SEALED),
    ]
    bare = await create(db, garage, new_plate("K"))
    permits = Database(db).permits
    seen: list[str] = []
    after = None
    while batch := await permits.with_holder_fields(after_id=after, limit=2):
        seen += [row.id for row in batch]
        after = batch[-1].id
    assert seen == sorted(seen)
    assert {row.id for row in holding} <= set(seen) and bare.id not in seen
    assert await permits.count_with_holder_fields() == len(seen)
    await Database(db).transaction(
        lambda unit: unit.permits.set_holder_fields(holding[0].id, name="v1:k:new", email="v1:k:mail"), actor=ACTOR
    )
    changed = await permits.get(holding[0].id)
    assert changed is not None and (changed.holderName, changed.holderEmail) == ("v1:k:new", "v1:k:mail")
    assert len(await audit_entries(db, "Permit", holding[0].id)) == 1  # its CREATE only: the job's entry covers it
    assert len(await permit_events(db, garage)) == 3  # one per create: a rotation changes nothing anyone sees


async def test_set_permit_links_and_unlinks_a_session_with_its_audit(db: Prisma) -> None:
    garage, spots = await make_garage(db, spots=1)
    session = await start_session(db, spots[0], start=T0)
    permit = await create(db, garage, session.licensePlate, T0 - DAY, T0 + DAY)
    sessions = Database(db).sessions

    async def set_permit(permit_id: str | None) -> None:
        async def work(unit: UnitOfWork) -> None:
            current = await unit.sessions.get(session.id)
            assert current is not None
            await unit.sessions.set_permit(current, permit_id)

        await Database(db).transaction(work, actor=ACTOR)

    await set_permit(permit.id)
    linked = await sessions.get(session.id)
    assert linked is not None and linked.permitId == permit.id
    await set_permit(None)
    unlinked = await sessions.get(session.id)
    assert unlinked is not None and unlinked.permitId is None
    updates = [entry for entry in await audit_entries(db, "Session", session.id) if entry[1] == "UPDATE"]
    assert [(entry[2]["permitId"], entry[3]["permitId"]) for entry in updates] == [  # type: ignore[index]
        (None, permit.id),
        (permit.id, None),
    ]
    with pytest.raises(WriteOutsideUnitOfWork):
        await sessions.set_permit(unlinked, permit.id)


async def test_the_service_keeps_holder_fields_encrypted_at_rest(db: Prisma, cipher: FieldCipher) -> None:
    garage, _ = await make_garage(db, spots=0)
    service = PermitService(Database(db), cipher)
    email = f"holder-{uuid.uuid4().hex[:8]}@example.com"
    permit = await service.create(
        garage.id,
        license_plate=new_plate("E"),
        holder={"holderName": "Ada Lovelace", "holderEmail": email},
        valid_from=T0,
        valid_to=T0 + DAY,
        actor=ACTOR,
    )
    assert (permit.holderName, permit.holderEmail) == ("Ada Lovelace", email)
    stored = await Database(db).permits.get(permit.id)
    assert stored is not None and stored.holderEmail is not None and stored.holderName is not None
    assert email not in stored.holderEmail and "Ada" not in stored.holderName
    assert cipher.decrypt(stored.holderEmail, "Permit.holderEmail") == email
    # sealed for its own column: the name's ciphertext does not open as the e-mail
    with pytest.raises(DecryptionFailed):
        cipher.decrypt(stored.holderName, "Permit.holderEmail")
    assert (await service.get(permit.id)).holderEmail == email
