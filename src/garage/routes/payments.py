"""/payments: reading payments; refunds (admin)."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from garage.routes.endpoint import Call, Router
from garage.routes.models import ApiModel, IdText, InstantIn, ListQuery, ListResponse, Timestamp, list_response
from garage.vocabulary import PaymentMethod, PaymentStatus, Role

ROUTER = Router()
"""This module's endpoints (listed in routes/api.py)."""


class PaymentOut(ApiModel, title="Payment"):
    """A payment taken at check-out."""

    id: str
    session_id: str
    amount_cents: int
    currency: str
    method: PaymentMethod
    status: PaymentStatus
    reference: str | None = Field(description="Sensitive: encrypted at rest")
    discount_cents: int = Field(
        description="What the session's validation took off the fee (the fee without it minus amountCents "
        "before the lost-ticket minimum); 0 without a validation"
    )
    created_at: Timestamp = Field(description="The check-out time")
    refunded_at: Timestamp | None = Field(description="Null unless REFUNDED")


class PaymentList(ListResponse[PaymentOut]):
    """A page of payments, newest first."""


class PaymentQuery(ListQuery):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    garage_id: IdText | None = Field(None, alias="garageId", description="Only payments for sessions in this garage")
    since: InstantIn | None = Field(None, alias="from", description="createdAt >= from")
    until: InstantIn | None = Field(None, alias="to", description="createdAt < to")


@ROUTER.endpoint(
    "GET",
    "/payments",
    role=Role.VIEWER,
    summary="List payments, newest first (createdAt = check-out time)",
    tag="payments",
    query=PaymentQuery,
    response=PaymentList,
    operation_id="listPayments",
)
async def list_payments(call: Call[None, PaymentQuery]) -> dict[str, object]:
    q = call.query
    page = await call.services.payments.list(
        garage_id=q.garage_id, since=q.since, until=q.until, limit=q.limit, cursor=q.after_id
    )
    return list_response(page, PaymentOut)


@ROUTER.endpoint(
    "GET",
    "/payments/{id}",
    role=Role.VIEWER,
    summary="A payment",
    tag="payments",
    response=PaymentOut,
    errors=("NOT_FOUND",),
    operation_id="getPayment",
)
async def get_payment(call: Call[None, None]) -> PaymentOut:
    return PaymentOut.model_validate(await call.services.payments.get(call.path("id")))


@ROUTER.endpoint(
    "POST",
    "/payments/{id}/refund",
    role=Role.ADMIN,
    summary="Refund a payment (status REFUNDED; a second refund: 409 PAYMENT_ALREADY_REFUNDED)",
    tag="payments",
    response=PaymentOut,
    errors=("NOT_FOUND", "PAYMENT_ALREADY_REFUNDED"),
    operation_id="refundPayment",
)
async def refund_payment(call: Call[None, None]) -> PaymentOut:
    return PaymentOut.model_validate(await call.services.payments.refund(call.path("id"), actor=call.principal.key_id))
