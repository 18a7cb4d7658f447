"""Shared pieces of the HTTP models: camelCase JSON, UTC timestamps with a Z, lists and cursors."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
)
from pydantic.alias_generators import to_camel

from garage.repositories.pagination import Page


def format_timestamp(value: datetime) -> str:
    value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    # not strftime("%Y"): glibc does not zero-pad years before 1000
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:{value.minute:02d}:"
        f"{value.second:02d}.{value.microsecond // 1000:03d}Z"
    )


Timestamp = Annotated[datetime, PlainSerializer(format_timestamp, return_type=str, when_used="json")]
"""A timestamp in responses: ISO 8601, UTC, milliseconds, `Z`."""

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)


def _computable(value: datetime) -> datetime:
    # Beyond these, converting to UTC or adding clock-skew tolerance would overflow Python's datetime.
    try:
        supported = EARLIEST <= value <= LATEST
    except OverflowError:  # e.g. 0001-01-01T00:00+01:00 has no UTC equivalent
        supported = False
    if not supported:
        raise ValueError("must lie between 1970-01-01 and 9999-12-30 (UTC)")
    return value


InstantIn = Annotated[
    AwareDatetime,
    AfterValidator(_computable),
    Field(description="ISO 8601 with a UTC offset, e.g. 2026-01-31T08:00:00Z; 1970 to 9999"),
]
"""A timestamp in requests: must carry its offset (a naive time is ambiguous)."""


def inline_enum(enum: type[StrEnum]) -> WithJsonSchema:
    """The schema of an enum in a query model, written out: build_spec (routes/openapi.py) copies a
    query model's properties into parameters, where a `$ref` to the model's own `$defs` would dangle.
    Use as `Annotated[SpotType, inline_enum(SpotType)]`; bodies and responses name the enum instead."""
    return WithJsonSchema({"enum": [member.value for member in enum], "type": "string"})


IdText = Annotated[str, Field(min_length=1, max_length=100)]
"""An id given in a query or body (NUL characters are refused for every request in endpoint.py)."""


class ApiModel(BaseModel):
    """Responses: camelCase names."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)


class RequestModel(BaseModel):
    """Request bodies: camelCase names, unknown fields refused, strings trimmed."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", str_strip_whitespace=True
    )


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    limit: int = Field(50, ge=1, le=200)
    cursor: str | None = Field(None, max_length=200)

    @field_validator("cursor")
    @classmethod
    def _opaque(cls, value: str | None) -> str | None:
        if value is None:
            return None
        decode_cursor(value)
        return value

    @property
    def after_id(self) -> str | None:
        return decode_cursor(self.cursor) if self.cursor else None


ItemT = TypeVar("ItemT")


class ListResponse(ApiModel, Generic[ItemT]):
    items: list[ItemT]
    next_cursor: str | None


def encode_cursor(after_id: str | None) -> str | None:
    return None if after_id is None else base64.urlsafe_b64encode(f"v1:{after_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise ValueError("not a cursor from this API") from error
    if not text.startswith("v1:") or len(text) < 4:
        raise ValueError("not a cursor from this API")
    return text[3:]


def list_response(page: Page[Any], convert: type[ApiModel]) -> dict[str, object]:
    return {
        "items": [convert.model_validate(row).model_dump(mode="json", by_alias=True) for row in page.items],
        "nextCursor": encode_cursor(page.next_after_id),
    }
