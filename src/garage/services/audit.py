"""Reading the audit log (writes happen in each change's own transaction)."""

from __future__ import annotations

from datetime import datetime

from prisma import Prisma
from prisma.models import AuditLog

from garage.repositories.audit import AuditRepository
from garage.repositories.pagination import Page


class AuditService:
    def __init__(self, db: Prisma) -> None:
        self._db = db

    async def list(
        self,
        *,
        entity: str | None,
        entity_id: str | None,
        since: datetime | None,
        until: datetime | None,
        limit: int,
        cursor: str | None,
    ) -> Page[AuditLog]:
        return await AuditRepository(self._db).list(
            entity=entity, entity_id=entity_id, since=since, until=until, limit=limit, cursor=cursor
        )
