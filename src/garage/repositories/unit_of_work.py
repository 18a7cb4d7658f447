"""Units of work: how services change data, all or nothing, with the audit of the change.

A service holds a `Database` (built once from the client in the lifespan). It reads through the
repositories bound to the client (`database.sessions.get(...)`: no transaction, no lock), and
changes data in ONE of two units of work, each all or nothing:

- `await database.transaction(work, actor=...)`: `work(unit)` runs in an interactive transaction
  (BEGIN IMMEDIATE: it may read under the write lock, then write); retried whole on a transient
  failure (garage/db: `transaction`).
- `async with database.batch(actor=...) as unit:` writes queued with the repositories' `queue_*`
  methods go to the engine as ONE request, one SQLite transaction (no round trip per write, the
  write lock held only while it runs): for changes whose reads can happen before it.

Either way every repository write records its audit entry in the unit (repositories/audit.py),
and the unit writes them with the change - in the same transaction, or as the batch's last write -
so a change and its audit rows commit together or not at all."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from datetime import timedelta
from functools import cached_property
from typing import Any, TypeVar

from prisma import Prisma
from prisma.client import Batch

from garage.config import Settings
from garage.db import (
    BUSY,
    ENGINE_ANSWER_SLACK,
    create_prisma,
    database_deadline,
    insert_rows,
    transaction,
    wait_seconds_of,
)
from garage.db.retry import DEFAULT_POLICY, RetryPolicy
from garage.db.write_lock import write_queue_of
from garage.errors import DatabaseUnavailable
from garage.repositories.api_keys import ApiKeyRepository
from garage.repositories.archive import ArchiveRepository
from garage.repositories.audit import AuditEntry, AuditRepository, AuditValue, entry_of, queue_entries, write_entries
from garage.repositories.denied_plates import DeniedPlateRepository
from garage.repositories.events import OCCUPANCY_SQL, EventRepository, PendingEvent, event_rows
from garage.repositories.garages import GarageRepository
from garage.repositories.migrations import MigrationRepository
from garage.repositories.payments import PaymentRepository
from garage.repositories.permits import PermitRepository
from garage.repositories.rates import RateRepository
from garage.repositories.reports import ReportRepository
from garage.repositories.rows import as_stored, now_ms
from garage.repositories.sessions import SessionRepository
from garage.repositories.spots import SpotRepository
from garage.repositories.tickets import TicketRepository
from garage.repositories.validations import ValidationRepository
from garage.repositories.validators import ValidatorRepository
from garage.repositories.vehicles import VehicleRepository
from garage.repositories.webhooks import WebhookDeliveryRepository, WebhookRepository
from garage.vocabulary import AuditAction, AuditEntity, EventType

T = TypeVar("T")


class Repositories:
    """One repository per aggregate, all bound to the same client (and unit of work, if any)."""

    def __init__(self, db: Prisma, work: UnitOfWork | None = None) -> None:
        self._db = db
        self._work = work

    @cached_property
    def garages(self) -> GarageRepository:
        return GarageRepository(self._db, self._work)

    @cached_property
    def rates(self) -> RateRepository:
        return RateRepository(self._db, self._work)

    @cached_property
    def spots(self) -> SpotRepository:
        return SpotRepository(self._db, self._work)

    @cached_property
    def vehicles(self) -> VehicleRepository:
        return VehicleRepository(self._db, self._work)

    @cached_property
    def sessions(self) -> SessionRepository:
        return SessionRepository(self._db, self._work)

    @cached_property
    def tickets(self) -> TicketRepository:
        return TicketRepository(self._db, self._work)

    @cached_property
    def payments(self) -> PaymentRepository:
        return PaymentRepository(self._db, self._work)

    @cached_property
    def api_keys(self) -> ApiKeyRepository:
        return ApiKeyRepository(self._db, self._work)

    @cached_property
    def audit(self) -> AuditRepository:
        return AuditRepository(self._db, self._work)

    @cached_property
    def reports(self) -> ReportRepository:
        return ReportRepository(self._db, self._work)

    @cached_property
    def archive(self) -> ArchiveRepository:
        return ArchiveRepository(self._db, self._work)

    @cached_property
    def events(self) -> EventRepository:
        return EventRepository(self._db, self._work)

    @cached_property
    def migrations(self) -> MigrationRepository:
        return MigrationRepository(self._db, self._work)

    @cached_property
    def webhooks(self) -> WebhookRepository:
        return WebhookRepository(self._db, self._work)

    @cached_property
    def webhook_deliveries(self) -> WebhookDeliveryRepository:
        return WebhookDeliveryRepository(self._db, self._work)

    @cached_property
    def permits(self) -> PermitRepository:
        return PermitRepository(self._db, self._work)

    @cached_property
    def denied_plates(self) -> DeniedPlateRepository:
        return DeniedPlateRepository(self._db, self._work)

    @cached_property
    def validators(self) -> ValidatorRepository:
        return ValidatorRepository(self._db, self._work)

    @cached_property
    def validations(self) -> ValidationRepository:
        return ValidationRepository(self._db, self._work)


class UnitOfWork(Repositories):
    """One change by one actor: the repositories bound to its transaction (or batch), and the audit
    entries their writes recorded, written with the change."""

    def __init__(self, db: Prisma, *, actor: str, batch: Batch | None = None) -> None:
        super().__init__(db, self)
        self.actor = actor
        self.batch = batch
        self.entries: list[AuditEntry] = []
        self.pending_events: list[PendingEvent] = []
        self.occupancy_changed_in: dict[str, None] = {}  # garages whose occupancy changed, in order

    def record(
        self,
        action: AuditAction,
        entity: AuditEntity,
        entity_id: str,
        *,
        before: AuditValue = None,
        after: AuditValue = None,
    ) -> None:
        """An audit entry of this change (repository writes call it; a job records its summary)."""
        self.entries.append(entry_of(action, entity, entity_id, before=before, after=after))

    def emit(self, type: EventType, garage_id: str | None, data: Mapping[str, Any]) -> None:
        """An event of this change, written with it (API-operations.md "Events")."""
        self.pending_events.append(PendingEvent(type, garage_id, data))

    def occupancy_changed(self, garage_id: str) -> None:
        """The garage's occupancy (or state) changes with this unit: ONE occupancy.changed event,
        computed from the spots as committed, follows the unit's other events."""
        self.occupancy_changed_in.setdefault(garage_id, None)

    @asynccontextmanager
    async def batched(self) -> AsyncIterator[UnitOfWork]:
        """Inside this unit's transaction: `queue_*` writes (and their audit entries) go as ONE
        request on exit, instead of a round trip each; nothing is sent if the block raises."""
        async with self._db.batch_() as batch:
            inner = UnitOfWork(self._db, actor=self.actor, batch=batch)
            yield inner
            inner._queue_audit()

    async def _write_audit(self) -> None:
        """The audit rows and events of the unit, in its transaction."""
        entries, self.entries = self.entries, []
        if entries:
            await write_entries(self._db, self.actor, entries)
        events, self.pending_events = self.pending_events, []
        now = now_ms()
        if events:
            await insert_rows(self._db, "Event", event_rows(events, now))
        garages, self.occupancy_changed_in = list(self.occupancy_changed_in), {}
        for garage_id in garages:
            await self._db.execute_raw(OCCUPANCY_SQL, as_stored(now), garage_id)

    def _queue_audit(self) -> None:
        """The audit rows and events of the unit, as the last writes of its batch."""
        if self.batch is None:
            return
        entries, self.entries = self.entries, []
        if entries:
            queue_entries(self.batch, self.actor, entries)
        events, self.pending_events = self.pending_events, []
        now = now_ms()
        if events:
            self.batch.event.create_many(data=event_rows(events, now))  # type: ignore[arg-type]
        garages, self.occupancy_changed_in = list(self.occupancy_changed_in), {}
        for garage_id in garages:
            self.batch.execute_raw(OCCUPANCY_SQL, as_stored(now), garage_id)


class Database(Repositories):
    """The data layer as services hold it: repositories that read, and the two units of work."""

    @property
    def wait_seconds(self) -> float:
        """How long a call may wait for the database (GARAGE_DB_WAIT_SECONDS) before 503."""
        return wait_seconds_of(self._db)

    async def transaction(
        self,
        work: Callable[[UnitOfWork], Awaitable[T]],
        *,
        actor: str,
        max_wait: timedelta | None = None,
        timeout: timedelta = timedelta(seconds=5),
        policy: RetryPolicy = DEFAULT_POLICY,
    ) -> T:
        """`work(unit)` in one interactive transaction with its audit entries; retried whole on a
        transient failure, so `work` must do nothing outside its unit that matters twice."""

        async def run(tx: Prisma) -> T:
            unit = UnitOfWork(tx, actor=actor)
            result = await work(unit)
            await unit._write_audit()
            return result

        with self._writer_turn_bounds() as deadline:
            async with self._turn(deadline):
                return await transaction(self._db, run, max_wait=max_wait, timeout=timeout, policy=policy)

    @asynccontextmanager
    async def batch(self, *, actor: str) -> AsyncIterator[UnitOfWork]:
        """A unit whose `queue_*` writes (and their audit entries) go as ONE request on exit,
        all or nothing; nothing is sent if the block raises."""
        batch = self._db.batch_()
        unit = UnitOfWork(self._db, actor=actor, batch=batch)
        yield unit
        unit._queue_audit()
        with self._writer_turn_bounds() as deadline:
            async with self._turn(deadline):
                await batch.commit()

    @contextmanager
    def _writer_turn_bounds(self) -> Iterator[float]:
        """The deadline of a write's wait: its turn (`_turn`) and then the write itself are answered
        within GARAGE_DB_WAIT_SECONDS together, not each."""
        seconds = self.wait_seconds
        with database_deadline(seconds):
            yield time.monotonic() + max(seconds - ENGINE_ANSWER_SLACK, seconds / 2)

    @asynccontextmanager
    async def _turn(self, deadline: float) -> AsyncIterator[None]:
        """This process's turn to write the database file, in order with every other writer of it
        (garage/db/write_lock.py), taken before asking SQLite for its write lock and held until the
        transaction or batch is over; not granted by `deadline`: 503, as for a busy database."""
        queue = write_queue_of(self._db, getattr(self._db, "database_path", None))
        async with AsyncExitStack() as stack:
            try:
                await stack.enter_async_context(queue.turn(deadline))
            except TimeoutError as error:
                raise DatabaseUnavailable(BUSY) from error
            yield


@asynccontextmanager
async def connected(settings: Settings) -> AsyncIterator[Database]:
    """A Database on a client of its own, connected for the block (commands and the archive; the
    service's own is opened by the app's lifespan)."""
    client = create_prisma(settings)
    await client.connect()
    try:
        yield Database(client)
    finally:
        await client.disconnect()
