"""Usage reports: per UTC hour or day, check-ins (by start), check-outs, revenue (in all and by
payment method) and validation discounts (by check-out time, refunds excluded), voids (by the
void's time) and the most sessions active at once (a voided session until its void)."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from garage.errors import ValidationFailed
from garage.repositories.reports import Revenue, SessionSpan, UsageTotals
from garage.repositories.unit_of_work import Database
from garage.services.archive import ArchiveReader
from garage.services.garages import live_garage
from garage.vocabulary import PaymentMethod

MAX_WINDOW = timedelta(days=366)


class Bucket(StrEnum):
    HOUR = "hour"
    DAY = "day"

    @property
    def width(self) -> timedelta:
        return timedelta(hours=1) if self is Bucket.HOUR else timedelta(days=1)

    def floor(self, moment: datetime) -> datetime:
        moment = moment.astimezone(UTC)
        if self is Bucket.HOUR:
            return moment.replace(minute=0, second=0, microsecond=0)
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)

    @property
    def key_length(self) -> int:
        """A stored time's first characters that name its bucket ("2026-03-01T08", "2026-03-01")."""
        return 13 if self is Bucket.HOUR else 10

    def key(self, start: datetime) -> str:
        return start.astimezone(UTC).isoformat()[: self.key_length]


@dataclass(frozen=True)
class UsageBucket:
    start: datetime
    check_ins: int
    check_outs: int
    revenue_cents: int
    peak_occupied: int
    voids: int
    discount_cents: int
    revenue_by_method: dict[PaymentMethod, int]  # every method, in the vocabulary's order


class ReportService:
    def __init__(self, db: Database, archive: ArchiveReader | None = None) -> None:
        self._db = db
        self._archive = archive

    async def usage(
        self, garage_id: str, since: datetime, until: datetime, bucket: Bucket, *, include_archive: bool = False
    ) -> list[UsageBucket]:
        check_window(since, until)
        await live_garage(self._db.garages, garage_id)
        reports = self._db.reports
        archive = await self._archive.database() if include_archive and self._archive is not None else None
        if archive is None:
            # summed in SQL: a few rows per bucket, whatever the window holds
            totals = await reports.usage_totals(garage_id, since, until, key_length=bucket.key_length)
            return usage_from_totals(totals, since, until, bucket)
        # Archived sessions are completed ones moved out of the live file: the same query on the
        # archive adds exactly what left (a session is in one file or the other). The peak needs the
        # stays of both files in one sweep, so this path reads them (usage_buckets).
        spans = await reports.session_spans(garage_id, since, until)
        revenue = await reports.completed_payments(garage_id, since, until)
        archived = archive.reports
        spans = sorted([*spans, *await archived.session_spans(garage_id, since, until)], key=lambda span: span.start)
        revenue = [*revenue, *await archived.completed_payments(garage_id, since, until)]
        return usage_buckets(spans, revenue, since, until, bucket)

    async def active_session_count(self) -> int:
        return await self._db.reports.active_session_count()

    async def live_spots_by_status(self) -> dict[str, int]:
        return await self._db.reports.live_spots_by_status()


def check_window(since: datetime, until: datetime) -> None:
    """A report's window [since, until): ValidationFailed naming `to` unless to > from, at most 366 days later."""
    if until <= since:
        raise ValidationFailed("`to` must be after `from`", details={"fields": {"to": "must be after from"}})
    if until - since > MAX_WINDOW:
        raise ValidationFailed(
            "A report covers at most 366 days", details={"fields": {"to": "at most 366 days after from"}}
        )


def usage_buckets(
    spans: list[SessionSpan], revenue: list[Revenue], since: datetime, until: datetime, bucket: Bucket
) -> list[UsageBucket]:
    """Pure: the buckets covering [since, until), counting only events inside the window."""
    starts = _bucket_starts(since, until, bucket)
    check_ins = [0] * len(starts)
    check_outs = [0] * len(starts)
    voids = [0] * len(starts)
    cents = [0] * len(starts)
    discounts = [0] * len(starts)
    by_method = [dict.fromkeys(PaymentMethod, 0) for _ in starts]

    def index_of(moment: datetime) -> int | None:
        if not since <= moment < until:
            return None
        return bisect.bisect_right(starts, moment) - 1

    for span in spans:
        if (i := index_of(span.start)) is not None:
            check_ins[i] += 1
        if span.end is not None and (i := index_of(span.end)) is not None:
            if span.voided:
                voids[i] += 1
            else:
                check_outs[i] += 1
    for payment in revenue:
        if (i := index_of(payment.at)) is not None:
            cents[i] += payment.amount_cents
            discounts[i] += payment.discount_cents
            by_method[i][payment.method] += payment.amount_cents
    peaks = _peak_occupancy(spans, starts, bucket.width, since, until)
    return [
        UsageBucket(
            start=start,
            check_ins=check_ins[i],
            check_outs=check_outs[i],
            revenue_cents=cents[i],
            peak_occupied=peaks[i],
            voids=voids[i],
            discount_cents=discounts[i],
            revenue_by_method=by_method[i],
        )
        for i, start in enumerate(starts)
    ]


def usage_from_totals(totals: UsageTotals, since: datetime, until: datetime, bucket: Bucket) -> list[UsageBucket]:
    """Pure: the buckets covering [since, until) from the figures summed in SQL; the same buckets as
    `usage_buckets` of the same sessions and payments (tests/repositories/test_reports.py)."""
    buckets = []
    level = totals.occupancy.get(("", True), (0, 0))[0]  # active at the window's start
    for start in _bucket_starts(since, until, bucket):
        key = bucket.key(start)
        if (at_start := totals.occupancy.get((key, True))) is not None:
            level += at_start[0]
        peak = level
        if (inside := totals.occupancy.get((key, False))) is not None:
            peak = max(level, inside[1])
            level += inside[0]
        by_method = dict.fromkeys(PaymentMethod, 0)
        discount = 0
        for method in PaymentMethod:
            cents, off = totals.revenue.get((key, method), (0, 0))
            by_method[method] += cents
            discount += off
        buckets.append(
            UsageBucket(
                start=start,
                check_ins=totals.check_ins.get(key, 0),
                check_outs=totals.check_outs.get(key, 0),
                revenue_cents=sum(by_method.values()),
                peak_occupied=peak,
                voids=totals.voids.get(key, 0),
                discount_cents=discount,
                revenue_by_method=by_method,
            )
        )
    return buckets


def _bucket_starts(since: datetime, until: datetime, bucket: Bucket) -> list[datetime]:
    starts = []
    moment = bucket.floor(since)
    while moment < until:
        starts.append(moment)
        moment += bucket.width
    return starts


def _peak_occupancy(
    spans: list[SessionSpan], starts: list[datetime], width: timedelta, since: datetime, until: datetime
) -> list[int]:
    """Sweep over start (+1) and end (-1) events; a session ending at t no longer counts at t."""
    events: list[tuple[datetime, int]] = []
    for span in spans:
        events.append((span.start, 1))
        if span.end is not None:
            events.append((span.end, -1))
    events.sort(key=lambda event: (event[0], event[1]))  # ends before starts at the same instant
    peaks = []
    active = 0
    cursor = 0
    for start in starts:
        window_start = max(start, since)
        window_end = min(start + width, until)
        while cursor < len(events) and events[cursor][0] <= window_start:
            active += events[cursor][1]
            cursor += 1
        peak = active
        while cursor < len(events) and events[cursor][0] < window_end:
            active += events[cursor][1]
            peak = max(peak, active)
            cursor += 1
        peaks.append(peak)
    return peaks
