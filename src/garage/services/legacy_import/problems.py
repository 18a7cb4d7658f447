"""What is wrong with a snapshot: one Problem per offending record and rule, and the error that
refuses the import with all of them (nothing is written once one is found)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from garage.errors import OperationalFailure

KINDS = ("garages", "spots", "vehicles", "sessions", "tickets", "payments")
# The errors' public home is the package (`from garage.services.legacy_import import ImportRefused`):
# named so in tracebacks and the error hierarchy, whichever module of the package defines them.
PUBLIC_MODULE = "garage.services.legacy_import"


@dataclass(frozen=True, order=True)
class Problem:
    kind: str
    legacy_id: str
    problem: str

    def __str__(self) -> str:
        return f"{_SINGULAR.get(self.kind, self.kind)} {self.legacy_id}: {self.problem}"


class ImportRefused(OperationalFailure):
    """The snapshot cannot be imported; nothing was written. `problems` lists every offending record."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = sorted(set(problems), key=lambda p: (KINDS.index(p.kind) if p.kind in KINDS else -1, p))
        records = len({(p.kind, p.legacy_id) for p in self.problems})
        super().__init__(f"{len(self.problems)} problem(s) in {records} record(s); nothing was written")


class SnapshotUnreadable(ImportRefused):
    """The file is not JSON, or not shaped as a snapshot."""


_SINGULAR = {
    "garages": "garage",
    "spots": "spot",
    "vehicles": "vehicle",
    "sessions": "session",
    "tickets": "ticket of session",
    "payments": "payment",
}


for _public in (Problem, ImportRefused, SnapshotUnreadable):
    _public.__module__ = PUBLIC_MODULE
