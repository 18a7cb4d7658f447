"""GET /garages/{id}/reports/usage through HTTP, JSON and CSV."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx

from tests.api.parking_data import API, error_code, new_garage, new_plate


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
    assert lines[0] == "start,checkIns,checkOuts,revenueCents,peakOccupied"
    assert lines[1] == f"{buckets[0]['start']},2,1,{buckets[0]['revenueCents']},2"
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
