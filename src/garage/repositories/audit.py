"""The audit log: one row per modification, written in the transaction of the change.

Audit is a mechanism, not a habit: every repository write records its own entry in the unit of
work it runs in (repositories/base.py: `Repository._record`), and the unit of work writes them all
with its change, in the same transaction (repositories/unit_of_work.py). A write outside a unit of
work is refused, and tests/repositories/test_audited_writes.py fails for a repository write that
records nothing. What an entry shows of a record is `audit_view`: its columns, never its relations,
never a secret (vocabulary.AUDIT_OMITTED), encrypted fields only as set or not."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from prisma.client import Batch
from pydantic import BaseModel

from garage.db import insert_rows
from garage.repositories.base import Repository
from garage.repositories.pagination import Page, newest_first_window, page_of, time_range
from garage.repositories.records import AuditLog
from garage.repositories.rows import relations_of
from garage.vocabulary import AUDIT_OMITTED, SENSITIVE_FIELDS, AuditAction, AuditEntity

if TYPE_CHECKING:
    from prisma import Prisma

# Audit entities named otherwise than their model.
_MODEL_OF = {AuditEntity.SESSION: "ParkingSession"}
AuditValue = BaseModel | Mapping[str, Any] | None


@dataclass(frozen=True)
class AuditEntry:
    action: AuditAction
    entity: AuditEntity
    entity_id: str
    before: Any = None
    after: Any = None


def audit_view(record: BaseModel, entity: AuditEntity) -> dict[str, Any]:
    """What the audit log keeps of `record`: its columns without relations and omitted fields,
    encrypted ones as "(set)" or null, never their values."""
    model = _MODEL_OF.get(entity, str(entity))
    hidden = set(relations_of(model)) | AUDIT_OMITTED.get(model, frozenset())
    view = record.model_dump(mode="json", exclude=hidden)
    for name in SENSITIVE_FIELDS.get(model, {}).keys() - hidden:  # an omitted one stays out entirely
        view[name] = "(set)" if view.get(name) is not None else None
    return view


def entry_of(
    action: AuditAction, entity: AuditEntity, entity_id: str, *, before: AuditValue = None, after: AuditValue = None
) -> AuditEntry:
    """An entry whose records are shown as `audit_view` shows them (mappings as they are)."""

    def shown(value: AuditValue) -> Any:
        return audit_view(value, entity) if isinstance(value, BaseModel) else value

    return AuditEntry(action, entity, entity_id, before=shown(before), after=shown(after))


def audit_rows(actor: str, entries: Sequence[AuditEntry]) -> list[dict[str, Any]]:
    return [
        {
            "actor": actor,
            "action": str(entry.action),
            "entity": str(entry.entity),
            "entityId": entry.entity_id,
            "before": _as_json(entry.before),
            "after": _as_json(entry.after),
        }
        for entry in entries
    ]


async def write_entries(db: Prisma, actor: str, entries: Sequence[AuditEntry]) -> None:
    """The unit of work's entries, as ONE statement in its transaction."""
    await insert_rows(db, "AuditLog", audit_rows(actor, entries))


def queue_entries(batch: Batch, actor: str, entries: Sequence[AuditEntry]) -> None:
    """The unit of work's entries as ONE more write of its batch (one createMany)."""
    batch.auditlog.create_many(data=audit_rows(actor, entries))  # type: ignore[arg-type]


class AuditRepository(Repository):
    """Reading the audit log (its rows are written by units of work)."""

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
        rows = await self._db.auditlog.find_many(**newest_first_window("createdAt", where, limit, cursor))
        return page_of(rows, limit, key="createdAt")


def _as_json(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, default=str, sort_keys=True)
