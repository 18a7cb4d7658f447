"""Keyset pagination shared by every list: fetch limit+1 rows after the cursor row (Prisma's
cursor with skip=1 keeps any ORDER BY stable); the extra row says whether a next page exists."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar


class HasId(Protocol):
    @property
    def id(self) -> str: ...


RowT = TypeVar("RowT", bound=HasId)


@dataclass(frozen=True)
class Page(Generic[RowT]):
    items: list[RowT]
    next_after_id: str | None


def page_of(rows: list[RowT], limit: int) -> Page[RowT]:
    if len(rows) > limit:
        return Page(items=rows[:limit], next_after_id=rows[limit - 1].id)
    return Page(items=rows, next_after_id=None)


def after(after_id: str | None) -> dict[str, Any]:
    """find_many arguments that start just past the row `after_id` (Prisma's cursor + skip 1)."""
    return {"cursor": {"id": after_id}, "skip": 1} if after_id else {}


def page_window(limit: int, after_id: str | None) -> dict[str, Any]:
    """find_many arguments for one page: one row more than asked, to know if a next page exists."""
    return {"take": limit + 1, **after(after_id)}


def time_range(since: datetime | None, until: datetime | None) -> dict[str, datetime] | None:
    """A list filter's time window: `since` inclusive, `until` exclusive; None when unbounded."""
    bounds: dict[str, datetime] = {}
    if since is not None:
        bounds["gte"] = since
    if until is not None:
        bounds["lt"] = until
    return bounds or None
