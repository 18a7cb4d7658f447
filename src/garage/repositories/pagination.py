"""Keyset pagination shared by every list: fetch limit+1 rows after the cursor row; the extra row
says whether a next page exists.

Lists ordered by id (or by a column with the id as tie-breaker that SQLite can seek on) use Prisma's
cursor with skip=1 (`page_window`). The large newest-first lists (sessions by startTime; payments and
audit entries by createdAt) hand out a *position* instead (`page_of(..., key=)`): the last row's sort
key and id, so the next page is `key < k OR (key = k AND id < i)` bounded by `key <= k` (`keyset`),
which SQLite answers by seeking its (key, id) index; Prisma's cursor is an OR on subqueries that it
cannot seek on, so a page deep in a large table walked the index from the top down to the cursor.
A position also survives its row leaving the table (archival). A plain row id is still accepted
where a position is expected (cursors handed out before positions existed): `keyset` answers None
for it and the list falls back to Prisma's cursor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar


class HasId(Protocol):
    @property
    def id(self) -> str: ...


RowT = TypeVar("RowT", bound=HasId)

# A position is "<NUL><the key in epoch milliseconds><NUL><id>": no id holds a NUL (the engine's ids
# are cuid-shaped, imported ones are checked for it), so a position never reads as a plain id.
_MARK = "\x00"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLI = timedelta(milliseconds=1)


@dataclass(frozen=True)
class Page(Generic[RowT]):
    items: list[RowT]
    next_after_id: str | None  # the last row's id, or its position (lists that take `key=`)


def position(key: datetime, row_id: str) -> str:
    """Where a row stands in a newest-first list: its sort key (millisecond precision, as stored) and id."""
    millis = (key - _EPOCH) // _MILLI
    return f"{_MARK}{millis}{_MARK}{row_id}"


def parse_position(cursor: str) -> tuple[datetime, str] | None:
    """The key and id of a position; None for a plain id. ValueError for a malformed position."""
    if not cursor.startswith(_MARK):
        return None
    millis, mark, row_id = cursor[1:].partition(_MARK)
    try:
        if not mark or not row_id or not millis.isascii():
            raise ValueError
        return _EPOCH + int(millis) * _MILLI, row_id
    except (ValueError, OverflowError) as error:  # not an integer, or past what a datetime holds
        raise ValueError("not a list position") from error


def page_of(rows: list[RowT], limit: int, *, key: str | None = None) -> Page[RowT]:
    """The page of `limit` rows out of limit+1 fetched; its next cursor is the last row's id, or
    with `key` (the sort column, a datetime) the last row's position."""
    if len(rows) > limit:
        last = rows[limit - 1]
        return Page(items=rows[:limit], next_after_id=last.id if key is None else position(getattr(last, key), last.id))
    return Page(items=rows, next_after_id=None)


def after(after_id: str | None) -> dict[str, Any]:
    """find_many arguments that start just past the row `after_id` (Prisma's cursor + skip 1)."""
    return {"cursor": {"id": after_id}, "skip": 1} if after_id else {}


def page_window(limit: int, after_id: str | None) -> dict[str, Any]:
    """find_many arguments for one page: one row more than asked, to know if a next page exists."""
    return {"take": limit + 1, **after(after_id)}


def keyset(key: str, cursor: str | None) -> dict[str, Any] | None:
    """The where condition of the rows after `cursor` in a list ordered by `key` desc, id desc, when
    `cursor` is a position; None when it is None or a plain id (then `page_window` takes it)."""
    parsed = parse_position(cursor) if cursor else None
    if parsed is None:
        return None
    moment, row_id = parsed
    # `key <= k` is the bound SQLite seeks on; the OR (not seekable alone) keeps the ties after the id
    return {"AND": [{key: {"lte": moment}}, {"OR": [{key: {"lt": moment}}, {key: moment, "id": {"lt": row_id}}]}]}


def newest_first_window(key: str, where: dict[str, Any], limit: int, cursor: str | None) -> dict[str, Any]:
    """find_many arguments (where, order, take, cursor) for one page of a list newest `key` first:
    a position seeks (`keyset`), a plain id goes through Prisma's cursor as before."""
    seek = keyset(key, cursor)
    if seek is not None:
        where = {**where, "AND": [*where.get("AND", []), seek]}
        return {"where": where, "order": [{key: "desc"}, {"id": "desc"}], "take": limit + 1}
    return {"where": where, "order": [{key: "desc"}, {"id": "desc"}], **page_window(limit, cursor)}


def time_range(since: datetime | None, until: datetime | None) -> dict[str, datetime] | None:
    """A list filter's time window: `since` inclusive, `until` exclusive; None when unbounded."""
    bounds: dict[str, datetime] = {}
    if since is not None:
        bounds["gte"] = since
    if until is not None:
        bounds["lt"] = until
    return bounds or None
