"""Numeric-aware ordering of spot numbers ("2" < "10" < "10A" < "10B" < "11").

The database orders spots by `Spot.sortKey`, a plain string built here, so that SQL's ordinary
string comparison gives the numeric-aware order (lists and spot assignment both use it).
"""

from __future__ import annotations

import re

# Spot numbers are at most 100 characters, so a run of digits has at most 3 digits of length.
_LENGTH_WIDTH = 3
_CHUNKS = re.compile(r"[0-9]+|[^0-9]+")
# Chunk markers: a number chunk sorts before a text chunk at the same position ("10" < "10A" is
# handled by the shorter key being a prefix; "A1" < "AB" by the markers).
_NUMBER = "0"
_TEXT = "1"


def spot_sort_key(number: str) -> str:
    """The sort key of a spot number.

    Each run of digits becomes its value's length (zero-padded) then its digits without leading
    zeros, so shorter numbers sort first and equal lengths compare digit by digit; text runs
    compare case-insensitively. "007" and "7" get the same key (ties are broken by id).
    """
    parts: list[str] = []
    for chunk in _CHUNKS.findall(number):
        if chunk[0].isascii() and chunk[0].isdigit():
            digits = chunk.lstrip("0") or "0"
            parts.append(f"{_NUMBER}{len(digits):0{_LENGTH_WIDTH}d}{digits}")
        else:
            parts.append(_TEXT + chunk.upper())
    return "".join(parts)
