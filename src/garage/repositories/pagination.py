"""Keyset pagination shared by every list: fetch limit+1 rows after the cursor row (Prisma's
cursor with skip=1 keeps any ORDER BY stable); the extra row says whether a next page exists."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar


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
