from __future__ import annotations

from dataclasses import dataclass

from garage.vocabulary import Role


@dataclass(frozen=True)
class Principal:
    """Who is calling: the API key's id (the audit log's actor), its role and, for a `validator`
    key, the one validator it may validate with (None for every other role)."""

    key_id: str
    role: Role
    validator_id: str | None = None
