"""Prisma's error codes reach the client as its exception classes, and failed writes write nothing."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from decimal import Decimal

import pytest

from conftest import sqlite_url
from engine_test_client import Prisma, fields
from engine_test_client.errors import (
    DataError,
    FieldNotFoundError,
    ForeignKeyViolationError,
    MissingRequiredValueError,
    RawQueryError,
    RecordNotFoundError,
    TableNotFoundError,
    UniqueViolationError,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_unique_violation(client: Prisma) -> None:
    await client.user.create(data={"email": "a@example.com", "name": "first"})
    with pytest.raises(UniqueViolationError) as caught:
        await client.user.create(data={"email": "a@example.com", "name": "second"})
    assert caught.value.code == "P2002"
    assert caught.value.meta["target"] == ["email"]
    assert "email" in str(caught.value)
    assert [u.name for u in await client.user.find_many()] == ["first"]


async def test_unique_violation_on_compound_unique(client: Prisma) -> None:
    author = await client.user.create(data={"email": "a@example.com"})
    other = await client.user.create(data={"email": "b@example.com"})
    await client.post.create(data={"slug": "same", "title": "1", "authorId": author.id})
    await client.post.create(data={"slug": "same", "title": "2", "authorId": other.id})  # other author: fine
    with pytest.raises(UniqueViolationError) as caught:
        await client.post.create(data={"slug": "same", "title": "3", "authorId": author.id})
    assert caught.value.code == "P2002"
    assert caught.value.meta["target"] == ["author_id", "slug"]  # the mapped column names
    assert await client.post.count() == 2


async def test_unique_violation_on_update(client: Prisma) -> None:
    await client.user.create(data={"email": "a@example.com"})
    b = await client.user.create(data={"email": "b@example.com"})
    with pytest.raises(UniqueViolationError):
        await client.user.update(where={"id": b.id}, data={"email": "a@example.com"})
    still = await client.user.find_unique(where={"id": b.id})
    assert still is not None and still.email == "b@example.com"


async def test_unique_violation_on_compound_primary_key(client: Prisma) -> None:
    user = await client.user.create(data={"email": "a@example.com"})
    team = await client.team.create(data={"name": "t"})
    await client.membership.create(data={"userId": user.id, "teamId": team.id})
    with pytest.raises(UniqueViolationError) as caught:
        await client.membership.create(data={"userId": user.id, "teamId": team.id, "role": "dup"})
    assert caught.value.meta["target"] == ["userId", "teamId"]


async def test_foreign_key_violation_on_create(client: Prisma) -> None:
    with pytest.raises(ForeignKeyViolationError) as caught:
        await client.post.create(data={"slug": "s", "title": "t", "authorId": 987654})
    assert caught.value.code == "P2003"
    assert await client.post.count() == 0


async def test_foreign_key_violation_on_restricted_delete(client: Prisma) -> None:
    """Post.author is onDelete: Restrict: SQLite refuses, so foreign keys really are enforced."""
    author = await client.user.create(data={"email": "a@example.com", "posts": {"create": [{"slug": "s", "title": "t"}]}})
    with pytest.raises(ForeignKeyViolationError) as caught:
        await client.user.delete(where={"id": author.id})
    assert caught.value.code == "P2003"
    assert await client.user.count() == 1 and await client.post.count() == 1
    with pytest.raises(ForeignKeyViolationError):
        await client.user.delete_many()
    assert await client.user.count() == 1


async def test_record_not_found(client: Prisma) -> None:
    with pytest.raises(RecordNotFoundError) as caught:
        await client.user.find_unique_or_raise(where={"id": 1234})
    assert caught.value.code == "P2025"
    with pytest.raises(RecordNotFoundError):
        await client.user.find_first_or_raise(where={"email": "nobody"})


async def test_record_not_found_in_nested_writes(client: Prisma) -> None:
    with pytest.raises(RecordNotFoundError) as caught:
        await client.user.create(data={"email": "a@example.com", "following": {"connect": [{"id": 424242}]}})
    assert caught.value.code == "P2025"
    with pytest.raises(RecordNotFoundError):
        await client.post.create(data={"slug": "s", "title": "t", "author": {"connect": {"id": 424242}}})
    # the nested write failed, so the outer create did not happen either
    assert await client.user.count() == 0
    assert await client.post.count() == 0
    # (update/delete of a missing record return None in this client: see test_actions)


async def test_missing_required_value(client: Prisma) -> None:
    with pytest.raises(MissingRequiredValueError) as caught:
        await client.post.create(data={"slug": "s", "title": "t"})
    assert "author" in str(caught.value)
    with pytest.raises(MissingRequiredValueError) as caught:
        await client.user.create(data={"email": None})  # type: ignore[typeddict-item]
    assert "email" in str(caught.value)
    user = await client.user.create(data={"email": "a@example.com"})
    with pytest.raises(MissingRequiredValueError) as caught:
        await client.user.update(where={"id": user.id}, data={"email": None})  # type: ignore[typeddict-item]
    assert "email" in str(caught.value)
    assert await client.user.count() == 1


async def test_field_not_found(client: Prisma) -> None:
    with pytest.raises(FieldNotFoundError) as caught:
        await client.user.find_many(where={"no_such_field": 1})  # type: ignore[arg-type]
    assert "no_such_field" in str(caught.value)
    with pytest.raises(FieldNotFoundError, match="data.bogus"):
        await client.user.create(data={"email": "a@example.com", "bogus": 1})  # type: ignore[typeddict-unknown-key]
    with pytest.raises(FieldNotFoundError, match="where.author.is.bogus"):
        await client.post.find_first(where={"author": {"is": {"bogus": 1}}})
    assert await client.user.count() == 0


async def test_raw_query_error(client: Prisma) -> None:
    with pytest.raises(RawQueryError) as caught:
        await client.query_raw("SELEC nonsense")
    assert caught.value.code == "P2010"
    assert "syntax error" in str(caught.value)
    with pytest.raises(RawQueryError, match="no such table"):
        await client.execute_raw("UPDATE no_such_table SET x = 1")
    with pytest.raises(RawQueryError, match="no such column"):
        await client.query_raw('SELECT no_such_column FROM "User"')


async def test_raw_constraint_violations(client: Prisma) -> None:
    await client.execute_raw('INSERT INTO "User" (email, "updatedAt") VALUES (?, ?)', "raw@example.com", "2024-01-01T00:00:00.000+00:00")
    with pytest.raises(DataError) as caught:
        await client.execute_raw('INSERT INTO "User" (email, "updatedAt") VALUES (?, ?)', "raw@example.com", "2024-01-01T00:00:00.000+00:00")
    assert "UNIQUE constraint failed" in str(caught.value)
    with pytest.raises(DataError) as caught:
        await client.execute_raw(
            "INSERT INTO posts (slug, title, author_id, updated_at) VALUES ('s', 't', 424242, '2024-01-01')"
        )
    assert "FOREIGN KEY constraint failed" in str(caught.value)
    assert await client.user.count() == 1
    assert await client.post.count() == 0


async def test_data_error_on_wrong_value_type(client: Prisma) -> None:
    """A value of the wrong type is a validation error (P2009), not a write."""
    with pytest.raises(DataError) as caught:
        await client.scalars.create(
            data={
                "text": "t", "number": "not a number", "bigNumber": 1, "ratio": 1.0,  # type: ignore[typeddict-item]
                "amount": Decimal("1"), "flag": True, "moment": dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc),
                "blob": fields.Base64.encode(b""),
            }
        )
    assert caught.value.code == "P2009"
    with pytest.raises(DataError):
        await client.user.find_many(take="ten")  # type: ignore[arg-type]
    assert await client.scalars.count() == 0


async def test_data_error_for_invalid_datetime_string_in_raw(client: Prisma) -> None:
    """A value the engine cannot read back is a DataError, never a crash of the engine."""
    user = await client.user.create(data={"email": "a@example.com"})
    await client.execute_raw('UPDATE "User" SET "createdAt" = ? WHERE id = ?', "not a date", user.id)
    with pytest.raises(DataError):
        await client.user.find_unique(where={"id": user.id})
    # the engine is fine: other queries still work
    await client.execute_raw('UPDATE "User" SET "createdAt" = ? WHERE id = ?', "2024-01-01T00:00:00.000+00:00", user.id)
    found = await client.user.find_unique(where={"id": user.id})
    assert found is not None and found.createdAt == dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)


async def test_errors_leave_the_engine_usable(client: Prisma) -> None:
    for _ in range(5):
        with pytest.raises(UniqueViolationError):
            await client.user.create_many(data=[{"email": "x@example.com"}, {"email": "x@example.com"}])
        with pytest.raises(RawQueryError):
            await client.query_raw("SELECT * FROM nowhere")
    created = await client.user.create(data={"email": "ok@example.com"})
    assert await client.user.find_unique(where={"id": created.id}) is not None
    assert await client.user.count() == 1


async def test_missing_table_is_table_not_found_error(tmp_path: Path) -> None:
    """ENGINE BUG: a missing table is P2021 (TableNotFoundError) for the Rust engine; engine/
    answers a generic error without an error_code ("Error occurred during query execution:
    ConnectorError(... SqliteError { extended_code: 1, message: "SQLITE_ERROR: no such table:
    main.User" })"), so the client raises a bare DataError.
    """
    empty = tmp_path / "no-tables.db"
    sqlite3.connect(empty).close()
    client = Prisma(datasource={"url": sqlite_url(empty)})
    await client.connect()
    try:
        with pytest.raises(DataError, match="User") as caught:
            await client.user.find_many()
        assert isinstance(caught.value, TableNotFoundError), repr(caught.value)
        assert caught.value.code == "P2021"
    finally:
        await client.disconnect()
