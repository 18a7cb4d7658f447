"""ApiKeyRepository, the audit mechanism (entries recorded by the writes of a unit of work and
written with its change, or not at all), MigrationRepository and pagination."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from prisma import Prisma
from prisma.models import ApiKey, AuditLog

from garage.errors import UniqueViolation
from garage.repositories.audit import audit_view
from garage.repositories.base import WriteOutsideUnitOfWork
from garage.repositories.migrations import MigrationRepository
from garage.repositories.rows import now_ms
from garage.repositories.unit_of_work import Database, UnitOfWork
from garage.vocabulary import AuditAction, AuditEntity
from tests.repositories.builders import audit_entries

pytestmark = pytest.mark.asyncio(loop_scope="session")
ACTOR = "test"


class Abandoned(Exception):
    """What the tests' units of work raise to fail on purpose."""




async def test_api_key_create_find_revoke_list(db: Prisma) -> None:
    database = Database(db)
    keys = database.api_keys
    prefix = uuid.uuid4().hex[:12]

    async def create_two(unit: UnitOfWork) -> ApiKey:
        await unit.api_keys.create(name="other", role="viewer", prefix=uuid.uuid4().hex[:12], hash="h")
        return await unit.api_keys.create(name="gate", role="operator", prefix=prefix, hash="h")

    created = await database.transaction(create_two, actor=ACTOR)
    assert (await keys.by_prefix(prefix)) == created
    assert (await keys.by_id(created.id)) == created
    revoked = await database.transaction(lambda unit: unit.api_keys.revoke(created), actor=ACTOR)
    assert revoked is not None and revoked.revokedAt is not None
    first = await keys.list(limit=1, cursor=None)
    assert len(first.items) == 1 and first.next_after_id == first.items[0].id
    rest = await keys.list(limit=200, cursor=first.next_after_id)
    assert first.items[0].id not in [key.id for key in rest.items]
    assert rest.next_after_id is None
    # a key's hash is never shown by the audit log, even hashed
    created_view = created.model_dump(mode="json", exclude={"hash", "validator"})  # a relation is not a column
    assert audit_view(created, AuditEntity.API_KEY) == created_view
    assert await audit_entries(db, "ApiKey", created.id) == [
        (ACTOR, "CREATE", None, created_view),
        (ACTOR, "REVOKE", created_view, audit_view(revoked, AuditEntity.API_KEY)),
    ]


async def test_audit_entries_and_filtered_list(db: Prisma) -> None:
    database = Database(db)
    audit = database.audit
    entity_id = uuid.uuid4().hex

    async def record(action: AuditAction, before: dict[str, int] | None, after: dict[str, int]) -> None:
        async def work(unit: UnitOfWork) -> None:
            unit.record(action, AuditEntity.ENCRYPTION_KEY, entity_id, before=before, after=after)

        await database.transaction(work, actor="k1")

    await record(AuditAction.CREATE, None, {"a": 1})
    await record(AuditAction.UPDATE, {"a": 1}, {"a": 2})
    page = await audit.list(entity="EncryptionKey", entity_id=entity_id, since=None, until=None, limit=10,
                            cursor=None)
    assert [row.action for row in page.items] == ["UPDATE", "CREATE"]
    assert page.items[0].before == '{"a": 1}' and page.items[0].actor == "k1"
    now = datetime.now(timezone.utc)
    window = await audit.list(entity=None, entity_id=entity_id, since=now - timedelta(minutes=5),
                              until=now + timedelta(minutes=5), limit=1, cursor=None)
    assert len(window.items) == 1 and window.next_after_id is not None
    later = await audit.list(entity=None, entity_id=entity_id, since=now + timedelta(minutes=5), until=None,
                             limit=10, cursor=None)
    assert later.items == []


async def test_a_batch_and_a_transaction_write_the_same_rows(db: Prisma) -> None:
    database = Database(db)
    entity_id = uuid.uuid4().hex

    def record(unit: UnitOfWork) -> None:
        unit.record(AuditAction.CHECK_IN, AuditEntity.SESSION, entity_id, after={"status": "ACTIVE", "spot": None})
        unit.record(AuditAction.UPDATE, AuditEntity.SESSION, entity_id, before={"status": "ACTIVE"},
                    after={"status": "COMPLETED"})

    async with database.batch(actor="k2") as unit:
        record(unit)

    async def work(unit: UnitOfWork) -> None:
        record(unit)

    await database.transaction(work, actor="k2")
    page = await database.audit.list(entity="Session", entity_id=entity_id, since=None, until=None, limit=10,
                                     cursor=None)
    written = sorted(((row.actor, row.action, row.entity, row.entityId, row.before, row.after) for row in page.items),
                     key=lambda row: (row[1], row[4] or ""))
    checked_in = ("k2", "CHECK_IN", "Session", entity_id, None, '{"spot": null, "status": "ACTIVE"}')
    completed = ("k2", "UPDATE", "Session", entity_id, '{"status": "ACTIVE"}', '{"status": "COMPLETED"}')
    assert written == [checked_in, checked_in, completed, completed]


async def test_entries_are_written_with_the_change_at_the_end_of_the_unit(db: Prisma) -> None:
    database = Database(db)
    held: list[tuple[str, str]] = []
    stored: list[AuditLog] = []

    async def work(unit: UnitOfWork) -> ApiKey:
        key = await unit.api_keys.create(name="k", role="viewer", prefix=uuid.uuid4().hex[:12], hash="h")
        # recorded by the write, held by the unit: not in the database before the unit ends
        held.extend((entry.action, entry.entity_id) for entry in unit.entries)
        page = await unit.audit.list(entity="ApiKey", entity_id=key.id, since=None, until=None, limit=10, cursor=None)
        stored.extend(page.items)
        return key

    key = await database.transaction(work, actor=ACTOR)
    assert held == [(AuditAction.CREATE, key.id)]
    assert stored == []
    assert [row[:2] for row in await audit_entries(db, "ApiKey", key.id)] == [(ACTOR, "CREATE")]


async def test_a_write_outside_a_unit_of_work_is_refused(db: Prisma) -> None:
    database = Database(db)
    prefix = uuid.uuid4().hex[:12]
    with pytest.raises(WriteOutsideUnitOfWork):
        await database.api_keys.create(name="k", role="viewer", prefix=prefix, hash="h")
    assert await database.api_keys.by_prefix(prefix) is None  # refused before anything was written
    # queued writes need a batch unit: a transaction's unit has none
    plate = "W" + uuid.uuid4().hex[:9].upper()

    async def queue_in_a_transaction(unit: UnitOfWork) -> None:
        unit.vehicles.queue_create(license_plate=plate, type="CAR", now=now_ms())

    with pytest.raises(WriteOutsideUnitOfWork):
        await database.transaction(queue_in_a_transaction, actor=ACTOR)
    with pytest.raises(WriteOutsideUnitOfWork):
        database.vehicles.queue_create(license_plate=plate, type="CAR", now=now_ms())
    assert await database.vehicles.live_by_plate(plate) is None


async def test_a_unit_that_fails_writes_no_audit_row(db: Prisma) -> None:
    database = Database(db)
    created: list[str] = []

    async def abandoned(unit: UnitOfWork) -> None:
        key = await unit.api_keys.create(name="k", role="viewer", prefix=uuid.uuid4().hex[:12], hash="h")
        created.append(key.id)
        raise Abandoned

    with pytest.raises(Abandoned):
        await database.transaction(abandoned, actor=ACTOR)
    taken = await database.transaction(
        lambda unit: unit.api_keys.create(name="k", role="viewer", prefix=uuid.uuid4().hex[:12], hash="h"),
        actor=ACTOR,
    )

    async def refused(unit: UnitOfWork) -> None:
        key = await unit.api_keys.create(name="k", role="viewer", prefix=uuid.uuid4().hex[:12], hash="h")
        created.append(key.id)
        await unit.api_keys.create(name="k", role="viewer", prefix=taken.prefix, hash="h")  # the database refuses

    with pytest.raises(UniqueViolation):
        await database.transaction(refused, actor=ACTOR)
    for key_id in created:
        assert await database.api_keys.by_id(key_id) is None
        assert await audit_entries(db, "ApiKey", key_id) == []


async def test_applied_migrations_are_listed(db: Prisma) -> None:
    names = await MigrationRepository(db).applied_names()
    assert names and all("_" in name for name in names)
