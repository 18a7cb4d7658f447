from __future__ import annotations

from dataclasses import dataclass

from garage.vocabulary import Role


@dataclass(frozen=True)
class Principal:
    """Who is calling: the API key's id (the audit log's actor) and its role."""

    key_id: str
    role: Role
