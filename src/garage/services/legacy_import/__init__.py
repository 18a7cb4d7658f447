"""Legacy import: a MemoryStore snapshot into the database (`garage import-memory-store`).

The snapshot is `{"garages", "spots", "vehicles", "sessions", "payments"[, "tickets"]}`, records
shaped like the API resources with their legacy ids, which become the new rows' ids.

How it works, and why:
- Streaming: the file is parsed record by record (ijson, C backend) and each record is checked and
  kept as a compact slotted object as soon as its closing brace is read; the JSON text and the parsed
  dicts are never held whole, and the sha256 is computed on the bytes as they are read (the file is
  read once). Rows for the database are built per write chunk, not for the whole snapshot, and the
  existence checks against the database go chunk by chunk too. What stays in memory is the checked
  records (about 0.8 kB each, the ids and indexes of the cross-record checks included). The
  100k-record bench snapshot (17.6 MB) peaks at 163 MiB of RSS for the whole `garage` process (~80
  MiB of it before the file is opened), 165 MiB on the second run; reading it whole took 390 MiB,
  and 490 MiB on the second run (bench/import_bench.py prints the figure; docs/operations.md).
- Strict types: values are taken as the JSON text types them, never coerced. Times are ISO 8601
  strings with an offset (`2024-03-01T08:00:00Z`); not a number (epoch) nor a time without offset.
  Integers (`capacity`, `level`, `feeCents`) are JSON integers: not `"10"`, not `0.0`, not `true`.
  `lostTicket` is a JSON boolean. `amount` is a JSON number, not a string.
- Everything is checked before anything is written: each record against its type, then the
  references and uniqueness rules across the snapshot, then against what the database already
  holds. Every offending record is listed (kind, legacy id, problem); one problem refuses all.
- Idempotent: a record whose id already exists with the same content is skipped; one whose id
  exists with other content is a problem like any other. So a second run changes nothing.
- References must resolve inside the snapshot (a session's garage, spot and vehicle; a payment's
  session). A record the database already holds may be in it again: it is then skipped.
- Spots: a spot under an ACTIVE session is stored OCCUPIED (the contract's invariant "OCCUPIED
  exactly when it has an ACTIVE session"); a spot marked OCCUPIED without one is stored AVAILABLE and
  counted as normalised in the report: MemoryStore kept the flag separately, and a stale flag must
  not make a free spot unassignable. Other statuses are kept.
- Tickets: taken from a `tickets` section or a session's `ticketCode` when present (printed tickets
  keep working); otherwise generated: OPEN for an ACTIVE session, PAID for a COMPLETED one (LOST when
  the legacy session says `"lostTicket": true`).
- Money: `amount` is parsed from the JSON text as a decimal (never a binary float) and rounded half
  up to whole cents. Check-out stores the fee as the payment's amount, so a COMPLETED session whose
  `feeCents` differs from its payment's amount in cents is refused (one of the two is wrong, and
  the reports would disagree with the sessions).
- Refunds: a REFUNDED payment gets `refundedAt` from the record when it carries one; otherwise its
  `updatedAt` (as for a refund through the API, which sets both to the refund's time), otherwise its
  creation time (its `createdAt`, else its session's end). A COMPLETED payment with a `refundedAt`,
  or a refund before the payment, is refused.
- Writing: ONE interactive transaction (a unit of work: the planning's reads and every write),
  createMany in chunks, in foreign-key order. It is retried whole only on a transient failure within
  the client's wait limit (GARAGE_DB_WAIT_SECONDS) that provably left nothing committed: each
  attempt plans again and counts its own report (the progress callbacks then start over). The audit
  log gets one IMPORT row per kind (entity named as the API's own audit rows name it: `Session` for
  sessions), with counts, skipped counts and the snapshot's sha256, not one per record:
  per-record rows would add ~100k rows to the ~135k a 100k-record snapshot writes (and about as
  much time again: the cost is per row) while adding nothing the archived snapshot file, named by
  its hash, does not already hold.

The package, by job (each module's docstring says more):
- problems.py: Problem and ImportRefused, the error that lists them all;
- snapshot.py: the record types and the one streaming pass that reads and types-checks them;
- checks.py: the checks across the snapshot's records;
- rows.py: the database rows built from records, and the chunked look-ups of stored rows;
- plan.py: what to write and what is already there, checked against the database;
- write.py: the writes inside the one transaction;
- here: LegacyImportService, which runs them in that order, and the public names.
Progress: `on_read` hears the records (and bytes) read, `on_planning` the records compared with
the database, `on_progress` the rows written (the CLI shows them as bars on a terminal).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import BinaryIO

from garage.errors import DatabaseFailure, DiskFull, WriteRefused
from garage.repositories.unit_of_work import Database, UnitOfWork
from garage.security.crypto import FieldCipher
from garage.services.legacy_import.checks import check_references, cross_record_problems
from garage.services.legacy_import.plan import (
    ImportReport,
    KindCount,
    Plan,
    PlanProgress,
    differences_from_stored,
    make_plan,
)
from garage.services.legacy_import.problems import KINDS, ImportRefused, Problem, SnapshotUnreadable
from garage.services.legacy_import.rows import (
    PlannedTicket,
    garage_row,
    payment_fields,
    session_row,
    spot_row,
    vehicle_fields,
)
from garage.services.legacy_import.snapshot import (
    REQUIRED_SECTIONS,
    LegacyGarage,
    LegacyPayment,
    LegacySession,
    LegacySpot,
    LegacyTicket,
    LegacyVehicle,
    ReadProgress,
    Snapshot,
    cents_of,
    read_snapshot,
)
from garage.services.legacy_import.write import Progress, write_plan

__all__ = [
    "KINDS",
    "REQUIRED_SECTIONS",
    "ImportRefused",
    "ImportReport",
    "KindCount",
    "LegacyGarage",
    "LegacyImportService",
    "LegacyPayment",
    "LegacySession",
    "LegacySpot",
    "LegacyTicket",
    "LegacyVehicle",
    "Plan",
    "PlanProgress",
    "PlannedTicket",
    "Problem",
    "Progress",
    "ReadProgress",
    "Snapshot",
    "SnapshotUnreadable",
    "cents_of",
    "check_references",
    "cross_record_problems",
    "differences_from_stored",
    "garage_row",
    "payment_fields",
    "read_snapshot",
    "session_row",
    "spot_row",
    "vehicle_fields",
]

# One transaction holds the whole import: 100k records take seconds, a slow disk may take minutes.
TX_TIMEOUT = timedelta(minutes=15)
# Waiting for the write lock: at most this, and never past GARAGE_DB_WAIT_SECONDS (the client's
# deadline for starting any transaction, garage/db).
TX_MAX_WAIT = timedelta(seconds=30)


class LegacyImportService:
    def __init__(self, db: Database, cipher: FieldCipher) -> None:
        self._db = db
        self._cipher = cipher

    async def run(
        self,
        source: BinaryIO,
        *,
        actor: str,
        dry_run: bool = False,
        on_planned: Callable[[ImportReport], None] | None = None,
        on_progress: Progress | None = None,
        on_read: ReadProgress | None = None,
        on_planning: PlanProgress | None = None,
    ) -> ImportReport:
        """Checks the snapshot read from `source` (a binary file, streamed: never read whole) and,
        unless `dry_run`, writes it in ONE transaction. Raises ImportRefused listing every
        offending record; then nothing was written. The callbacks report progress: records read
        (`on_read`), records compared with the database (`on_planning`), the plan's counts
        (`on_planned`, before writing) and rows written (`on_progress`)."""
        snapshot, digest, problems = read_snapshot(source, on_read)
        problems += cross_record_problems(snapshot)
        if problems:
            raise ImportRefused(problems)
        if dry_run:
            report = ImportReport(snapshot_sha256=digest, dry_run=True)
            await make_plan(self._db, self._cipher, snapshot, report, on_planning)
            return report

        async def work(unit: UnitOfWork) -> ImportReport:
            # A fresh report per attempt: a retried transaction counts again from 0.
            report = ImportReport(snapshot_sha256=digest, dry_run=False)
            plan = await make_plan(unit, self._cipher, snapshot, report, on_planning)
            if on_planned is not None:
                on_planned(report)
            await write_plan(unit, self._cipher, snapshot, plan, report, on_progress or (lambda rows: None))
            return report

        try:
            return await self._db.transaction(work, actor=actor, timeout=TX_TIMEOUT, max_wait=TX_MAX_WAIT)
        except (WriteRefused, DatabaseFailure, DiskFull) as error:
            # The checks above mirror every constraint; this is a change made meanwhile by someone else
            # (or a disk that filled up): the transaction was rolled back.
            raise ImportRefused(
                [Problem("snapshot", "-", f"the database refused a write, nothing was kept: {error}")]
            ) from error
