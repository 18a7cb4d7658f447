"""Payments: one per completed session; `reference` arrives encrypted."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from prisma.models import Payment
from prisma.types import PaymentCreateWithoutRelationsInput

from garage.db import insert_rows
from garage.repositories.base import Repository
from garage.repositories.events import event_view
from garage.repositories.pagination import Page, after, newest_first_window, page_of, time_range
from garage.repositories.rows import new_id
from garage.vocabulary import AuditAction, AuditEntity, EventType, PaymentStatus


class PaymentRepository(Repository):
    def queue_create(
        self,
        *,
        session_id: str,
        garage_id: str,
        amount_cents: int,
        currency: str,
        method: str,
        reference: str | None,
        discount_cents: int,
        created_at: datetime,
        now: datetime,
    ) -> Payment:
        """Adds the INSERT of a COMPLETED payment to `batch`; returns the row as it will be stored.
        A second payment for the session fails the batch (UniqueViolation on `sessionId`)."""
        payment = Payment(
            id=new_id(),
            sessionId=session_id,
            garageId=garage_id,
            amountCents=amount_cents,
            currency=currency,
            method=method,
            status=PaymentStatus.COMPLETED,
            reference=reference,
            discountCents=discount_cents,
            createdAt=created_at,
            updatedAt=now,
            refundedAt=None,
        )
        self._batch().payment.create_many(data=[payment.model_dump(exclude={"session", "garage"})])  # type: ignore[list-item]
        self._record(AuditAction.CREATE, AuditEntity.PAYMENT, payment.id, after=payment)
        return payment

    async def get(self, payment_id: str) -> Payment | None:
        return await self._db.payment.find_unique(where={"id": payment_id})

    async def for_session(self, session_id: str) -> Payment | None:
        return await self._db.payment.find_unique(where={"sessionId": session_id})

    async def refund(self, payment: Payment) -> Payment | None:
        """COMPLETED -> REFUNDED: the payment refunded, or None when it was not COMPLETED (the
        guard is in the WHERE). `payment` is the row read in the same transaction."""
        count = await self._writing().payment.update_many(
            where={"id": payment.id, "status": PaymentStatus.COMPLETED},
            data={"status": PaymentStatus.REFUNDED, "refundedAt": datetime.now(UTC)},
        )
        if count != 1:
            return None
        refunded = await self.get(payment.id)
        assert refunded is not None, f"payment {payment.id} vanished inside its transaction"
        self._record(AuditAction.REFUND, AuditEntity.PAYMENT, payment.id, before=payment, after=refunded)
        self._emit(EventType.PAYMENT_REFUNDED, refunded.garageId, {"payment": event_view(refunded)})
        return refunded

    async def list(
        self, *, garage_id: str | None, since: datetime | None, until: datetime | None, limit: int, cursor: str | None
    ) -> Page[Payment]:
        """Newest first by createdAt (the check-out time); `since` inclusive, `until` exclusive."""
        where: dict[str, Any] = {}
        if garage_id is not None:
            where["garageId"] = garage_id
        if (window := time_range(since, until)) is not None:
            where["createdAt"] = window
        rows = await self._db.payment.find_many(**newest_first_window("createdAt", where, limit, cursor))
        return page_of(rows, limit, key="createdAt")

    async def with_reference(self, *, after_id: str | None, limit: int) -> builtins.list[Payment]:
        """Every payment holding an encrypted reference, by id: key rotation."""
        return await self._db.payment.find_many(
            where={"reference": {"not": None}},  # type: ignore[arg-type]  # `not: None` is not in the generated types
            order={"id": "asc"},
            take=limit,
            **after(after_id),
        )

    async def count_with_reference(self) -> int:
        """How many payments with_reference goes through (key rotation's progress)."""
        # `not: None` is not in the generated types (as in the listing above)
        holding: Any = {"reference": {"not": None}}
        counted: int = await self._db.payment.count(where=holding)
        return counted

    async def set_reference(self, payment_id: str, reference: str) -> None:
        """Key rotation: the same reference sealed with the current key (the job's ROTATE_KEYS entry)."""
        self._covered_by_job()
        await self._writing().payment.update(where={"id": payment_id}, data={"reference": reference})

    async def with_ids_or_sessions(self, *, ids: Sequence[str], session_ids: Sequence[str]) -> builtins.list[Payment]:
        """Payments having one of `ids` or paying for one of the sessions: bulk import's existence check."""
        return await self._db.payment.find_many(
            where={"OR": [{"id": {"in": builtins.list(ids)}}, {"sessionId": {"in": builtins.list(session_ids)}}]}
        )

    async def insert_many(self, rows: Sequence[PaymentCreateWithoutRelationsInput]) -> int:
        """Bulk import: `reference` arrives encrypted; ONE createMany."""
        self._covered_by_job()
        return await insert_rows(self._writing(), "Payment", rows)
