"""Every scalar type through the client and engine/, and back: values, limits, None, defaults.

Values are checked both as the client returns them and, where the engine's translation could
hide a loss, as the SQLite file holds them (read with Python's sqlite3).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import pytest

from engine_test_client import Prisma, fields
from engine_test_client.engine.errors import EngineError
from engine_test_client.errors import DataError
from engine_test_client.types import ScalarsCreateInput

pytestmark = pytest.mark.asyncio(loop_scope="session")

UTC = dt.timezone.utc
I32_MIN, I32_MAX = -(2**31), 2**31 - 1
I64_MIN, I64_MAX = -(2**63), 2**63 - 1


def required(**overrides: Any) -> ScalarsCreateInput:
    """Every required field, with `overrides`: the values under test, out-of-range ones included
    (the engine must refuse those), so typed Any and the row cast to the create input."""
    data: dict[str, Any] = {
        "text": "t",
        "number": 1,
        "bigNumber": 1,
        "ratio": 1.0,
        "amount": Decimal("1"),
        "flag": True,
        "moment": dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        "blob": fields.Base64.encode(b"\x00"),
    }
    data.update(overrides)
    return cast(ScalarsCreateInput, data)


async def roundtrip(client: Prisma, **overrides: Any) -> Any:
    """Creates a row and reads it back with a fresh query (not only the create's own answer)."""
    created = await client.scalars.create(data=required(**overrides))
    found = await client.scalars.find_unique(where={"id": created.id})
    assert found is not None
    for name in overrides:
        assert getattr(found, name) == getattr(created, name), name
    return found


def column_in_file(database: Path, row_id: str, column: str) -> Any:
    con = sqlite3.connect(database)
    try:
        return con.execute(f'SELECT "{column}" FROM "Scalars" WHERE id = ?', (row_id,)).fetchone()[0]
    finally:
        con.close()


# --- String ----------------------------------------------------------------------------------

STRINGS = [
    "",
    " leading and trailing ",
    "unicode: żółć 日本語 עברית العربية 🚗🅿️ e\u0301 \u200b",
    "quotes: ' \" `` '' \"\" \\\"",
    "backslashes: \\ \\\\ \\n \\u0041 C:\\path\\to",
    "newlines\nand\r\nreturns\tand tabs",
    "control: \x01\x07\x1b\x7f",
    "graphql-ish: { result: findManyUser } $var @directive ... #comment",
    'json-ish: {"$type":"BigInt","value":"1"} {"$type":"DateTime","value":"2020-01-01T00:00:00Z"}',
    'envelope-ish: {"data":{"result":1}} {"errors":[]} {"batchResult":[1,2]}',
    "sql-ish: '); DROP TABLE \"Scalars\"; -- ? ?1 :name @p $1",
    "x" * 100_000,
]


@pytest.mark.parametrize("value", STRINGS, ids=range(len(STRINGS)))
async def test_string_roundtrip(client: Prisma, session_database: Path, value: str) -> None:
    found = await roundtrip(client, text=value, textOpt=value)
    assert found.text == value
    assert found.textOpt == value
    assert column_in_file(session_database, found.id, "text") == value
    # and as a filter value
    assert await client.scalars.count(where={"text": value}) == 1


async def test_string_filters(client: Prisma) -> None:
    await roundtrip(client, text="Quote's \"here\" \\ end")
    await roundtrip(client, text="plain")
    assert await client.scalars.count(where={"text": {"contains": "'s \"here\" \\"}}) == 1
    assert await client.scalars.count(where={"text": {"startswith": "Quote's"}}) == 1
    assert await client.scalars.count(where={"text": {"endswith": "\\ end"}}) == 1
    assert await client.scalars.count(where={"text": {"in": ["plain", "nope"]}}) == 1


async def test_string_with_nul_character_is_refused_and_nothing_written(client: Prisma) -> None:
    """SQLite stores 'a\\x00b', but the libSQL binding reads it back cut at the NUL ('a'), so the
    engine refuses NUL in text up front (P2007) rather than accept data it cannot return intact."""
    with pytest.raises(DataError, match="NUL") as caught:
        await client.scalars.create(data=required(text="a\x00b"))
    assert caught.value.code == "P2007"
    assert await client.scalars.count() == 0


# --- Int -------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 1, -1, I32_MAX, I32_MIN])
async def test_int_roundtrip(client: Prisma, value: int) -> None:
    found = await roundtrip(client, number=value, numberOpt=value)
    assert found.number == value and found.numberOpt == value
    assert await client.scalars.count(where={"number": value}) == 1


async def test_int_increment_and_filters_at_limits(client: Prisma) -> None:
    row = await roundtrip(client, number=I32_MAX - 1)
    updated = await client.scalars.update(where={"id": row.id}, data={"number": {"increment": 1}})
    assert updated is not None and updated.number == I32_MAX
    assert await client.scalars.count(where={"number": {"gte": I32_MAX}}) == 1
    assert await client.scalars.count(where={"number": {"lt": I32_MIN + 1}}) == 0


@pytest.mark.parametrize("value", [I32_MAX + 1, I32_MIN - 1])
async def test_int_beyond_32_bits_never_half_succeeds(client: Prisma, value: int) -> None:
    """ENGINE BUG: an Int beyond 32 bits is written, then the create fails reading it back.

    The engine answers P2023 "Inconsistent column data: Conversion failed: string-encoded number
    must be an i32" after the INSERT was committed: the row stays, and from then on every read of
    the model fails with that error (update_many writes such values without any error).
    Either outcome is acceptable -- rejected with nothing written, or stored and read back -- but
    not an error for a write that happened, nor a table that can no longer be read.
    """
    try:
        created = await client.scalars.create(data=required(number=value))
    except DataError:
        assert await client.scalars.count() == 0, "the create failed, yet its row was written"
    else:
        assert created.number == value
    rows = await client.scalars.find_many()
    assert [row.number for row in rows] in ([], [value])


# --- BigInt ----------------------------------------------------------------------------------

BIGINTS = [0, 2**31, 2**53, 2**53 + 1, -(2**53) - 1, 9_007_199_254_740_993, I64_MAX, I64_MIN, I64_MAX - 1]


@pytest.mark.parametrize("value", BIGINTS)
async def test_bigint_roundtrip_exact(client: Prisma, session_database: Path, value: int) -> None:
    found = await roundtrip(client, bigNumber=value, bigNumberOpt=value)
    assert found.bigNumber == value and found.bigNumberOpt == value
    assert column_in_file(session_database, found.id, "bigNumber") == value
    assert await client.scalars.count(where={"bigNumber": value}) == 1
    # exact in raw query results too
    row = await client.query_first('SELECT "bigNumber" FROM "Scalars" WHERE id = ?', found.id)
    assert row == {"bigNumber": value}


async def test_bigint_neighbours_are_distinct(client: Prisma) -> None:
    """2^53 and 2^53+1 are one double: a float anywhere in the path would merge them."""
    a = await roundtrip(client, bigNumber=2**53)
    b = await roundtrip(client, bigNumber=2**53 + 1)
    assert (a.bigNumber, b.bigNumber) == (2**53, 2**53 + 1)
    assert await client.scalars.count(where={"bigNumber": 2**53 + 1}) == 1
    assert await client.scalars.count(where={"bigNumber": {"gt": 2**53}}) == 1
    updated = await client.scalars.update(where={"id": a.id}, data={"bigNumber": {"increment": 1}})
    assert updated is not None and updated.bigNumber == 2**53 + 1


async def test_bigint_aggregates_exact(client: Prisma) -> None:
    await roundtrip(client, bigNumber=2**62, number=7)
    await roundtrip(client, bigNumber=2**62 - 1, number=7)
    [group] = await client.scalars.group_by(by=["number"], sum={"bigNumber": True}, max={"bigNumber": True})
    # group_by returns the engine's values as they come: BigInt as a string, with every digit
    assert int(group["_max"]["bigNumber"]) == 2**62
    assert int(group["_sum"]["bigNumber"]) == 2**63 - 1


@pytest.mark.parametrize("value", [I64_MAX + 1, I64_MIN - 1])
async def test_bigint_beyond_64_bits_is_rejected(client: Prisma, value: int) -> None:
    with pytest.raises(DataError) as caught:
        await client.scalars.create(data=required(bigNumber=value))
    assert caught.value.code == "P2009"
    assert await client.scalars.count() == 0


# --- Float -----------------------------------------------------------------------------------

# Values with at most 16 significant digits: Prisma's query engine turns a Float input into a
# BigDecimal with 16 significant digits (bigdecimal's from_f64), so 0.1 + 0.2 is stored as 0.3.
FLOATS = [0.0, -0.5, 0.1, 0.3, 3.141592653589793, 1e308, -1e-308, 5e-324, 123456789.1234567, 2.0**60]


@pytest.mark.parametrize("value", FLOATS)
async def test_float_roundtrip_exact(client: Prisma, value: float) -> None:
    found = await roundtrip(client, ratio=value, ratioOpt=value)
    assert found.ratio == value and found.ratioOpt == value
    assert isinstance(found.ratio, float)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
async def test_float_non_finite_is_rejected(client: Prisma, value: float) -> None:
    # NaN/Infinity are validation errors; the client writes -inf as `-Infinity`, which is not
    # GraphQL at all (422 -> UnprocessableEntityError). Either way nothing is written.
    with pytest.raises((DataError, EngineError)):
        await client.scalars.create(data=required(ratio=value))
    assert await client.scalars.count() == 0


# --- Decimal ---------------------------------------------------------------------------------
# SQLite keeps DECIMAL columns as INTEGER or REAL (NUMERIC affinity): 15 significant digits are
# exact, as with Prisma's own engine on SQLite.

DECIMALS = ["0", "0.1", "-0.5", "12.34", "0.000001", "99999999999999", "1234567890.12345", "-0.00000000012345"]


@pytest.mark.parametrize("value", DECIMALS)
async def test_decimal_roundtrip_exact_to_15_digits(client: Prisma, value: str) -> None:
    found = await roundtrip(client, amount=Decimal(value), amountOpt=Decimal(value))
    assert isinstance(found.amount, Decimal)
    assert found.amount == Decimal(value)
    assert found.amountOpt == Decimal(value)
    assert await client.scalars.count(where={"amount": Decimal(value)}) == 1


async def test_decimal_sum_and_filters(client: Prisma) -> None:
    await roundtrip(client, amount=Decimal("0.1"))
    await roundtrip(client, amount=Decimal("0.2"))
    assert await client.scalars.count(where={"amount": {"gt": Decimal("0.15")}}) == 1
    # The engine sums Decimal fields; prisma-client-py's generated sum types leave them out.
    [group] = await client.scalars.group_by(by=["flag"], sum={"amount": True}, min={"amount": True})  # type: ignore[arg-type]
    # group_by returns the engine's values as they come: Decimal as a string
    assert Decimal(group["_min"]["amount"]) == Decimal("0.1")
    assert Decimal(group["_sum"]["amount"]).quantize(Decimal("0.000001")) == Decimal("0.3")  # type: ignore[typeddict-item]


# --- Boolean ---------------------------------------------------------------------------------


async def test_boolean(client: Prisma) -> None:
    t = await roundtrip(client, flag=True, flagOpt=False)
    f = await roundtrip(client, flag=False, flagOpt=True)
    assert (t.flag, t.flagOpt, f.flag, f.flagOpt) == (True, False, False, True)
    assert await client.scalars.count(where={"flag": True}) == 1
    assert await client.scalars.count(where={"flagOpt": False}) == 1
    assert await client.scalars.count(where={"flag": {"not": True}}) == 1


# --- DateTime --------------------------------------------------------------------------------


async def test_datetime_millisecond_precision(client: Prisma) -> None:
    moment = dt.datetime(2024, 2, 29, 23, 59, 59, 123000, tzinfo=UTC)
    found = await roundtrip(client, moment=moment, momentOpt=moment)
    assert found.moment == moment and found.momentOpt == moment
    assert found.moment.tzinfo is not None and found.moment.utcoffset() == dt.timedelta(0)


async def test_datetime_sub_millisecond_is_truncated(client: Prisma) -> None:
    found = await roundtrip(client, moment=dt.datetime(2024, 1, 1, 0, 0, 0, 123999, tzinfo=UTC))
    assert found.moment == dt.datetime(2024, 1, 1, 0, 0, 0, 123000, tzinfo=UTC)


@pytest.mark.parametrize(
    "moment",
    [
        dt.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
        dt.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=dt.timezone(dt.timedelta(hours=-8))),
        dt.datetime(2024, 12, 31, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-2))),  # next year in UTC
    ],
)
async def test_datetime_with_offset_keeps_the_instant(client: Prisma, moment: dt.datetime) -> None:
    found = await roundtrip(client, moment=moment)
    assert found.moment == moment  # aware datetimes compare as instants
    assert found.moment.utcoffset() == dt.timedelta(0)
    assert found.moment.replace(tzinfo=None) == moment.astimezone(UTC).replace(tzinfo=None)


@pytest.mark.parametrize(
    "moment",
    [
        dt.datetime(1970, 1, 1, tzinfo=UTC),
        dt.datetime(1969, 7, 20, 20, 17, 40, tzinfo=UTC),
        dt.datetime(1, 1, 1, tzinfo=UTC),
        dt.datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC),
        dt.datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC),
    ],
)
async def test_datetime_extremes(client: Prisma, moment: dt.datetime) -> None:
    found = await roundtrip(client, moment=moment)
    assert found.moment == moment


async def test_datetime_filters_and_ordering(client: Prisma) -> None:
    base = dt.datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)
    for ms in (1, 2, 3):
        await roundtrip(client, moment=base + dt.timedelta(milliseconds=ms), number=ms)
    later = await client.scalars.find_many(where={"moment": {"gt": base + dt.timedelta(milliseconds=1)}}, order={"moment": "desc"})
    assert [r.number for r in later] == [3, 2]
    # the same instant written with another offset matches
    same = base.astimezone(dt.timezone(dt.timedelta(hours=2))) + dt.timedelta(milliseconds=2)
    assert await client.scalars.count(where={"moment": same}) == 1


# --- Bytes -----------------------------------------------------------------------------------

BLOBS = [b"", b"\x00", bytes(range(256)), b"\xff" * 3, "héllo 🚗".encode(), b"\x00" * 1000 + b"end", bytes(200_000)]


@pytest.mark.parametrize("value", BLOBS, ids=range(len(BLOBS)))
async def test_bytes_roundtrip(client: Prisma, session_database: Path, value: bytes) -> None:
    found = await roundtrip(client, blob=fields.Base64.encode(value), blobOpt=fields.Base64.encode(value))
    assert isinstance(found.blob, fields.Base64)
    assert found.blob.decode() == value
    assert found.blobOpt is not None and found.blobOpt.decode() == value
    assert column_in_file(session_database, found.id, "blob") == value


# --- optional fields -------------------------------------------------------------------------


async def test_optional_fields_none_set_and_unset(client: Prisma) -> None:
    created = await client.scalars.create(data=required())
    names = ["textOpt", "numberOpt", "bigNumberOpt", "ratioOpt", "amountOpt", "flagOpt", "momentOpt", "blobOpt"]
    assert all(getattr(created, name) is None for name in names)
    values: dict[str, Any] = {
        "textOpt": "x", "numberOpt": 0, "bigNumberOpt": 0, "ratioOpt": 0.0, "amountOpt": Decimal("0"),
        "flagOpt": False, "momentOpt": dt.datetime(2000, 1, 1, tzinfo=UTC), "blobOpt": fields.Base64.encode(b""),
    }
    updated = await client.scalars.update(where={"id": created.id}, data=values)  # type: ignore[arg-type]
    assert updated is not None
    for name, value in values.items():
        assert getattr(updated, name) == value, name  # falsy values are values, not None
    assert await client.scalars.count(where={"numberOpt": None}) == 0
    cleared = await client.scalars.update(where={"id": created.id}, data={name: None for name in names})  # type: ignore[arg-type]
    assert cleared is not None
    assert all(getattr(cleared, name) is None for name in names)
    assert await client.scalars.count(where={"numberOpt": None, "blobOpt": None}) == 1


# --- defaults --------------------------------------------------------------------------------


async def test_static_defaults(client: Prisma) -> None:
    created = await client.scalars.create(data=required())
    found = await client.scalars.find_unique(where={"id": created.id})
    for row in (created, found):
        assert row is not None
        assert row.textDef == "hello"
        assert row.numberDef == 42
        assert row.bigNumberDef == 9_007_199_254_740_993  # 2^53 + 1: exact
        assert row.ratioDef == 1.5
        assert row.amountDef == Decimal("12.34")
        assert row.flagDef is True
        assert row.momentDef == dt.datetime(2020, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


async def test_cuid_default(client: Prisma) -> None:
    ids = [(await client.scalars.create(data=required())).id for _ in range(20)]
    assert len(set(ids)) == 20
    for value in ids:
        assert value.startswith("c") and len(value) == 25 and value.isalnum() and value.islower()
    team = await client.team.create(data={"name": "t"})
    assert team.id.startswith("c") and len(team.id) == 25


async def test_uuid_default(client: Prisma) -> None:
    users = [await client.user.create(data={"email": f"u{i}@example.com", "profile": {"create": {"bio": "b"}}}, include={"profile": True}) for i in range(5)]
    profile_ids = [u.profile.id for u in users if u.profile is not None]
    assert len(set(profile_ids)) == 5
    for value in profile_ids:
        parsed = uuid.UUID(value)
        assert str(parsed) == value and parsed.version == 4


async def test_autoincrement_default(client: Prisma) -> None:
    first = await client.user.create(data={"email": "a1@example.com"})
    second = await client.user.create(data={"email": "a2@example.com"})
    assert second.id > first.id
    await client.user.delete(where={"id": second.id})
    third = await client.user.create(data={"email": "a3@example.com"})
    assert third.id > second.id  # AUTOINCREMENT never reuses an id


async def test_explicit_values_win_over_defaults(client: Prisma) -> None:
    moment = dt.datetime(2001, 1, 1, tzinfo=UTC)
    row = await client.scalars.create(
        data=required(id="my-own-id", textDef="mine", numberDef=-1, bigNumberDef=I64_MIN, createdAt=moment, updatedAt=moment)
    )
    assert (row.id, row.textDef, row.numberDef, row.bigNumberDef) == ("my-own-id", "mine", -1, I64_MIN)
    assert row.createdAt == moment and row.updatedAt == moment


async def test_now_and_updated_at(client: Prisma) -> None:
    before = dt.datetime.now(UTC) - dt.timedelta(seconds=5)
    row = await client.scalars.create(data=required())
    after = dt.datetime.now(UTC) + dt.timedelta(seconds=5)
    assert before <= row.createdAt <= after
    assert row.updatedAt == row.createdAt  # both from the same now()

    await asyncio.sleep(0.01)  # the stored precision is 1 ms
    updated = await client.scalars.update(where={"id": row.id}, data={"text": "changed"})
    assert updated is not None
    assert updated.updatedAt > row.updatedAt
    assert updated.createdAt == row.createdAt

    await asyncio.sleep(0.01)
    await client.scalars.update_many(where={"id": row.id}, data={"number": 5})
    again = await client.scalars.find_unique(where={"id": row.id})
    assert again is not None and again.updatedAt > updated.updatedAt
