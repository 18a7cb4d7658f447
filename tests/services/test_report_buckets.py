"""The usage-bucket computation (pure), with expectations worked out by hand."""

from __future__ import annotations

from datetime import datetime, timezone

from garage.repositories.reports import Revenue, SessionSpan
from garage.services.reports import Bucket, usage_buckets


def t(hour: int, minute: int = 0, day: int = 1) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=timezone.utc)


def test_hourly_buckets_count_starts_ends_revenue_and_peak() -> None:
    spans = [
        SessionSpan(t(8, 10), t(9, 20)),   # in at 8:10, out at 9:20
        SessionSpan(t(8, 30), t(8, 50)),   # in and out within hour 8
        SessionSpan(t(9, 0), None),        # still parked
        SessionSpan(t(7, 0), t(8, 5)),     # started before the window, left inside it
    ]
    revenue = [Revenue(t(8, 50), 300), Revenue(t(9, 20), 1200), Revenue(t(8, 5), 150)]
    buckets = usage_buckets(spans, revenue, t(8), t(11), Bucket.HOUR)
    assert [b.start for b in buckets] == [t(8), t(9), t(10)]
    assert [b.check_ins for b in buckets] == [2, 1, 0]
    assert [b.check_outs for b in buckets] == [2, 1, 0]
    assert [b.revenue_cents for b in buckets] == [450, 1200, 0]
    # hour 8: 7:00-8:05 active at 8:00 (1); 8:05 leaves (0); 8:10 in (1); 8:30 in (2); 8:50 out (1)
    # hour 9: at 9:00 one active (8:10 session) + the 9:00 arrival = 2; 9:20 out -> 1
    # hour 10: the 9:00 session only
    assert [b.peak_occupied for b in buckets] == [2, 2, 1]


def test_a_session_ending_exactly_at_a_bucket_start_does_not_count_there() -> None:
    buckets = usage_buckets([SessionSpan(t(8, 30), t(9, 0))], [], t(8), t(10), Bucket.HOUR)
    assert [b.peak_occupied for b in buckets] == [1, 0]
    assert [b.check_outs for b in buckets] == [0, 1]


def test_daily_buckets_are_utc_days_and_include_empty_days() -> None:
    spans = [SessionSpan(t(23, 30, day=1), t(0, 30, day=2))]
    buckets = usage_buckets(spans, [Revenue(t(0, 30, day=2), 500)], t(0, day=1), t(0, day=4), Bucket.DAY)
    assert [b.start for b in buckets] == [t(0, day=1), t(0, day=2), t(0, day=3)]
    assert [(b.check_ins, b.check_outs, b.revenue_cents, b.peak_occupied) for b in buckets] == [
        (1, 0, 0, 1), (0, 1, 500, 1), (0, 0, 0, 0)
    ]


def test_events_outside_the_window_are_not_counted() -> None:
    spans = [SessionSpan(t(6), t(7)), SessionSpan(t(12), None)]
    buckets = usage_buckets(spans, [Revenue(t(7), 100)], t(8), t(10), Bucket.HOUR)
    assert all((b.check_ins, b.check_outs, b.revenue_cents, b.peak_occupied) == (0, 0, 0, 0) for b in buckets)


def test_an_unaligned_window_starts_at_the_enclosing_bucket() -> None:
    buckets = usage_buckets([SessionSpan(t(8, 5), None)], [], t(8, 30), t(9, 30), Bucket.HOUR)
    assert [b.start for b in buckets] == [t(8), t(9)]
    # the 8:05 arrival is before the window: not a check-in here, but it is occupying the spot
    assert [b.check_ins for b in buckets] == [0, 0]
    assert [b.peak_occupied for b in buckets] == [1, 1]
