"""The audit log: one row per modification, written in the transaction of the change."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prisma import Prisma
from prisma.client import Batch
from prisma.models import AuditLog

from garage.db import insert_rows
from garage.repositories.pagination import Page, page_of, page_window, time_range


@dataclass(frozen=True)
class AuditEntry:
    action: str
    entity: str
    entity_id: str
    before: Any = None
    after: Any = None


class AuditRepository:
    def __init__(self, db: Prisma) -> None:
        self._db = db

    async def record(
        self, *, actor: str, action: str, entity: str, entity_id: str, before: Any = None, after: Any = None
    ) -> None:
        await self._db.auditlog.create(
            data={
                "actor": actor,
                "action": action,
                "entity": entity,
                "entityId": entity_id,
                "before": _as_json(before),
                "after": _as_json(after),
            }
        )

    @staticmethod
    def queue_records(batch: Batch, *, actor: str, entries: Sequence[AuditEntry]) -> None:
        """`record` for each entry, as ONE more write of `batch` (the changes they describe are in
        the same batch): one createMany, not a statement per row."""
        batch.auditlog.create_many(
            data=[
                {
                    "actor": actor,
                    "action": entry.action,
                    "entity": entry.entity,
                    "entityId": entry.entity_id,
                    "before": _as_json(entry.before),
                    "after": _as_json(entry.after),
                }
                for entry in entries
            ]
        )

    async def record_creations(self, *, actor: str, entity: str, created: Sequence[tuple[str, Any]]) -> int:
        """Bulk writes: one CREATE row per (entity id, after) pair, in ONE statement."""
        return await insert_rows(
            self._db,
            "AuditLog",
            [
                {"actor": actor, "action": "CREATE", "entity": entity, "entityId": entity_id, "after": _as_json(after)}
                for entity_id, after in created
            ],
        )

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
        where: dict[str, Any] = {}
        if entity is not None:
            where["entity"] = entity
        if entity_id is not None:
            where["entityId"] = entity_id
        if (window := time_range(since, until)) is not None:
            where["createdAt"] = window
        rows = await self._db.auditlog.find_many(
            where=where,  # type: ignore[arg-type]
            order=[{"createdAt": "desc"}, {"id": "desc"}],
            **page_window(limit, cursor),
        )
        return page_of(rows, limit)


def _as_json(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, default=str, sort_keys=True)
