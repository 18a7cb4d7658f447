"""Ticket codes: random, upper case, easy to read out and type (no 0/O/1/I)."""

from __future__ import annotations

import secrets

# 32 symbols: A-Z and 2-9 without the look-alikes O, I, 0 and 1.
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
# 10 symbols of 32 = 50 bits: a collision among a million live tickets has odds of about 1 in 2^30.
CODE_LENGTH = 10


def new_ticket_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalise_ticket_code(raw: str) -> str:
    """Lookups are case-insensitive: codes are stored upper case."""
    return raw.strip().upper()
