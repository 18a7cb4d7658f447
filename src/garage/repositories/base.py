"""What every repository is: the client (the service's, or one transaction's) and, for writes,
the unit of work they belong to (repositories/unit_of_work.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from prisma import Prisma
from prisma.client import Batch

from garage.errors import GarageException

if TYPE_CHECKING:
    from garage.repositories.audit import AuditValue
    from garage.repositories.unit_of_work import UnitOfWork
    from garage.vocabulary import AuditAction, AuditEntity, EventType


class WriteOutsideUnitOfWork(GarageException):
    """A repository write was called on a repository that reads only: a bug. Writes run in a unit
    of work, which records their audit entries with them."""


class Repository:
    """Reads use `self._db`. Writes use `self._writing()` (or `self._batch()` for queued writes),
    which refuse before anything is written unless the repository belongs to a unit of work, and
    record their audit entry with `self._record` (or say the job's entry covers them,
    `self._covered_by_job`). tests/repositories/test_audited_writes.py checks every repository
    write does both, so a write can neither forget its audit nor run outside a unit of work."""

    def __init__(self, db: Prisma, work: UnitOfWork | None = None) -> None:
        self._db = db
        self._work = work

    def _unit(self) -> UnitOfWork:
        if self._work is None:
            raise WriteOutsideUnitOfWork(f"{type(self).__name__}: writes run in a unit of work (Database.transaction)")
        return self._work

    def _writing(self) -> Prisma:
        """The client to write with: the unit of work's (its transaction's)."""
        self._unit()
        return self._db

    def _batch(self) -> Batch:
        """The unit of work's batch, for `queue_*` writes (sent as one request when it ends)."""
        batch = self._unit().batch
        if batch is None:
            raise WriteOutsideUnitOfWork(f"{type(self).__name__}: queued writes run in Database.batch")
        return batch

    def _record(
        self,
        action: AuditAction,
        entity: AuditEntity,
        entity_id: str,
        *,
        before: AuditValue = None,
        after: AuditValue = None,
    ) -> None:
        """The audit entry of this write, written with the unit of work's change."""
        self._unit().record(action, entity, entity_id, before=before, after=after)

    def _emit(self, type: EventType, garage_id: str | None, data: Mapping[str, Any]) -> None:
        """An event of this write, written with the unit of work's change."""
        self._unit().emit(type, garage_id, data)

    def _occupancy_changed(self, garage_id: str) -> None:
        self._unit().occupancy_changed(garage_id)

    def _covered_by_job(self) -> None:
        """For bulk writes a job records ONE summary entry for (an import, a key rotation, an
        archive run: the service records it with `UnitOfWork.record`): still only in a unit of work."""
        self._unit()
