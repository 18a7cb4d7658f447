"""The plan: which of the snapshot's records to write and which are already there, after the checks
against what the database holds (existing rows compared field by field, natural keys and codes
free, one ACTIVE session per spot and vehicle, one payment per session). Existing rows are looked
up a chunk at a time (rows.with_stored)."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from garage.repositories.rows import now_ms
from garage.repositories.tickets import TicketRepository
from garage.repositories.unit_of_work import Repositories
from garage.security.crypto import FieldCipher
from garage.services.legacy_import.problems import KINDS, ImportRefused, Problem
from garage.services.legacy_import.rows import (
    LOOKUP_CHUNK,
    PlannedTicket,
    R,
    T,
    chunks,
    differences,
    garage_row,
    lookup,
    payment_fields,
    session_row,
    spot_row,
    vehicle_fields,
    with_stored,
)
from garage.services.legacy_import.snapshot import (
    LegacyGarage,
    LegacyPayment,
    LegacySession,
    LegacySpot,
    LegacyTicket,
    LegacyVehicle,
    Snapshot,
)
from garage.services.tickets import new_ticket_code
from garage.vocabulary import PAYMENT_REFERENCE, VEHICLE_OWNER_FIELDS, SessionStatus, SpotStatus, TicketStatus

# (records compared with the database so far, records to compare in all)
PlanProgress = Callable[[int, int], None]


@dataclass
class KindCount:
    imported: int = 0
    skipped: int = 0


@dataclass
class ImportReport:
    snapshot_sha256: str
    dry_run: bool
    counts: dict[str, KindCount] = field(default_factory=lambda: {kind: KindCount() for kind in KINDS})
    rates_created: int = 0
    tickets_generated: int = 0
    spots_normalised: int = 0

    @property
    def rows_to_write(self) -> int:
        return sum(count.imported for count in self.counts.values()) + self.rates_created


@dataclass
class Plan:
    """The records to write (the snapshot's own objects: rows are built per write chunk)."""

    now: datetime
    garages: list[LegacyGarage] = field(default_factory=list)
    spots: list[tuple[LegacySpot, str]] = field(default_factory=list)  # with the status to store
    vehicles: list[LegacyVehicle] = field(default_factory=list)
    sessions: list[LegacySession] = field(default_factory=list)
    tickets: list[PlannedTicket] = field(default_factory=list)
    payments: list[LegacyPayment] = field(default_factory=list)


def differences_from_stored(wanted: Mapping[str, Any], stored: Any, *, compare_created: bool) -> list[str] | None:
    """None when the database holds no row with the record's id (the record is new); else the
    names of the fields where the stored row differs ([]: it is the same, the record is skipped)."""
    if stored is None:
        return None
    return differences(dict(wanted), stored, compare_created=compare_created)


async def make_plan(
    db: Repositories,
    cipher: FieldCipher,
    snapshot: Snapshot,
    report: ImportReport,
    on_progress: PlanProgress | None = None,
) -> Plan:
    """What to write of `snapshot` against what `db` holds (the Database for a dry run, the
    import's unit of work otherwise: read only here), the report's counts filled in. Raises
    ImportRefused listing every record that clashes with the database."""
    planning = _Planning(db, cipher, snapshot, report, on_progress or (lambda done, total: None))
    await planning.run()
    if planning.problems:
        raise ImportRefused(planning.problems)
    return planning.plan


class _Planning:
    """One run of the planner: the plan, the report's counts and the problems found are its own
    state, filled in kind by kind in foreign-key order."""

    def __init__(
        self,
        db: Repositories,
        cipher: FieldCipher,
        snapshot: Snapshot,
        report: ImportReport,
        on_progress: PlanProgress,
    ) -> None:
        self._db = db
        self._cipher = cipher
        self._s = snapshot
        self.report = report
        self.plan = Plan(now=now_ms())
        self.problems: list[Problem] = []
        self._on_progress = on_progress
        self._compared = 0
        # every record is compared once, sessions twice (the session, then its ticket)
        s = snapshot
        self._to_compare = len(s.garages) + len(s.spots) + len(s.vehicles) + 2 * len(s.sessions) + len(s.payments)

    async def run(self) -> None:
        db, s, plan, report = self._db, self._s, self.plan, self.report
        now = plan.now
        self._on_progress(0, self._to_compare)

        async for garage, stored_garage in self._with_stored(list(s.garages.values()), db.garages.with_ids, _id):
            if self._is_new("garages", garage_row(garage, now), stored_garage, garage.createdAt):
                plan.garages.append(garage)
        report.rates_created = len(plan.garages)

        occupied = {x.spotId for x in s.sessions.values() if x.status is SessionStatus.ACTIVE}
        spots = db.spots
        async for spot, stored_spot in self._with_stored(list(s.spots.values()), spots.with_ids, _id):
            status = (
                SpotStatus.OCCUPIED
                if spot.id in occupied
                else SpotStatus.AVAILABLE
                if spot.status is SpotStatus.OCCUPIED
                else spot.status
            )
            if self._is_new("spots", spot_row(spot, status, now), stored_spot, spot.createdAt):
                plan.spots.append((spot, status))
                report.spots_normalised += spot.status is SpotStatus.OCCUPIED and status is SpotStatus.AVAILABLE
        self.problems += _spot_clashes(s, plan, await lookup(list(s.garages), spots.live_in_garages))

        vehicles = db.vehicles
        async for vehicle, stored_vehicle in self._with_stored(list(s.vehicles.values()), vehicles.with_ids, _id):
            clear = None if stored_vehicle is None else self._with_owner_in_clear(stored_vehicle)
            if self._is_new("vehicles", vehicle_fields(vehicle, now), clear, vehicle.createdAt):
                plan.vehicles.append(vehicle)
        new_plates = {v.licensePlate: v.id for v in plan.vehicles if v.deletedAt is None}
        for taken in await lookup(list(new_plates), vehicles.live_with_plates):
            if taken.id != new_plates[taken.licensePlate]:
                self.problems.append(
                    Problem(
                        "vehicles",
                        new_plates[taken.licensePlate],
                        f"plate {taken.licensePlate!r} belongs to vehicle {taken.id!r} in the database",
                    )
                )

        await self._plan_sessions()
        await self._plan_payments()

    async def _with_stored(
        self,
        records: Sequence[R],
        find: Callable[[Sequence[str]], Awaitable[list[T]]],
        key: Callable[[R], str],
        stored_key: Callable[[T], str] = lambda row: cast(str, getattr(row, "id")),  # noqa: B009 (mypy: unbound T has no .id)
    ) -> AsyncIterator[tuple[R, T | None]]:
        """rows.with_stored, counting the records compared for the progress callback (a call per chunk)."""
        async for record, stored in with_stored(records, find, key, stored_key):
            yield record, stored
            self._compared_one()

    def _compared_one(self) -> None:
        self._compared += 1
        if self._compared % LOOKUP_CHUNK == 0 or self._compared == self._to_compare:
            self._on_progress(self._compared, self._to_compare)

    def _is_new(self, kind: str, wanted: Mapping[str, Any], stored: Any, created_given: Any) -> bool:
        """True when the database holds no row with the record's id (it is counted to import).
        A stored row is counted as skipped when it is the same, as a problem when it differs."""
        differing = differences_from_stored(wanted, stored, compare_created=created_given is not None)
        if differing is None:
            self.report.counts[kind].imported += 1
            return True
        if differing:
            self.problems.append(
                Problem(kind, wanted["id"], f"exists in the database with other {', '.join(differing)}")
            )
        else:
            self.report.counts[kind].skipped += 1
        return False

    async def _plan_sessions(self) -> None:
        db, s, plan, report = self._db, self._s, self.plan, self.report
        sessions = db.sessions
        new_ids: set[str] = set()
        async for session, stored in self._with_stored(list(s.sessions.values()), sessions.with_ids, _id):
            row = session_row(session, s.vehicles, plan.now)
            if self._is_new("sessions", row, stored, session.createdAt):
                plan.sessions.append(session)
                new_ids.add(session.id)
        new_active = [x for x in plan.sessions if x.status is SessionStatus.ACTIVE]
        by_spot = {x.spotId: x.id for x in new_active}
        by_vehicle = {x.vehicleId: x.id for x in new_active}
        for chunk in chunks(new_active, LOOKUP_CHUNK // 2):
            found = await sessions.active_on(
                spot_ids=[x.spotId for x in chunk], vehicle_ids=[x.vehicleId for x in chunk]
            )
            for other in found:
                for key, mine in ((other.spotId, by_spot), (other.vehicleId, by_vehicle)):
                    if key in mine and mine[key] != other.id:
                        self.problems.append(
                            Problem("sessions", mine[key], f"session {other.id!r} is ACTIVE there in the database")
                        )

        tickets = db.tickets
        async for session, stored_ticket in self._with_stored(
            list(s.sessions.values()), tickets.for_sessions, _id, _session_id
        ):
            wanted = _ticket_of(s, session)
            if stored_ticket is None:
                code = wanted.code if wanted is not None else ""
                status = wanted.status if wanted is not None else _generated_status(session)
                issued = (wanted.issuedAt if wanted is not None else None) or session.startTime
                plan.tickets.append(PlannedTicket(session_id=session.id, code=code, status=status, issued_at=issued))
            elif session.id in new_ids or (
                wanted is not None and (wanted.code, wanted.status) != (stored_ticket.code, stored_ticket.status)
            ):
                self.problems.append(
                    Problem(
                        "tickets",
                        session.id,
                        f"the database already holds ticket {stored_ticket.code!r} for this session",
                    )
                )
            else:
                report.counts["tickets"].skipped += 1
        report.counts["tickets"].imported = len(plan.tickets)
        await self._assign_codes(tickets)

    async def _assign_codes(self, tickets: TicketRepository) -> None:
        """Legacy codes must be free in the database; generated ones are drawn until they are."""
        plan = self.plan
        legacy = {ticket.code: ticket.session_id for ticket in plan.tickets if ticket.code}
        for taken in await lookup(list(legacy), tickets.with_codes):
            self.problems.append(
                Problem(
                    "tickets",
                    legacy[taken.code],
                    f"code {taken.code!r} belongs to session {taken.sessionId!r} in the database",
                )
            )
        missing = [ticket for ticket in plan.tickets if not ticket.code]
        self.report.tickets_generated = len(missing)
        used = set(legacy)
        while missing:
            for ticket in missing:
                ticket.code = new_ticket_code()
                while ticket.code in used:
                    ticket.code = new_ticket_code()
                used.add(ticket.code)
            clashes = {t.code for t in await lookup([ticket.code for ticket in missing], tickets.with_codes)}
            missing = [ticket for ticket in missing if ticket.code in clashes]

    async def _plan_payments(self) -> None:
        s, plan = self._s, self.plan
        payments = self._db.payments
        for chunk in chunks(list(s.payments.values()), LOOKUP_CHUNK // 2):
            found = await payments.with_ids_or_sessions(
                ids=[p.id for p in chunk], session_ids=[p.sessionId for p in chunk]
            )
            by_id = {p.id: p for p in found}
            by_session = {p.sessionId: p for p in found}
            for payment in chunk:
                session = s.sessions[payment.sessionId]
                fields = payment_fields(payment, session, s.garages[session.garageId], plan.now)
                stored = by_id.get(payment.id)
                clear = (
                    None
                    if stored is None
                    else stored.model_copy(
                        update={"reference": self._cipher.decrypt_optional(stored.reference, PAYMENT_REFERENCE)}
                    )
                )
                if self._is_new("payments", fields, clear, True):
                    other = by_session.get(payment.sessionId)
                    if other is not None:
                        self.problems.append(
                            Problem(
                                "payments",
                                payment.id,
                                f"payment {other.id!r} already pays for its session in the database",
                            )
                        )
                    plan.payments.append(payment)
                self._compared_one()

    def _with_owner_in_clear(self, stored: Any) -> Any:
        return stored.model_copy(
            update={
                attr: self._cipher.decrypt_optional(getattr(stored, attr), name)
                for attr, name in VEHICLE_OWNER_FIELDS.items()
            }
        )


def _spot_clashes(s: Snapshot, plan: Plan, live_in_db: Sequence[Any]) -> list[Problem]:
    """A new live spot's (garage, level, number) must be free; a garage's live spots fit its capacity."""
    problems: list[Problem] = []
    holder = {(x.garageId, x.level, x.number): x.id for x in live_in_db}
    live_count = Counter(x.garageId for x in live_in_db)
    for spot, _ in plan.spots:
        if spot.deletedAt is not None:
            continue
        live_count[spot.garageId] += 1
        other = holder.get((spot.garageId, spot.level, spot.number))
        if other is not None and other != spot.id:
            problems.append(
                Problem(
                    "spots", spot.id, f"level {spot.level} number {spot.number!r} is spot {other!r} in the database"
                )
            )
    for garage_id, count in live_count.items():
        garage = s.garages[garage_id]
        if count > garage.capacity:
            problems.append(
                Problem(
                    "garages",
                    garage_id,
                    f"{count} live spots with the database's exceed its capacity {garage.capacity}",
                )
            )
    return problems


def _ticket_of(s: Snapshot, session: LegacySession) -> LegacyTicket | None:
    if session.id in s.tickets:
        return s.tickets[session.id]
    if session.ticketCode is not None:
        return LegacyTicket(code=session.ticketCode, sessionId=session.id, status=_generated_status(session))
    return None


def _id(record: Any) -> str:
    return cast(str, record.id)


def _session_id(row: Any) -> str:
    return cast(str, row.sessionId)


def _generated_status(session: LegacySession) -> TicketStatus:
    if session.status is SessionStatus.ACTIVE:
        return TicketStatus.OPEN
    return TicketStatus.LOST if session.lostTicket else TicketStatus.PAID
