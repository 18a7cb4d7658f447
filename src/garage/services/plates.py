"""License plates: one normal form for storage and lookup (API.md, Conventions)."""

from __future__ import annotations

import re

from garage.errors import ValidationFailed

_SEPARATORS = re.compile(r"[\s\-]+")
_NORMAL_FORM = re.compile(r"[A-Z0-9]{2,10}")


class InvalidPlate(ValidationFailed, ValueError):
    """A 400 VALIDATION_ERROR; also a ValueError, which pydantic's AfterValidator turns into a
    field error (routes/vehicles.py LicensePlate)."""


def normalise_plate(raw: str) -> str:
    """Trimmed, upper-cased, inner spaces and dashes removed; then 2..10 of A-Z0-9.

    `"ab-12 cd"` -> `"AB12CD"`. Raises InvalidPlate for anything else (e.g. `"AB_12"`, `"Ä1"`).
    """
    compact = _SEPARATORS.sub("", raw.strip())
    # ASCII only, checked before upper(): it would turn "ß" into "SS" and "ﬁ" into "FI"
    plate = compact.upper()
    if not compact.isascii() or not _NORMAL_FORM.fullmatch(plate):
        raise InvalidPlate("a license plate is 2 to 10 letters A-Z or digits 0-9 (spaces and dashes are ignored)")
    return plate
