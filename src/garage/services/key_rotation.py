"""Re-encrypting sensitive fields under the newest key (`garage rotate-keys`).

After adding a key to the end of GARAGE_ENCRYPTION_KEYS (keeping the old ones so existing values
still decrypt), this rewrites every value sealed with an older key, in batches, each batch one
transaction. Once it reports nothing left, the old keys can be removed from the setting.
Progress: the rows to go through are counted first; `on_progress` hears (rows gone through, rows
in all) after each batch."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from garage.repositories.unit_of_work import Database, UnitOfWork
from garage.security.crypto import FieldCipher
from garage.vocabulary import SENSITIVE_FIELDS, AuditAction, AuditEntity

# (rows gone through so far, rows to go through in all: every row holding a sealed value)
RotationProgress = Callable[[int, int], None]


class SealedRow(Protocol):
    """A row of a SENSITIVE_FIELDS model: its id, and its sealed attributes read by name."""

    @property
    def id(self) -> str: ...


@dataclass(frozen=True)
class SealedRows:
    """How rotation reaches one SENSITIVE_FIELDS model's rows through its repository: `walk` every row
    (deleted ones too) that may hold a sealed value, by id, `limit` after `after_id`; `count` them
    (progress); `write` a row's values (attribute -> sealed value or None, every attribute of the
    model) in a unit of work, covered by the rotation's one audit entry."""

    walk: Callable[[Database, str | None, int], Awaitable[Sequence[SealedRow]]]
    count: Callable[[Database], Awaitable[int]]
    write: Callable[[UnitOfWork, str, Mapping[str, str | None]], Awaitable[None]]


def _never_null(values: Mapping[str, str | None], attribute: str) -> str:
    """A column that is never null (the walk picks only rows holding it) stays sealed when resealed."""
    value = values[attribute]
    assert value is not None, f"{attribute} was walked as set and resealed as null"
    return value


SEALED_ROWS: Mapping[str, SealedRows] = {
    "Vehicle": SealedRows(
        walk=lambda db, after_id, limit: db.vehicles.with_owner_fields(after_id=after_id, limit=limit),
        count=lambda db: db.vehicles.count_with_owner_fields(),
        write=lambda unit, row_id, values: unit.vehicles.set_owner_fields(
            row_id, name=values["ownerName"], email=values["ownerEmail"], phone=values["ownerPhone"]
        ),
    ),
    "Payment": SealedRows(
        walk=lambda db, after_id, limit: db.payments.with_reference(after_id=after_id, limit=limit),
        count=lambda db: db.payments.count_with_reference(),
        write=lambda unit, row_id, values: unit.payments.set_reference(row_id, _never_null(values, "reference")),
    ),
    "Webhook": SealedRows(
        walk=lambda db, after_id, limit: db.webhooks.with_secret(after_id=after_id, limit=limit),
        count=lambda db: db.webhooks.count_with_secret(),
        write=lambda unit, row_id, values: unit.webhooks.set_secret(row_id, _never_null(values, "secret")),
    ),
    "Permit": SealedRows(
        walk=lambda db, after_id, limit: db.permits.with_holder_fields(after_id=after_id, limit=limit),
        count=lambda db: db.permits.count_with_holder_fields(),
        write=lambda unit, row_id, values: unit.permits.set_holder_fields(
            row_id, name=values["holderName"], email=values["holderEmail"]
        ),
    ),
}
"""The models of vocabulary.SENSITIVE_FIELDS whose rows rotation rewrites, in that order. A model
added there joins by an entry here (its repository's walk, count and write); until it has one its
values are NOT rotated (tests/services/test_key_rotation.py names the models still missing)."""


def report_key(model: str) -> str:
    """The summary audit entry's count for `model`: "Vehicle" -> "vehiclesReencrypted"."""
    return f"{model[0].lower()}{model[1:]}sReencrypted"


@dataclass
class RotationReport:
    resealed: dict[str, int] = field(default_factory=dict)  # model -> rows rewritten

    @property
    def vehicles(self) -> int:
        return self.resealed.get("Vehicle", 0)

    @property
    def payments(self) -> int:
        return self.resealed.get("Payment", 0)

    @property
    def webhooks(self) -> int:
        return self.resealed.get("Webhook", 0)


class KeyRotationService:
    def __init__(self, db: Database, cipher: FieldCipher) -> None:
        self._db = db
        self._cipher = cipher

    async def rotate(
        self, *, actor: str, batch_size: int = 200, on_progress: RotationProgress | None = None
    ) -> RotationReport:
        report = RotationReport()
        progress = _Progress(on_progress)
        models = [model for model in SENSITIVE_FIELDS if model in SEALED_ROWS]
        if on_progress is not None:
            progress.total = sum([await SEALED_ROWS[model].count(self._db) for model in models])
            on_progress(0, progress.total)
        for model in models:
            report.resealed[model] = await self._rotate(
                SEALED_ROWS[model], SENSITIVE_FIELDS[model], batch_size, progress, actor
            )

        async def summary(unit: UnitOfWork) -> None:
            """The ONE entry of the whole rotation (its batches record none of their own)."""
            unit.record(
                AuditAction.ROTATE_KEYS,
                AuditEntity.ENCRYPTION_KEY,
                self._cipher.current_key_id,
                after={report_key(model): count for model, count in report.resealed.items()},
            )

        await self._db.transaction(summary, actor=actor)
        return report

    def _reseal(self, stored: str | None, associated: str) -> str | None:
        if stored is None or not self._cipher.needs_rotation(stored):
            return stored
        return self._cipher.encrypt(self._cipher.decrypt(stored, associated), associated)

    async def _rotate(
        self, table: SealedRows, fields: Mapping[str, str], batch_size: int, progress: _Progress, actor: str
    ) -> int:
        changed, after_id = 0, None
        while rows := await table.walk(self._db, after_id, batch_size):

            async def work(unit: UnitOfWork) -> int:
                """The batch's rows rewritten (counted per attempt: a retry starts again from 0)."""
                rewritten = 0
                for row in rows:
                    current: dict[str, str | None] = {attr: getattr(row, attr) for attr in fields}
                    resealed = {attr: self._reseal(current[attr], aad) for attr, aad in fields.items()}
                    if resealed != current:
                        await table.write(unit, row.id, resealed)
                        rewritten += 1
                return rewritten

            changed += await self._db.transaction(work, actor=actor)
            after_id = rows[-1].id
            progress.went_through(len(rows))
        return changed


class _Progress:
    """Rows gone through, reported to the caller's callback (if any) after each batch. Rows
    written meanwhile may make the count pass the total counted at the start: it is capped."""

    def __init__(self, callback: RotationProgress | None) -> None:
        self._callback = callback
        self.total = 0
        self._done = 0

    def went_through(self, rows: int) -> None:
        self._done += rows
        if self._callback is not None:
            self._callback(min(self._done, self.total), self.total)
