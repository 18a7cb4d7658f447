"""ApiKeyRepository, AuditRepository, MigrationRepository and pagination."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from prisma import Prisma

from garage.repositories.api_keys import ApiKeyRepository
from garage.repositories.audit import AuditEntry, AuditRepository
from garage.repositories.migrations import MigrationRepository

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_api_key_create_find_revoke_list(db: Prisma) -> None:
    keys = ApiKeyRepository(db)
    prefix = uuid.uuid4().hex[:12]
    await keys.create(name="other", role="viewer", prefix=uuid.uuid4().hex[:12], hash="h")
    created = await keys.create(name="gate", role="operator", prefix=prefix, hash="h")
    assert (await keys.by_prefix(prefix)) == created
    assert (await keys.by_id(created.id)) == created
    revoked = await keys.revoke(created.id)
    assert revoked is not None and revoked.revokedAt is not None
    first = await keys.list(limit=1, cursor=None)
    assert len(first.items) == 1 and first.next_after_id == first.items[0].id
    rest = await keys.list(limit=200, cursor=first.next_after_id)
    assert first.items[0].id not in [key.id for key in rest.items]
    assert rest.next_after_id is None


async def test_audit_record_and_filtered_list(db: Prisma) -> None:
    audit = AuditRepository(db)
    entity_id = uuid.uuid4().hex
    await audit.record(actor="k1", action="CREATE", entity="Thing", entity_id=entity_id, after={"a": 1})
    await audit.record(actor="k1", action="UPDATE", entity="Thing", entity_id=entity_id, before={"a": 1}, after={"a": 2})
    page = await audit.list(entity="Thing", entity_id=entity_id, since=None, until=None, limit=10, cursor=None)
    assert [row.action for row in page.items] == ["UPDATE", "CREATE"]
    assert page.items[0].before == '{"a": 1}'
    now = datetime.now(timezone.utc)
    window = await audit.list(entity=None, entity_id=entity_id, since=now - timedelta(minutes=5),
                              until=now + timedelta(minutes=5), limit=1, cursor=None)
    assert len(window.items) == 1 and window.next_after_id is not None
    later = await audit.list(entity=None, entity_id=entity_id, since=now + timedelta(minutes=5), until=None,
                             limit=10, cursor=None)
    assert later.items == []


async def test_queue_records_writes_the_rows_record_would(db: Prisma) -> None:
    entity_id = uuid.uuid4().hex
    async with db.batch_() as batch:
        AuditRepository.queue_records(batch, actor="k2", entries=[
            AuditEntry("CHECK_IN", "Session", entity_id, after={"status": "ACTIVE", "spot": None}),
            AuditEntry("UPDATE", "Session", entity_id, before={"status": "ACTIVE"}, after={"status": "COMPLETED"}),
        ])
    await AuditRepository(db).record(actor="k2", action="UPDATE", entity="Session", entity_id=entity_id,
                                     before={"status": "ACTIVE"}, after={"status": "COMPLETED"})
    page = await AuditRepository(db).list(entity="Session", entity_id=entity_id, since=None, until=None, limit=10,
                                          cursor=None)
    written = sorted(((row.actor, row.action, row.entity, row.entityId, row.before, row.after) for row in page.items),
                     key=lambda row: (row[1], row[4] or ""))
    assert written == [
        ("k2", "CHECK_IN", "Session", entity_id, None, '{"spot": null, "status": "ACTIVE"}'),
        # the batched row and the one `record` wrote are the same
        ("k2", "UPDATE", "Session", entity_id, '{"status": "ACTIVE"}', '{"status": "COMPLETED"}'),
        ("k2", "UPDATE", "Session", entity_id, '{"status": "ACTIVE"}', '{"status": "COMPLETED"}'),
    ]


async def test_applied_migrations_are_listed(db: Prisma) -> None:
    names = await MigrationRepository(db).applied_names()
    assert names and all("_" in name for name in names)
