"""Shared pieces of the HTTP models: camelCase JSON, UTC timestamps with a Z, lists and cursors,
and the one JSON response class of the service."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    field_validator,
)
from pydantic.alias_generators import to_camel
from starlette.responses import JSONResponse

from garage.repositories.pagination import Page, parse_position
from garage.services.plates import normalise_plate
from garage.vocabulary import format_timestamp


class JsonResponse(JSONResponse):
    """Every JSON answer of the service, errors included: the contract's media type names its
    charset (API.md, "Conventions"); Starlette adds one only to text/* types."""

    media_type = "application/json; charset=utf-8"


TIMESTAMP_EXAMPLE = "2026-01-31T08:00:00.000Z"

Timestamp = Annotated[
    datetime,
    PlainSerializer(format_timestamp, return_type=str, when_used="json"),
    # the serializer's return type alone would document a plain string
    WithJsonSchema({"type": "string", "format": "date-time", "examples": [TIMESTAMP_EXAMPLE]}, mode="serialization"),
]
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


# What pydantic would otherwise read as seconds since 1970: a number, or a string of digits (a query
# value is always a string; strict JSON mode too reads "1769846400" as a time). The contract's
# timestamps are ISO 8601 text only.
_NUMERIC = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*")
_PARSED = TypeAdapter(datetime)


def _iso_text(value: Any) -> Any:
    """ISO 8601 text as a datetime (parsed here, by pydantic's own parser: a before-validator's
    result reaches the datetime validator as a Python value, which strict mode takes only as a
    datetime); anything else refused."""
    if isinstance(value, datetime):  # a model built in Python, not from a request
        return value
    if not isinstance(value, str) or _NUMERIC.fullmatch(value):
        raise ValueError("must be an ISO 8601 date-time string with a UTC offset, e.g. 2026-01-31T08:00:00Z")
    try:
        return _PARSED.validate_python(value)
    except ValidationError as error:
        raise ValueError(error.errors(include_url=False)[0]["msg"]) from None


InstantIn = Annotated[
    AwareDatetime,
    BeforeValidator(_iso_text),
    AfterValidator(_computable),
    Field(description="ISO 8601 with a UTC offset, e.g. 2026-01-31T08:00:00Z; 1970 to 9999"),
]
"""A timestamp in requests: must carry its offset (a naive time is ambiguous)."""


IdText = Annotated[str, Field(min_length=1, max_length=100)]
"""An id given in a query or body (NUL characters are refused for every request in endpoint.py)."""


class ApiModel(BaseModel):
    """Responses: camelCase names. Every field is always sent (null when it has no value), so the
    OpenAPI document lists them all as required."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        from_attributes=True,
        json_schema_serialization_defaults_required=True,
    )


class RequestModel(BaseModel):
    """Request bodies: camelCase names, unknown fields refused, strings trimmed. Parsed from the
    body's JSON strictly (routes/endpoint.py parse_body): no "100" for a number, no 1 for a boolean."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", str_strip_whitespace=True
    )


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    limit: int = Field(50, ge=1, le=200, description="Items per page")
    cursor: str | None = Field(None, max_length=200, description="`nextCursor` of the previous page")

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
    """A page of a list; each route module names its own (`class GarageList(ListResponse[GarageOut])`)
    so the OpenAPI document has a meaningful name for it."""

    items: list[ItemT]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


def encode_cursor(after_id: str | None) -> str | None:
    """`after_id` is what the repository's page gave: a row id, or a position (the large newest-first
    lists: repositories/pagination.py); either way the client sees an opaque string."""
    return None if after_id is None else base64.urlsafe_b64encode(f"v1:{after_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """A cursor's row id or position; ValueError (a 400) for anything this API did not hand out,
    a position whose key is not a time included. Cursors holding a plain id (every cursor handed out
    before positions existed) are still accepted by the lists that now hand out positions."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise ValueError("not a cursor from this API") from error
    if not text.startswith("v1:") or len(text) < 4:
        raise ValueError("not a cursor from this API")
    try:
        parse_position(text[3:])
    except ValueError as error:
        raise ValueError("not a cursor from this API") from error
    return text[3:]


def list_response(page: Page[Any], convert: type[ApiModel]) -> dict[str, object]:
    return {
        "items": [convert.model_validate(row).model_dump(mode="json", by_alias=True) for row in page.items],
        "nextCursor": encode_cursor(page.next_after_id),
    }


# documents the accepted input; normalise_plate enforces it with a plainer message
_PLATE_INPUT = r"^[\s-]*(?:[A-Za-z0-9][\s-]*){2,10}$"
LicensePlate = Annotated[
    str,
    Field(
        max_length=100,
        json_schema_extra={"pattern": _PLATE_INPUT},
        description="Normalised on input: trimmed, upper case, spaces and dashes removed; "
        "then 2 to 10 of A-Z0-9 ('ab-12 cd' -> 'AB12CD')",
    ),
    AfterValidator(normalise_plate),
]
PlateSearch = Annotated[
    str,
    Field(
        max_length=100,
        json_schema_extra={"pattern": _PLATE_INPUT},
        description="Part of a plate: normalised like a plate (2 to 10 of A-Z0-9 after that); "
        "matches every plate containing it",
    ),
    AfterValidator(normalise_plate),
]
