"""GET /garages/{id}/reports/usage through HTTP, JSON and CSV: traffic, revenue by payment method,
validation discounts and voids."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

from tests.api.parking_data import API, error_code, new_garage, new_plate, parked


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_usage_report_counts_a_day_of_traffic(admin: httpx.Client, operator: httpx.Client, viewer: httpx.Client) -> None:
    garage_id, _ = new_garage(admin, [(1, str(n), "STANDARD") for n in range(1, 4)])
    day = (datetime.now(timezone.utc) - timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)
    visits = [(8, 10, 9, 20), (8, 30, 8, 50), (9, 0, None, None)]
    fees = []
    for in_h, in_m, out_h, out_m in visits:
        checked_in = operator.post(f"{API}/garages/{garage_id}/check-in", json={
            "licensePlate": new_plate(), "vehicleType": "CAR", "at": iso(day.replace(hour=in_h, minute=in_m))})
        assert checked_in.status_code == 201, checked_in.text
        if out_h is not None and out_m is not None:
            session_id = checked_in.json()["session"]["id"]
            out = operator.post(f"{API}/sessions/{session_id}/check-out", json={
                "paymentMethod": "CARD", "at": iso(day.replace(hour=out_h, minute=out_m))})
            assert out.status_code == 200, out.text
            fees.append((out_h, out.json()["payment"]["amountCents"]))

    params = {"from": iso(day.replace(hour=8)), "to": iso(day.replace(hour=11)), "bucket": "hour"}
    report = viewer.get(f"{API}/garages/{garage_id}/reports/usage", params=params)
    assert report.status_code == 200, report.text
    buckets = report.json()["buckets"]
    assert [b["start"] for b in buckets] == [iso(day.replace(hour=h)) for h in (8, 9, 10)]
    assert [b["checkIns"] for b in buckets] == [2, 1, 0]
    assert [b["checkOuts"] for b in buckets] == [1, 1, 0]
    assert [b["revenueCents"] for b in buckets] == [sum(f for h, f in fees if h == hour) for hour in (8, 9, 10)]
    assert [b["peakOccupied"] for b in buckets] == [2, 2, 1]

    as_csv = viewer.get(f"{API}/garages/{garage_id}/reports/usage", params=params, headers={"Accept": "text/csv"})
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"].startswith("text/csv")
    lines = as_csv.text.strip().split("\n")
    assert lines[0] == ("start,checkIns,checkOuts,revenueCents,peakOccupied,"
                        "voids,discountCents,revenueCash,revenueCard,revenueMobile,revenueValidation")
    revenue = buckets[0]["revenueCents"]
    assert lines[1] == f"{buckets[0]['start']},2,1,{revenue},2,0,0,0,{revenue},0,0"  # every payment by CARD
    assert len(lines) == 4


def test_usage_report_validation_and_not_found(admin: httpx.Client, viewer: httpx.Client, anonymous: httpx.Client) -> None:
    garage_id, _ = new_garage(admin, [])
    path = f"{API}/garages/{garage_id}/reports/usage"
    now = datetime.now(timezone.utc)
    bad = [
        {},
        {"from": iso(now)},
        {"from": iso(now), "to": iso(now - timedelta(hours=1))},
        {"from": iso(now - timedelta(days=367)), "to": iso(now)},
        {"from": iso(now - timedelta(days=1)), "to": iso(now), "bucket": "week"},
        {"from": "yesterday", "to": iso(now)},
        {"from": "2026-01-01T00:00:00", "to": iso(now)},  # no offset: ambiguous
    ]
    for params in bad:
        response = viewer.get(path, params=params)
        assert response.status_code == 400, params
        assert error_code(response) == "VALIDATION_ERROR"
    window = {"from": iso(now - timedelta(days=2)), "to": iso(now)}
    assert viewer.get(path, params=window).status_code == 200
    assert len(viewer.get(path, params=window).json()["buckets"]) in (2, 3)
    assert viewer.get(f"{API}/garages/nope/reports/usage", params=window).status_code == 404
    assert anonymous.get(path, params=window).status_code == 401


def check_out(client: httpx.Client, session_id: str, at: datetime, method: str) -> dict[str, Any]:
    response = client.post(f"{API}/sessions/{session_id}/check-out", json={"paymentMethod": method, "at": iso(at)})
    assert response.status_code == 200, response.text
    return dict(response.json()["payment"])


def test_revenue_by_method_and_discounts_per_bucket(admin: httpx.Client, operator: httpx.Client,
                                                   viewer: httpx.Client) -> None:
    garage_id, _ = new_garage(admin, [(1, str(n), "STANDARD") for n in range(1, 6)])
    made = admin.post(f"{API}/garages/{garage_id}/validators", json={"name": "Cinema", "kind": "AMOUNT_OFF", "value": 100})
    assert made.status_code == 201, made.text
    day = (datetime.now(timezone.utc) - timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0)

    def visit(in_at: datetime, out_at: datetime, method: str, *, validated: bool = False) -> dict[str, Any]:
        checked_in = parked(operator, garage_id, at=iso(in_at))
        if validated:
            code = checked_in["ticket"]["code"]
            validation = operator.post(f"{API}/tickets/{code}/validations", json={"validatorId": made.json()["id"]})
            assert validation.status_code == 201, validation.text
        return check_out(operator, checked_in["session"]["id"], out_at, method)

    cash = visit(day.replace(hour=8), day.replace(hour=8, minute=40), "CASH")
    card = visit(day.replace(hour=8, minute=5), day.replace(hour=8, minute=55), "CARD", validated=True)
    mobile = visit(day.replace(hour=8, minute=10), day.replace(hour=9, minute=30), "MOBILE", validated=True)
    refunded = visit(day.replace(hour=8, minute=15), day.replace(hour=9, minute=45), "CARD", validated=True)
    assert admin.post(f"{API}/payments/{refunded['id']}/refund").status_code == 200
    assert card["discountCents"] == mobile["discountCents"] == refunded["discountCents"] == 100
    assert cash["discountCents"] == 0 and min(cash["amountCents"], card["amountCents"], mobile["amountCents"]) > 0

    params = {"from": iso(day.replace(hour=8)), "to": iso(day.replace(hour=11)), "bucket": "hour"}
    buckets = viewer.get(f"{API}/garages/{garage_id}/reports/usage", params=params).json()["buckets"]
    assert [b["revenueByMethod"] for b in buckets] == [
        {"CASH": cash["amountCents"], "CARD": card["amountCents"], "MOBILE": 0, "VALIDATION": 0},
        {"CASH": 0, "CARD": 0, "MOBILE": mobile["amountCents"], "VALIDATION": 0},  # the refund excluded
        {"CASH": 0, "CARD": 0, "MOBILE": 0, "VALIDATION": 0},
    ]
    assert [b["revenueCents"] for b in buckets] == [cash["amountCents"] + card["amountCents"], mobile["amountCents"], 0]
    assert [b["discountCents"] for b in buckets] == [100, 100, 0]
    assert [(b["checkOuts"], b["voids"]) for b in buckets] == [(2, 0), (2, 0), (0, 0)]  # refunded: still a check-out

    as_csv = viewer.get(f"{API}/garages/{garage_id}/reports/usage", params=params, headers={"Accept": "text/csv"})
    rows = [line.split(",") for line in as_csv.text.strip().split("\n")]
    assert rows[0][-6:] == ["voids", "discountCents", "revenueCash", "revenueCard", "revenueMobile", "revenueValidation"]
    assert [row[-6:] for row in rows[1:]] == [
        ["0", "100", str(cash["amountCents"]), str(card["amountCents"]), "0", "0"],
        ["0", "100", "0", "0", str(mobile["amountCents"]), "0"],
        ["0", "0", "0", "0", "0", "0"],
    ]


def test_a_void_is_counted_at_its_time_with_no_revenue_and_occupies_its_spot_until_then(
    admin: httpx.Client, operator: httpx.Client, viewer: httpx.Client
) -> None:
    garage_id, _ = new_garage(admin, [(1, str(n), "STANDARD") for n in range(1, 4)])
    now = datetime.now(timezone.utc)
    hour = now.replace(minute=0, second=0, microsecond=0)
    voided = parked(operator, garage_id, at=iso(hour - timedelta(hours=2)))
    other = parked(operator, garage_id, at=iso(hour - timedelta(hours=1, minutes=-30)))
    void = admin.post(f"{API}/sessions/{voided['session']['id']}/void", json={"reason": "barrier left open"})
    assert void.status_code == 200, void.text
    void_time = datetime.fromisoformat(void.json()["session"]["endTime"])
    paid = check_out(operator, other["session"]["id"], void_time, "CASH")

    since = hour - timedelta(hours=2)
    params = {"from": iso(since), "to": iso(void_time.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)),
              "bucket": "hour"}
    buckets = viewer.get(f"{API}/garages/{garage_id}/reports/usage", params=params).json()["buckets"]
    assert [b["voids"] for b in buckets[:-1]] == [0] * (len(buckets) - 1) and buckets[-1]["voids"] == 1
    assert sum(b["checkIns"] for b in buckets) == 2  # the voided session checked in all the same
    assert sum(b["checkOuts"] for b in buckets) == 1  # a void is no check-out
    assert sum(b["revenueCents"] for b in buckets) == paid["amountCents"]  # and takes no money
    assert sum(sum(b["revenueByMethod"].values()) for b in buckets) == paid["amountCents"]
    # both occupy their spots from the second arrival until the void and the check-out
    assert [b["peakOccupied"] for b in buckets] == [1, 2, *[2] * (len(buckets) - 2)]
