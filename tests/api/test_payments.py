"""GET /payments (filters, order, pages), GET /payments/{id}, POST /payments/{id}/refund (admin)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx

from tests.api.parking_data import API, check_in, error_code, new_garage, new_plate, walk

T = datetime(2025, 7, 1, 8, 0, tzinfo=timezone.utc)


def paid(operator: httpx.Client, garage_id: str, start: datetime, minutes: int) -> dict[str, object]:
    entry = check_in(operator, garage_id, licensePlate=new_plate(), vehicleType="CAR", at=start.isoformat())
    assert entry.status_code == 201, entry.text
    out = operator.post(f"{API}/sessions/{entry.json()['session']['id']}/check-out",
                        json={"paymentMethod": "CASH", "at": (start + timedelta(minutes=minutes)).isoformat()})
    assert out.status_code == 200, out.text
    return dict(out.json()["payment"])


def test_list_filters_on_check_out_time_newest_first(admin: httpx.Client, operator: httpx.Client, viewer: httpx.Client) -> None:
    garage_id, _ = new_garage(admin, [(0, str(n), "STANDARD") for n in range(1, 5)])
    other, _ = new_garage(admin, [(0, "1", "STANDARD")])
    payments = [paid(operator, garage_id, T + timedelta(hours=h), 30) for h in (0, 1, 2)]
    paid(operator, other, T, 30)
    listed = walk(viewer, "/payments", garageId=garage_id, limit=2)
    assert listed == list(reversed(payments))
    assert [p["createdAt"] for p in payments] == ["2025-07-01T08:30:00.000Z", "2025-07-01T09:30:00.000Z",
                                                  "2025-07-01T10:30:00.000Z"]
    window = walk(viewer, "/payments", garageId=garage_id, **{"from": "2025-07-01T09:30:00Z", "to": "2025-07-01T10:30:00Z"})
    assert [p["id"] for p in window] == [payments[1]["id"]]
    everywhere = walk(viewer, "/payments", **{"from": "2025-07-01T08:30:00Z", "to": "2025-07-01T08:30:00.001Z"})
    assert len(everywhere) >= 2 and {p["createdAt"] for p in everywhere} == {"2025-07-01T08:30:00.000Z"}
    for params in ({"from": "yesterday"}, {"limit": 500}):
        assert viewer.get(f"{API}/payments", params=params).status_code == 400


def test_get_and_refund(admin: httpx.Client, operator: httpx.Client, viewer: httpx.Client) -> None:
    garage_id, _ = new_garage(admin, [(0, "1", "STANDARD")])
    payment = paid(operator, garage_id, T, 61)
    assert viewer.get(f"{API}/payments/{payment['id']}").json() == payment
    for client in (operator, viewer):
        refused = client.post(f"{API}/payments/{payment['id']}/refund")
        assert refused.status_code == 403 and error_code(refused) == "FORBIDDEN"
    refunded = admin.post(f"{API}/payments/{payment['id']}/refund")
    assert refunded.status_code == 200, refunded.text
    body = refunded.json()
    assert body["status"] == "REFUNDED" and body["refundedAt"] is not None
    assert {k: v for k, v in body.items() if k not in ("status", "refundedAt")} == {
        k: v for k, v in payment.items() if k not in ("status", "refundedAt")}
    assert viewer.get(f"{API}/payments/{payment['id']}").json() == body
    again = admin.post(f"{API}/payments/{payment['id']}/refund")
    assert again.status_code == 409 and error_code(again) == "PAYMENT_ALREADY_REFUNDED"
    audit = admin.get(f"{API}/admin/audit", params={"entity": "Payment", "entityId": str(payment["id"])}).json()["items"]
    assert [e["action"] for e in audit] == ["REFUND", "CREATE"]
    assert audit[0]["before"]["status"] == "COMPLETED" and audit[0]["after"]["status"] == "REFUNDED"


def test_unknown_payments_and_auth(admin: httpx.Client, viewer: httpx.Client, anonymous: httpx.Client) -> None:
    for response in (viewer.get(f"{API}/payments/nope"), admin.post(f"{API}/payments/nope/refund")):
        assert response.status_code == 404 and error_code(response) == "NOT_FOUND"
    for response in (anonymous.get(f"{API}/payments"), anonymous.get(f"{API}/payments/x"),
                     anonymous.post(f"{API}/payments/x/refund")):
        assert response.status_code == 401
