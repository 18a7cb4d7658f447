"""Read model for usage reports: the few columns a report needs, for one garage and window."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from garage.repositories.base import Repository
from garage.repositories.rows import as_stored, at_db_precision
from garage.vocabulary import PaymentMethod, PaymentStatus, SessionStatus


@dataclass(frozen=True)
class SessionSpan:
    """A session's stay; `end` is its check-out, or its void's time when `voided` (a void is no
    check-out, but the session occupied its spot until then)."""

    start: datetime
    end: datetime | None
    voided: bool = False


@dataclass(frozen=True)
class Revenue:
    """A payment taken at check-out time `at`: how much, how, and what a validation took off."""

    at: datetime
    amount_cents: int
    method: PaymentMethod
    discount_cents: int


@dataclass(frozen=True)
class UsageTotals:
    """A usage report's figures summed in SQL, by bucket key (a stored time's first `key_length`
    characters: "2026-03-01T08" for an hour, "2026-03-01" for a day).
    `occupancy`: the sweep over the sessions' arrivals (+1) and departures (-1) in time order
    (departures first at the same instant), in groups (key, at_start): at_start groups hold the
    moves at the bucket's first instant (key "" with at_start: every move up to the window's start);
    each group's value is (its net change, the most sessions active after one of its moves)."""

    check_ins: dict[str, int]
    check_outs: dict[str, int]
    voids: dict[str, int]
    revenue: dict[tuple[str, PaymentMethod], tuple[int, int]]  # (key, method) -> (amount, discount) cents
    occupancy: dict[tuple[str, bool], tuple[int, int]]


# One statement, one round trip, ~one row per bucket and kind whatever the window holds. The spans are
# ReportRepository.session_spans's, read on the index [garageId, endTime] (the unary + keeps SQLite off
# [garageId, startTime], which would read the garage's whole history); times are compared as stored
# (`as_stored`: text order is time order). The occupancy sweep is one window function over the
# window's arrivals and departures (its sort is most of the statement's cost). Parameters: ?1 garage,
# ?2 since (ms, rounded up), ?3 until (ms, rounded up), ?4 since (ms, rounded down), ?5 key length,
# ?6 what follows the key at a bucket's first instant, ?7 VOIDED, ?8 COMPLETED.
USAGE_SQL = """
WITH spans AS MATERIALIZED (
  SELECT "startTime" AS s, "endTime" AS e, "status" AS st FROM "Session"
  WHERE "garageId" = ?1 AND "endTime" >= ?2 AND +"startTime" < ?3
  UNION ALL
  SELECT "startTime", "endTime", "status" FROM "Session"
  WHERE "garageId" = ?1 AND "endTime" IS NULL AND +"startTime" < ?3
),
moves AS (SELECT s AS t, 1 AS d FROM spans UNION ALL SELECT e, -1 FROM spans WHERE e < ?3),
keyed AS (
  SELECT t, d,
    CASE WHEN t <= ?4 THEN '' ELSE substr(t, 1, ?5) END AS k,
    CASE WHEN t <= ?4 OR substr(t, ?5 + 1) = ?6 THEN 1 ELSE 0 END AS edge
  FROM moves
),
running AS (SELECT k, edge, d, sum(d) OVER (ORDER BY t, d ROWS UNBOUNDED PRECEDING) AS level FROM keyed)
SELECT 'in' AS kind, substr(s, 1, ?5) AS k, '' AS sub, count(*) AS n, 0 AS m FROM spans WHERE s >= ?2 GROUP BY 2
UNION ALL
SELECT CASE WHEN st = ?7 THEN 'void' ELSE 'out' END, substr(e, 1, ?5), '', count(*), 0
  FROM spans WHERE e < ?3 GROUP BY 1, 2
UNION ALL
SELECT 'pay', substr("createdAt", 1, ?5), "method", sum("amountCents"), sum("discountCents") FROM "Payment"
  WHERE "garageId" = ?1 AND "status" = ?8 AND "createdAt" >= ?2 AND "createdAt" < ?3 GROUP BY 2, 3
UNION ALL
SELECT 'occ', k, CAST(edge AS TEXT), sum(d), max(level) FROM running GROUP BY k, edge
"""


def _stored_up(moment: datetime) -> str:
    """`moment` as stored, rounded up to the millisecond: for a stored t, t >= moment (t < moment)
    exactly when t >= (t <) this text."""
    floor = at_db_precision(moment)
    return as_stored(floor if floor == moment else floor + timedelta(milliseconds=1))


class ReportRepository(Repository):
    async def usage_totals(self, garage_id: str, since: datetime, until: datetime, *, key_length: int) -> UsageTotals:
        """What a usage report of [since, until) counts and sums, by bucket key (UsageTotals), in one
        query: the sessions and payments of the window are read by SQLite, not built into models.
        `key_length`: 13 for hours, 10 for days (UTC)."""
        rows = await self._db.query_raw(
            USAGE_SQL,
            garage_id,
            _stored_up(since),
            _stored_up(until),
            as_stored(at_db_precision(since)),
            key_length,
            as_stored(datetime(2026, 1, 1, tzinfo=UTC))[key_length:],  # a bucket's first instant after its key
            SessionStatus.VOIDED,
            PaymentStatus.COMPLETED,
        )
        totals = UsageTotals(check_ins={}, check_outs={}, voids={}, revenue={}, occupancy={})
        counts = {"in": totals.check_ins, "out": totals.check_outs, "void": totals.voids}
        for row in rows:
            kind, key, n, m = str(row["kind"]), str(row["k"]), int(row["n"]), int(row["m"])
            if kind == "pay":
                totals.revenue[(key, PaymentMethod(row["sub"]))] = (n, m)
            elif kind == "occ":
                totals.occupancy[(key, row["sub"] == "1")] = (n, m)
            else:
                counts[kind][key] = n
        return totals

    async def session_spans(self, garage_id: str, since: datetime, until: datetime) -> list[SessionSpan]:
        """Sessions active at some moment of [since, until): started before `until` and not
        ended before `since`, by start time. Two queries on the index [garageId, endTime], one for
        the sessions that ended since `since`, one for those still running: a single query on
        startTime < until would read the garage's whole history for every report (the start-time
        bound is applied here; for recent windows it removes nothing)."""
        ended, running = await asyncio.gather(
            self._db.parkingsession.find_many(where={"garageId": garage_id, "endTime": {"gte": since}}),
            self._db.parkingsession.find_many(where={"garageId": garage_id, "endTime": None}),
        )
        spans = [
            SessionSpan(start=row.startTime, end=row.endTime, voided=row.status == SessionStatus.VOIDED)
            for row in (*ended, *running)
            if row.startTime < until
        ]
        return sorted(spans, key=lambda span: span.start)

    async def completed_payments(self, garage_id: str, since: datetime, until: datetime) -> list[Revenue]:
        """Payments taken in [since, until), refunded ones excluded (index [garageId, createdAt])."""
        rows = await self._db.payment.find_many(
            where={"garageId": garage_id, "status": PaymentStatus.COMPLETED, "createdAt": {"gte": since, "lt": until}},
            order={"createdAt": "asc"},
        )
        return [
            Revenue(
                at=row.createdAt,
                amount_cents=row.amountCents,
                method=PaymentMethod(row.method),
                discount_cents=row.discountCents,
            )
            for row in rows
        ]

    async def active_session_count(self) -> int:
        return await self._db.parkingsession.count(where={"status": SessionStatus.ACTIVE})

    async def live_spots_by_status(self) -> dict[str, int]:
        rows = await self._db.spot.group_by(by=["status"], where={"deletedAt": None}, count=True)
        return {str(row["status"]): int(row["_count"]["_all"]) for row in rows}
