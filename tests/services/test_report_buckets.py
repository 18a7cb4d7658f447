"""The usage-bucket computation (pure), with expectations worked out by hand."""

from __future__ import annotations

from datetime import datetime, timezone

from garage.repositories.reports import Revenue, SessionSpan
from garage.services.reports import Bucket, usage_buckets
from garage.vocabulary import PaymentMethod


def t(hour: int, minute: int = 0, day: int = 1) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=timezone.utc)


def paid(at: datetime, cents: int, method: PaymentMethod = PaymentMethod.CARD, discount: int = 0) -> Revenue:
    return Revenue(at, cents, method, discount)


def test_hourly_buckets_count_starts_ends_revenue_and_peak() -> None:
    spans = [
        SessionSpan(t(8, 10), t(9, 20)),   # in at 8:10, out at 9:20
        SessionSpan(t(8, 30), t(8, 50)),   # in and out within hour 8
        SessionSpan(t(9, 0), None),        # still parked
        SessionSpan(t(7, 0), t(8, 5)),     # started before the window, left inside it
    ]
    revenue = [paid(t(8, 50), 300), paid(t(9, 20), 1200), paid(t(8, 5), 150)]
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
    buckets = usage_buckets(spans, [paid(t(0, 30, day=2), 500)], t(0, day=1), t(0, day=4), Bucket.DAY)
    assert [b.start for b in buckets] == [t(0, day=1), t(0, day=2), t(0, day=3)]
    assert [(b.check_ins, b.check_outs, b.revenue_cents, b.peak_occupied) for b in buckets] == [
        (1, 0, 0, 1), (0, 1, 500, 1), (0, 0, 0, 0)
    ]


def test_events_outside_the_window_are_not_counted() -> None:
    spans = [SessionSpan(t(6), t(7)), SessionSpan(t(12), None)]
    buckets = usage_buckets(spans, [paid(t(7), 100, discount=50)], t(8), t(10), Bucket.HOUR)
    assert all((b.check_ins, b.check_outs, b.revenue_cents, b.peak_occupied) == (0, 0, 0, 0) for b in buckets)
    assert all((b.voids, b.discount_cents, sum(b.revenue_by_method.values())) == (0, 0, 0) for b in buckets)


def test_an_unaligned_window_starts_at_the_enclosing_bucket() -> None:
    buckets = usage_buckets([SessionSpan(t(8, 5), None)], [], t(8, 30), t(9, 30), Bucket.HOUR)
    assert [b.start for b in buckets] == [t(8), t(9)]
    # the 8:05 arrival is before the window: not a check-in here, but it is occupying the spot
    assert [b.check_ins for b in buckets] == [0, 0]
    assert [b.peak_occupied for b in buckets] == [1, 1]


def test_a_void_is_counted_at_its_time_not_as_a_check_out_and_occupies_until_then() -> None:
    spans = [
        SessionSpan(t(8, 10), t(9, 40), voided=True),  # in at 8:10, voided at 9:40
        SessionSpan(t(9, 5), t(9, 30)),                # checked out at 9:30
        SessionSpan(t(7, 0), t(8, 20), voided=True),   # voided inside the window, started before it
    ]
    buckets = usage_buckets(spans, [paid(t(9, 30), 400)], t(8), t(11), Bucket.HOUR)
    assert [b.check_ins for b in buckets] == [1, 1, 0]
    assert [b.check_outs for b in buckets] == [0, 1, 0]
    assert [b.voids for b in buckets] == [1, 1, 0]
    assert [b.revenue_cents for b in buckets] == [0, 400, 0]  # a void takes no money
    # hour 8: the 7:00 session until 8:20 and the 8:10 one overlap (2); hour 9: 8:10 + 9:05 (2);
    # hour 10: the voided session left at 9:40
    assert [b.peak_occupied for b in buckets] == [2, 2, 0]


def test_revenue_by_method_and_discounts_are_summed_per_bucket_with_every_method_present() -> None:
    revenue = [
        paid(t(8, 15), 300, PaymentMethod.CASH),
        paid(t(8, 45), 1200, PaymentMethod.CARD, discount=300),
        paid(t(8, 50), 200, PaymentMethod.CARD, discount=100),
        paid(t(9, 0), 0, PaymentMethod.VALIDATION, discount=1500),  # a FULL validation: nothing taken
        paid(t(9, 59), 700, PaymentMethod.MOBILE),
    ]
    buckets = usage_buckets([], revenue, t(8), t(11), Bucket.HOUR)
    assert [b.revenue_cents for b in buckets] == [1700, 700, 0]
    assert [b.discount_cents for b in buckets] == [400, 1500, 0]
    assert [b.revenue_by_method for b in buckets] == [
        {PaymentMethod.CASH: 300, PaymentMethod.CARD: 1400, PaymentMethod.MOBILE: 0, PaymentMethod.VALIDATION: 0},
        {PaymentMethod.CASH: 0, PaymentMethod.CARD: 0, PaymentMethod.MOBILE: 700, PaymentMethod.VALIDATION: 0},
        dict.fromkeys(PaymentMethod, 0),
    ]
    assert all(list(b.revenue_by_method) == list(PaymentMethod) for b in buckets)
    # the method figures add up to the revenue
    assert all(sum(b.revenue_by_method.values()) == b.revenue_cents for b in buckets)
