"""License plate normal form (API.md, Conventions)."""

from __future__ import annotations

import pytest

from garage.services.plates import InvalidPlate, normalise_plate
from garage.services.tickets import ALPHABET, CODE_LENGTH, new_ticket_code, normalise_ticket_code


@pytest.mark.parametrize(
    ("raw", "plate"),
    [
        ("ab-12 cd", "AB12CD"),
        ("  x1  ", "X1"),
        ("A-B-C", "ABC"),
        ("ab -- 12", "AB12"),
        ("abcdefghij", "ABCDEFGHIJ"),       # 10 characters: the most
        ("ABCDE-FGHIJ", "ABCDEFGHIJ"),      # dashes do not count
        ("0123456789", "0123456789"),
        ("\u00a0ab\u200a12\t", "AB12"),       # any whitespace counts as space
    ],
)
def test_normal_form(raw: str, plate: str) -> None:
    assert normalise_plate(raw) == plate


@pytest.mark.parametrize("raw", ["", " ", "A", "-A-", "ABCDEFGHIJK", "AB_12", "AB.12", "ÄB12", "AB12!", "٣٣٣", "straße", "ﬁ12"])
def test_refused(raw: str) -> None:
    with pytest.raises(InvalidPlate):
        normalise_plate(raw)


def test_ticket_codes_are_easy_to_type_and_differ() -> None:
    codes = {new_ticket_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        assert len(code) >= 8 and len(code) == CODE_LENGTH
        assert code == code.upper()
        assert not set(code) & set("0O1I")
        assert set(code) <= set(ALPHABET)
    assert normalise_ticket_code(" abcd2345 ") == "ABCD2345"
