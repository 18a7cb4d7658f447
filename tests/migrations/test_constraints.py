"""The hand-written CHECK constraints and partial unique indexes of the migrations reject bad rows
and accept good ones. Raw sqlite3 on a deployed copy: this tests the schema itself, not the
application (which validates first)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

NOW = "2026-01-01T10:00:00.000+00:00"
LATER = "2026-01-01T11:30:00.000+00:00"
EARLIER = "2026-01-01T09:00:00.000+00:00"


@pytest.fixture
def con(fresh_copy: Path) -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(fresh_copy, isolation_level=None)
    connection.execute("PRAGMA foreign_keys = ON")
    seed(connection)
    yield connection
    connection.close()


def insert(con: sqlite3.Connection, table: str, **values: Any) -> None:
    columns = ", ".join(f'"{c}"' for c in values)
    marks = ", ".join("?" for _ in values)
    con.execute(f'INSERT INTO "{table}" ({columns}) VALUES ({marks})', tuple(values.values()))


def garage(**over: Any) -> dict[str, Any]:
    return {"id": "g2", "name": "G", "address": "A", "capacity": 10, "updatedAt": NOW} | over


def spot(**over: Any) -> dict[str, Any]:
    return {"id": "s2", "garageId": "g1", "level": 1, "number": "2", "sortKey": "0002", "type": "STANDARD",
            "updatedAt": NOW} | over


def vehicle(**over: Any) -> dict[str, Any]:
    return {"id": "v2", "licensePlate": "XY987", "type": "CAR", "updatedAt": NOW} | over


def session(**over: Any) -> dict[str, Any]:
    return {"id": "x2", "garageId": "g1", "spotId": "s1", "vehicleId": "v1", "licensePlate": "AB123",
            "vehicleType": "CAR", "startTime": NOW, "updatedAt": NOW} | over


def ticket(**over: Any) -> dict[str, Any]:
    return {"id": "t2", "code": "ABCDEFGH", "sessionId": "x1", "issuedAt": NOW, "updatedAt": NOW} | over


def payment(**over: Any) -> dict[str, Any]:
    return {"id": "p2", "sessionId": "x1", "garageId": "g1", "amountCents": 300, "currency": "USD",
            "method": "CARD", "createdAt": NOW, "updatedAt": NOW} | over


def rate(**over: Any) -> dict[str, Any]:
    return {"garageId": "g1", "updatedAt": NOW} | over


def api_key(**over: Any) -> dict[str, Any]:
    return {"id": "k2", "name": "K", "role": "viewer", "prefix": "p2", "hash": "h", "updatedAt": NOW} | over


def permit(**over: Any) -> dict[str, Any]:
    return {"id": "pm2", "garageId": "g1", "licensePlate": "AB123", "validFrom": NOW, "validTo": LATER,
            "updatedAt": NOW} | over


def denied_plate(**over: Any) -> dict[str, Any]:
    return {"garageId": "g1", "licensePlate": "XY987", "reason": "unpaid fees", "updatedAt": NOW} | over


def validator(**over: Any) -> dict[str, Any]:
    return {"id": "vd2", "garageId": "g1", "name": "Cafe", "kind": "FREE_MINUTES", "value": 60,
            "updatedAt": NOW} | over


def validation(**over: Any) -> dict[str, Any]:
    return {"id": "vn2", "sessionId": "x1", "validatorId": "vd1", "kind": "FULL", "value": 0} | over


def seed(con: sqlite3.Connection) -> None:
    """One valid row of each table (their defaults and the rows below must pass every CHECK)."""
    insert(con, "Garage", **garage(id="g1"))
    insert(con, "Spot", **spot(id="s1", number="1", sortKey="0001"))
    insert(con, "Vehicle", **vehicle(id="v1", licensePlate="AB123"))
    insert(con, "Session", **session(id="x1", status="COMPLETED", endTime=LATER, feeCents=600))
    insert(con, "Ticket", **ticket(id="t1", code="TKT23456", status="PAID"))
    insert(con, "Payment", **payment(id="p1"))
    insert(con, "Rate", **rate())
    insert(con, "ApiKey", **api_key(id="k1", prefix="p1", role="admin"))
    insert(con, "Permit", **permit(id="pm1"))
    insert(con, "Validator", **validator(id="vd1"))


BAD_ROWS: list[tuple[str, dict[str, Any], str]] = [
    # enum-like strings
    ("Spot", spot(type="BUS"), "Spot_type_check"),
    ("Spot", spot(type="standard"), "Spot_type_check"),
    ("Spot", spot(status="BROKEN"), "Spot_status_check"),
    ("Vehicle", vehicle(type="BIKE"), "Vehicle_type_check"),
    ("Session", session(status="PAUSED"), "Session_status_check"),
    ("Ticket", ticket(status="VOIDED"), "Ticket_status_check"),
    ("Session", session(vehicleType="BUS"), "Session_vehicleType_check"),
    ("Permit", permit(status="PAUSED"), "Permit_status_check"),
    ("Validator", validator(kind="BOGOF"), "Validator_kind_check"),
    ("Validation", validation(kind="HALF"), "Validation_kind_check"),
    ("ApiKey", api_key(role="validator"), "ApiKey_validatorId_check"),  # a validator key names its validator
    ("ApiKey", api_key(validatorId="vd1"), "ApiKey_validatorId_check"),  # and only such a key does
    ("Payment", payment(method="CHEQUE"), "Payment_method_check"),
    ("Payment", payment(status="PENDING"), "Payment_status_check"),
    ("ApiKey", api_key(role="root"), "ApiKey_role_check"),
    ("ApiKey", api_key(role="Admin"), "ApiKey_role_check"),
    # ranges
    ("Garage", garage(capacity=0), "Garage_capacity_check"),
    ("Garage", garage(capacity=100001), "Garage_capacity_check"),
    ("Garage", garage(currency="US"), "Garage_currency_check"),
    ("Spot", spot(level=-21), "Spot_level_check"),
    ("Spot", spot(level=201), "Spot_level_check"),
    ("Spot", spot(number=""), "Spot_number_check"),
    ("Payment", payment(amountCents=-1), "Payment_amountCents_check"),
    ("Payment", payment(currency="EURO"), "Payment_currency_check"),
    ("Rate", rate(garageId="g1x", hourlyRateCents=-1), "Rate_hourlyRateCents_check"),
    ("Rate", rate(garageId="g1x", incrementMinutes=0), "Rate_incrementMinutes_check"),
    ("Rate", rate(garageId="g1x", graceMinutes=-1), "Rate_graceMinutes_check"),
    ("Rate", rate(garageId="g1x", dailyMaxCents=-5), "Rate_dailyMaxCents_check"),
    ("Rate", rate(garageId="g1x", lostTicketFeeCents=-5), "Rate_lostTicketFeeCents_check"),
    ("Session", session(status="COMPLETED", endTime=LATER, feeCents=-1), "Session_feeCents_check"),
    ("Session", session(status="COMPLETED", startTime=NOW, endTime=EARLIER, feeCents=0), "Session_endTime_check"),
    ("Session", session(status="COMPLETED", feeCents=100), "Session_completed_check"),
    ("Session", session(status="COMPLETED", endTime=LATER), "Session_completed_check"),
    ("Session", session(status="ACTIVE", endTime=LATER), "Session_active_check"),
    ("Session", session(status="VOIDED", endTime=LATER), "Session_voided_check"),  # no reason
    ("Session", session(status="VOIDED", endTime=LATER, feeCents=0, voidReason="x"), "Session_voided_check"),
    ("Session", session(status="VOIDED", voidReason="x"), "Session_voided_check"),  # no endTime
    ("Session", session(voidReason="x"), "Session_voided_check"),  # a reason without the void
    ("Payment", payment(discountCents=-1), "Payment_discountCents_check"),
    ("Rate", rate(garageId="g1x", vehicleTypeRates="[]"), "Rate_vehicleTypeRates_check"),
    ("Rate", rate(garageId="g1x", flatRates="{}"), "Rate_flatRates_check"),
    ("Rate", rate(garageId="g1x", flatRates="not json"), "Rate_flatRates_check"),
    ("Permit", permit(validTo=NOW), "Permit_window_check"),
    ("Permit", permit(validFrom="2026-01-01T10:00:00.000+00:00", validTo="2027-02-05T10:00:01.000+00:00"),
     "Permit_window_check"),  # 400 days and a second
    ("Validator", validator(value=0), "Validator_value_check"),
    ("Validator", validator(value=1441), "Validator_value_check"),
    ("Validator", validator(kind="AMOUNT_OFF", value=10000001), "Validator_value_check"),
    ("Validator", validator(kind="PERCENT_OFF", value=101), "Validator_value_check"),
    ("Validator", validator(kind="FULL", value=1), "Validator_value_check"),
    ("Validation", validation(value=-1), "Validation_value_check"),
    # formats
    ("Vehicle", vehicle(licensePlate="ab123"), "Vehicle_licensePlate_check"),
    ("Vehicle", vehicle(licensePlate="AB-123"), "Vehicle_licensePlate_check"),
    ("Vehicle", vehicle(licensePlate="A"), "Vehicle_licensePlate_check"),
    ("Vehicle", vehicle(licensePlate="ABCDEFGHIJK"), "Vehicle_licensePlate_check"),
    ("Session", session(licensePlate="AB 123"), "Session_licensePlate_check"),
    ("Permit", permit(licensePlate="ab123"), "Permit_licensePlate_check"),
    ("DeniedPlate", denied_plate(licensePlate="XY-987"), "DeniedPlate_licensePlate_check"),
    ("Ticket", ticket(code="ABCDEFG"), "Ticket_code_check"),
    ("Ticket", ticket(code="ABCDEFGO"), "Ticket_code_check"),
    ("Ticket", ticket(code="ABCDEFG1"), "Ticket_code_check"),
    ("Ticket", ticket(code="abcdefgh"), "Ticket_code_check"),
]


@pytest.mark.parametrize(("table", "row", "constraint"), BAD_ROWS, ids=[f"{c}-{i}" for i, (_, _, c) in enumerate(BAD_ROWS)])
def test_check_constraint_rejects(con: sqlite3.Connection, table: str, row: dict[str, Any], constraint: str) -> None:
    if table == "Rate":
        insert(con, "Garage", **garage(id="g1x"))
    with pytest.raises(sqlite3.IntegrityError, match=f"CHECK constraint failed: {constraint}"):
        insert(con, table, **row)


def test_good_rows_at_the_edges_pass(con: sqlite3.Connection) -> None:
    insert(con, "Garage", **garage(id="g-min", capacity=1, currency="EUR"))
    insert(con, "Garage", **garage(id="g-max", capacity=100000))
    insert(con, "Spot", **spot(id="s-low", level=-20, number="10A", type="HANDICAP", status="MAINTENANCE"))
    insert(con, "Spot", **spot(id="s-high", level=200, type="EV", status="RESERVED"))
    insert(con, "Vehicle", **vehicle(id="v-short", licensePlate="A1", type="TRUCK"))
    insert(con, "Vehicle", **vehicle(id="v-long", licensePlate="ABCDEFGH12", type="MOTORCYCLE"))
    insert(con, "Session", **session(id="x-zero", spotId="s-low", vehicleId="v-short", licensePlate="A1",
                                     status="COMPLETED", endTime=NOW, feeCents=0))
    insert(con, "Ticket", **ticket(id="t-lost", code="ZZZZ2345ABC", sessionId="x-zero", status="LOST"))
    insert(con, "Payment", **payment(id="p-free", sessionId="x-zero", amountCents=0, method="VALIDATION",
                                     status="REFUNDED", discountCents=600))
    insert(con, "Vehicle", **vehicle(id="v-void", licensePlate="VOID1", type="VAN"))
    insert(con, "Session", **session(id="x-void", vehicleId="v-void", licensePlate="VOID1", vehicleType="VAN",
                                     status="VOIDED", endTime=LATER, voidReason="left through the open gate"))
    insert(con, "Ticket", **ticket(id="t-void", code="VVVV2345", sessionId="x-void", status="VOID"))
    insert(con, "Permit", **permit(id="pm-400", validFrom="2026-01-01T10:00:00.000+00:00",
                                   validTo="2027-02-05T10:00:00.000+00:00", status="CANCELLED"))  # 400 days exactly
    insert(con, "Session", **session(id="x-permit", spotId="s-high", vehicleId="v-long", licensePlate="ABCDEFGH12",
                                     vehicleType="MOTORCYCLE", permitId="pm1"))
    insert(con, "DeniedPlate", **denied_plate())
    for vid, kind, value in (("vd-a", "AMOUNT_OFF", 10000000), ("vd-p", "PERCENT_OFF", 100), ("vd-f", "FULL", 0),
                             ("vd-m", "FREE_MINUTES", 1)):
        insert(con, "Validator", **validator(id=vid, kind=kind, value=value))
    insert(con, "Validation", **validation(id="vn-zero", sessionId="x-zero", validatorId="vd-f"))
    insert(con, "ApiKey", **api_key(id="k-merchant", prefix="p-merchant", role="validator", validatorId="vd-p"))
    insert(con, "Rate", **rate(garageId="g-min", vehicleTypeRates='{"MOTORCYCLE": {"hourlyRateCents": 100}}',
                               flatRates='[{"name": "Early bird"}]'))


def test_one_active_session_per_spot(con: sqlite3.Connection) -> None:
    insert(con, "Session", **session(id="a1"))
    insert(con, "Vehicle", **vehicle())
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE constraint failed: Session.spotId"):
        insert(con, "Session", **session(id="a2", vehicleId="v2", licensePlate="XY987"))
    # completed sessions on the spot do not count
    con.execute("UPDATE Session SET status = 'COMPLETED', endTime = ?, feeCents = 0 WHERE id = 'a1'", (LATER,))
    insert(con, "Session", **session(id="a2", vehicleId="v2", licensePlate="XY987"))


def test_one_active_session_per_vehicle(con: sqlite3.Connection) -> None:
    insert(con, "Session", **session(id="a1"))
    insert(con, "Spot", **spot())
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE constraint failed: Session.vehicleId"):
        insert(con, "Session", **session(id="a2", spotId="s2"))


def test_live_plates_are_unique_and_a_deleted_plate_can_be_reused(con: sqlite3.Connection) -> None:
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE constraint failed: Vehicle.licensePlate"):
        insert(con, "Vehicle", **vehicle(licensePlate="AB123"))
    con.execute("UPDATE Vehicle SET deletedAt = ? WHERE id = 'v1'", (LATER,))
    insert(con, "Vehicle", **vehicle(licensePlate="AB123"))
    # two deleted rows with one plate are fine too
    con.execute("UPDATE Vehicle SET deletedAt = ? WHERE id = 'v2'", (LATER,))
    insert(con, "Vehicle", **vehicle(id="v3", licensePlate="AB123"))


def test_live_spot_numbers_are_unique_per_garage_and_level(con: sqlite3.Connection) -> None:
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE constraint failed: Spot.garageId, Spot.level, Spot.number"):
        insert(con, "Spot", **spot(number="1"))
    insert(con, "Spot", **spot(id="s-l2", number="1", level=2))  # another level
    insert(con, "Garage", **garage())
    insert(con, "Spot", **spot(id="s-g2", number="1", garageId="g2"))  # another garage
    con.execute("UPDATE Spot SET deletedAt = ? WHERE id = 's1'", (LATER,))
    insert(con, "Spot", **spot(number="1"))  # the deleted number is free again


def test_foreign_keys_and_referential_actions(con: sqlite3.Connection) -> None:
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY constraint failed"):
        insert(con, "Spot", **spot(garageId="missing"))
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY constraint failed"):
        con.execute("DELETE FROM Garage WHERE id = 'g1'")  # Restrict: spots and sessions point at it
    con.execute("DELETE FROM Session WHERE id = 'x1'")  # Cascade: its ticket and payment go with it
    assert con.execute("SELECT count(*) FROM Ticket").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM Payment").fetchone()[0] == 0


def test_one_validation_per_session(con: sqlite3.Connection) -> None:
    insert(con, "Validation", **validation(id="vn1"))
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE constraint failed: Validation.sessionId"):
        insert(con, "Validation", **validation())


def test_one_deny_list_entry_per_garage_and_plate(con: sqlite3.Connection) -> None:
    insert(con, "DeniedPlate", **denied_plate())
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE constraint failed: DeniedPlate.garageId"):
        insert(con, "DeniedPlate", **denied_plate(reason="again"))
