"""Reading the audit log (its rows are written by each change's unit of work)."""

from __future__ import annotations

from datetime import datetime

from garage.repositories.pagination import Page
from garage.repositories.records import AuditLog
from garage.repositories.unit_of_work import Database


class AuditService:
    def __init__(self, db: Database) -> None:
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
        return await self._db.audit.list(
            entity=entity, entity_id=entity_id, since=since, until=until, limit=limit, cursor=cursor
        )
