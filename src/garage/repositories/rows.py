"""Values the application chooses for rows it writes without reading them back (createMany, and
the parking flow's transactional batches, which return no rows): ids and timestamps."""

from __future__ import annotations

import secrets
import string
import time
from datetime import UTC, datetime
from typing import Any

from prisma.metadata import RELATIONAL_FIELD_MAPPINGS
from pydantic import BaseModel

_BASE36 = string.digits + string.ascii_lowercase


def at_db_precision(moment: datetime) -> datetime:
    """`moment` in UTC at the millisecond precision the database keeps, so that a value returned
    without a read-back equals the stored one."""
    moment = moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def as_stored(moment: datetime) -> str:
    """`moment` (at millisecond precision) as the engine stores a DateTime: ISO 8601 in UTC, the
    milliseconds left out when they are 0 ("2026-03-01T08:00:00+00:00", "2026-03-01T08:00:00.250+00:00").
    Text order is time order between such texts, so SQL compares them as they are."""
    moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="milliseconds" if moment.microsecond else "seconds")


def relations_of(model: str) -> frozenset[str]:
    """The relation fields of a Prisma model (by its name): they are not columns."""
    return frozenset(RELATIONAL_FIELD_MAPPINGS.get(model, {}))


def columns_of(record: BaseModel) -> dict[str, Any]:
    """A record's columns, as a createMany row takes them (its relations left out)."""
    return record.model_dump(exclude=set(relations_of(type(record).__name__)))


def now_ms() -> datetime:
    return at_db_precision(datetime.now(UTC))


def new_id() -> str:
    """A cuid-shaped id like Prisma's `@default(cuid())`: "c", the time in base 36, then 16
    random base-36 characters (82 bits: collisions are not a practical concern). One randbits
    call, not one secrets.choice per character: bulk writes make thousands of these."""
    return "c" + _base36(int(time.time() * 1000)).rjust(8, "0") + _base36(secrets.randbits(82)).rjust(16, "0")[-16:]


def _base36(number: int) -> str:
    digits = ""
    while number:
        number, digit = divmod(number, 36)
        digits = _BASE36[digit] + digits
    return digits
