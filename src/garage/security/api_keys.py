"""API keys: `gk_<prefix>_<secret>`. The prefix finds the row; only an HMAC-SHA256 of the whole
key (keyed with GARAGE_SECRET_KEY) is stored, compared in constant time. Keys are 190 random
bits, so a keyed fast hash is as strong as a slow one here and keeps authentication sub-millisecond."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

KEY_SCHEME = "gk"


@dataclass(frozen=True)
class IssuedKey:
    prefix: str
    key: str


def issue_key() -> IssuedKey:
    prefix = secrets.token_hex(6)
    return IssuedKey(prefix=prefix, key=f"{KEY_SCHEME}_{prefix}_{secrets.token_urlsafe(24)}")


def key_prefix(key: str) -> str | None:
    """The lookup prefix of a well-formed key, else None."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_SCHEME or len(parts[1]) != 12 or not parts[2]:
        return None
    return parts[1]


def derive_prefix(key: str) -> str:
    """A stable lookup prefix for keys given from outside (GARAGE_ADMIN_API_KEY may be any string)."""
    return key_prefix(key) or "env" + hashlib.sha256(key.encode()).hexdigest()[:9]


def hash_key(key: str, secret: str) -> str:
    return hmac.new(secret.encode(), key.encode(), hashlib.sha256).hexdigest()


def matches(key: str, stored_hash: str, secret: str) -> bool:
    return hmac.compare_digest(hash_key(key, secret), stored_hash)
