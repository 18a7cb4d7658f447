"""GET /garages/{id}/reports/usage, as JSON or (Accept: text/csv) CSV."""

from __future__ import annotations

import csv
import io
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from starlette.responses import Response

from garage.routes.endpoint import Call, Router
from garage.routes.models import ApiModel, InstantIn, Timestamp
from garage.services.reports import Bucket, UsageBucket
from garage.vocabulary import PaymentMethod, Role, format_timestamp

ROUTER = Router()
"""This module's endpoints (listed in routes/api.py)."""

CSV_COLUMNS = (
    "start",
    "checkIns",
    "checkOuts",
    "revenueCents",
    "peakOccupied",
    # API-operations.md "Reports": appended, so readers of the first five columns read on unchanged
    "voids",
    "discountCents",
    *(f"revenue{method.value.capitalize()}" for method in PaymentMethod),
)

RevenueByMethod = Annotated[
    dict[PaymentMethod, int],
    WithJsonSchema(
        {
            "type": "object",
            "description": "Revenue per payment method, refunded payments excluded; every method present (0 when "
            "none). Clients ignore methods they do not know.",
            "properties": {method.value: {"type": "integer"} for method in PaymentMethod},
            "required": [method.value for method in PaymentMethod],
            "additionalProperties": {"type": "integer"},
        },
        mode="serialization",
    ),
]


class UsageQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    since: InstantIn = Field(alias="from", description="The first bucket's start (inclusive)")
    until: InstantIn = Field(alias="to", description="The end (exclusive); at most 366 days after from")
    bucket: Bucket = Field(Bucket.DAY, description="Bucket width")
    include_archive: bool = Field(
        False, alias="includeArchive", description="Also count sessions moved to the archive by `garage archive`"
    )


class UsageBucketOut(ApiModel, title="UsageBucket"):
    """One hour or day (UTC) of a garage's usage."""

    start: Timestamp
    check_ins: int = Field(description="Sessions started in the bucket")
    check_outs: int = Field(description="Sessions ended in the bucket")
    revenue_cents: int = Field(description="Payments taken in the bucket, refunded ones excluded")
    peak_occupied: int = Field(
        description="The most sessions active at once within the bucket (a voided one until its void)"
    )
    voids: int = Field(description="Sessions voided in the bucket (not check-outs: no revenue)")
    discount_cents: int = Field(
        description="What validations took off the payments taken in the bucket, refunded ones excluded"
    )
    revenue_by_method: RevenueByMethod


class UsageReportOut(ApiModel, title="UsageReport"):
    """A garage's usage per bucket, empty buckets included."""

    buckets: list[UsageBucketOut]


@ROUTER.endpoint(
    "GET",
    "/garages/{id}/reports/usage",
    role=Role.VIEWER,
    tag="reports",
    query=UsageQuery,
    response=UsageReportOut,
    csv=True,
    errors=("NOT_FOUND",),
    summary="Usage per UTC hour or day: check-ins, check-outs, revenue, peak occupancy (Accept: text/csv for CSV)",
    operation_id="getUsageReport",
)
async def usage_report(call: Call[None, UsageQuery]) -> UsageReportOut | Response:
    q = call.query
    buckets = await call.services.reports.usage(
        call.path("id"), q.since, q.until, q.bucket, include_archive=q.include_archive
    )
    if "text/csv" in call.request.headers.get("accept", ""):
        return Response(as_csv(buckets), media_type="text/csv; charset=utf-8")
    return UsageReportOut(buckets=[UsageBucketOut.model_validate(bucket) for bucket in buckets])


def as_csv(buckets: list[UsageBucket]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for b in buckets:
        writer.writerow(
            (
                format_timestamp(b.start),
                b.check_ins,
                b.check_outs,
                b.revenue_cents,
                b.peak_occupied,
                b.voids,
                b.discount_cents,
                *(b.revenue_by_method[method] for method in PaymentMethod),
            )
        )
    return out.getvalue()
