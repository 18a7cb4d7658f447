"""Interactive transactions and transactional batches: through the client, and as raw HTTP."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any, Callable

import pytest

from conftest import EngineProcess, create_user_query, user_emails_in_file
from engine_test_client import Prisma
from engine_test_client.engine.errors import EngineRequestError, UnprocessableEntityError
from engine_test_client.errors import TransactionError, TransactionExpiredError, UniqueViolationError

pytestmark = pytest.mark.asyncio(loop_scope="session")

def ms(n: int) -> dt.timedelta:
    return dt.timedelta(milliseconds=n)


async def test_commit(client: Prisma) -> None:
    async with client.tx() as tx:
        user = await tx.user.create(data={"email": "a@example.com"})
        await tx.post.create(data={"slug": "s", "title": "t", "authorId": user.id})
        # the transaction sees its own writes...
        assert await tx.user.count() == 1
        found = await tx.user.find_unique(where={"id": user.id}, include={"posts": True})
        assert found is not None and len(found.posts or []) == 1
        # ...the rest of the world does not, yet
        assert await client.user.count() == 0
        assert await client.user.find_unique(where={"id": user.id}) is None
    assert await client.user.count() == 1
    assert await client.post.count() == 1


async def test_rollback_on_exception(client: Prisma) -> None:
    await client.user.create(data={"email": "before@example.com"})
    with pytest.raises(RuntimeError, match="boom"):
        async with client.tx() as tx:
            await tx.user.create(data={"email": "inside@example.com"})
            await tx.user.update(where={"email": "before@example.com"}, data={"name": "changed"})
            raise RuntimeError("boom")
    assert [u.email for u in await client.user.find_many()] == ["before@example.com"]
    before = await client.user.find_unique(where={"email": "before@example.com"})
    assert before is not None and before.name is None


async def test_rollback_on_query_error(client: Prisma) -> None:
    with pytest.raises(UniqueViolationError):
        async with client.tx() as tx:
            await tx.user.create(data={"email": "a@example.com"})
            await tx.user.create(data={"email": "a@example.com"})
    assert await client.user.count() == 0


async def test_explicit_rollback(client: Prisma) -> None:
    manager = client.tx()
    tx = await manager.start()
    await tx.user.create(data={"email": "a@example.com"})
    assert await tx.user.count() == 1
    await manager.rollback()
    assert await client.user.count() == 0
    # the transaction is over: its client can no longer be used
    with pytest.raises(TransactionExpiredError, match="Transaction already closed"):
        await tx.user.count()


async def test_explicit_commit_and_reuse_after_commit(client: Prisma) -> None:
    manager = client.tx()
    tx = await manager.start()
    await tx.user.create(data={"email": "a@example.com"})
    await manager.commit()
    assert await client.user.count() == 1
    with pytest.raises(TransactionExpiredError, match="committed"):
        await tx.user.create(data={"email": "b@example.com"})
    assert await client.user.count() == 1


async def test_timeout_expires_the_transaction_for_queries(client: Prisma) -> None:
    manager = client.tx(timeout=ms(200))
    tx = await manager.start()
    await tx.user.create(data={"email": "a@example.com"})
    await asyncio.sleep(0.6)
    with pytest.raises(TransactionExpiredError, match="expired"):
        await tx.user.create(data={"email": "b@example.com"})
    # the engine rolled it back
    assert await client.user.count() == 0


async def test_timeout_expires_the_transaction_for_commit(client: Prisma) -> None:
    """Committing an expired transaction fails and commits nothing.

    The engine answers 422 with P2028 "Transaction already closed: A commit cannot be executed on
    an expired transaction" (the Rust engine's status for a closed transaction); Prisma Client
    Python turns every 422 into UnprocessableEntityError, so that is what the caller sees.
    """
    with pytest.raises(UnprocessableEntityError) as caught:
        async with client.tx(timeout=ms(200)) as tx:
            await tx.user.create(data={"email": "a@example.com"})
            await asyncio.sleep(0.6)
    assert caught.value.response.status == 422
    assert await client.user.count() == 0
    # and the engine is free for the next transaction
    async with client.tx() as tx:
        await tx.user.create(data={"email": "b@example.com"})
    assert await client.user.count() == 1


async def test_expired_transaction_inside_context_raises_expired(client: Prisma) -> None:
    with pytest.raises(TransactionExpiredError):
        async with client.tx(timeout=ms(100)) as tx:
            await asyncio.sleep(0.4)
            await tx.user.create(data={"email": "a@example.com"})
    assert await client.user.count() == 0


async def test_batch_inside_transaction(client: Prisma) -> None:
    async with client.tx() as tx:
        user = await tx.user.create(data={"email": "a@example.com"})
        async with tx.batch_() as batcher:
            batcher.post.create(data={"slug": "1", "title": "1", "authorId": user.id})
            batcher.post.create(data={"slug": "2", "title": "2", "authorId": user.id})
        assert await tx.post.count() == 2
        assert await client.post.count() == 0
    assert await client.post.count() == 2

    with pytest.raises(RuntimeError):
        async with client.tx() as tx:
            async with tx.batch_() as batcher:
                batcher.post.create(data={"slug": "3", "title": "3", "authorId": user.id})
                batcher.post.delete_many(where={"slug": "1"})
            assert await tx.post.count() == 2
            raise RuntimeError("undo the batch too")
    assert sorted(p.slug for p in await client.post.find_many()) == ["1", "2"]


async def test_second_transaction_waits_for_the_first(client: Prisma) -> None:
    """One writer: a second transaction starts only once the first has finished."""
    events: list[str] = []
    first_manager = client.tx(timeout=dt.timedelta(seconds=30))
    first = await first_manager.start()
    try:
        await first.user.create(data={"email": "first@example.com"})

        async def second() -> None:
            async with client.tx(max_wait=dt.timedelta(seconds=30), timeout=dt.timedelta(seconds=30)) as tx:
                events.append("second started")
                # it starts after the first committed, so it sees both of the first's rows
                assert await tx.user.count() == 2
                await tx.user.create(data={"email": "second@example.com"})

        task = asyncio.create_task(second())
        await asyncio.sleep(0.3)
        assert not task.done(), "the second transaction started while the first was open"
        assert events == []
        await first.user.create(data={"email": "first-again@example.com"})
        events.append("first committing")
        await first_manager.commit()
    except BaseException:
        await first_manager.rollback()
        raise
    await asyncio.wait_for(task, timeout=60)
    assert events == ["first committing", "second started"]
    assert await client.user.count() == 3


async def test_max_wait_shorter_than_the_open_transaction_fails(client: Prisma) -> None:
    first_manager = client.tx(timeout=dt.timedelta(seconds=30))
    first = await first_manager.start()
    try:
        await first.user.create(data={"email": "first@example.com"})
        with pytest.raises(EngineRequestError) as caught:
            await client.tx(max_wait=ms(300)).start()
        # the Rust engine's answer: 504 with P2028 "Unable to start a transaction in the given time."
        assert caught.value.response.status == 504
        assert "P2028" in str(caught.value)
        assert "Unable to start a transaction in the given time" in str(caught.value)
        # the first transaction is unaffected
        await first.user.create(data={"email": "first-2@example.com"})
        await first_manager.commit()
    except BaseException:
        await first_manager.rollback()
        raise
    assert await client.user.count() == 2


async def test_transaction_not_started(client: Prisma) -> None:
    manager = client.tx()
    with pytest.raises(TransactionError):
        await manager.commit()
    with pytest.raises(TransactionError):
        await manager.rollback()


# --- raw HTTP --------------------------------------------------------------------------------


@pytest.fixture
def engine(spawn_engine: Callable[..., EngineProcess], new_database: Callable[..., Path]) -> EngineProcess:
    return spawn_engine(database=new_database())


def start_tx(engine: EngineProcess, **options: Any) -> str:
    response = engine.post("/transaction/start", {"max_wait": 2000, "timeout": 10000, **options})
    assert response.status_code == 200, response.text
    tx_id = response.json()["id"]
    assert isinstance(tx_id, str) and tx_id
    return tx_id


def p2028(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    assert body["error_code"] == "P2028", body
    assert body["is_panic"] is False
    return body


async def test_http_commit_and_rollback_of_unknown_id(engine: EngineProcess) -> None:
    for action in ("commit", "rollback"):
        for tx_id in ("nope", "x" * 300, "00000000-0000-0000-0000-000000000000", "%20", "a%2Fb"):
            response = engine.post(f"/transaction/{tx_id}/{action}")
            assert response.status_code == 404, (action, tx_id, response.text)
            assert "Transaction not found" in p2028(response)["message"]
    assert engine.graphql("query {\n  result: findManyUser {\n    id\n  }\n}").json() == {"data": {"result": []}}


async def test_http_commit_twice_and_rollback_after_commit(engine: EngineProcess) -> None:
    tx_id = start_tx(engine)
    assert engine.graphql(create_user_query("a@example.com"), tx_id=tx_id).status_code == 200
    first = engine.post(f"/transaction/{tx_id}/commit")
    assert first.status_code == 200 and first.json() == {}
    for action in ("commit", "rollback"):
        again = engine.post(f"/transaction/{tx_id}/{action}")
        assert again.status_code == 422, again.text
        assert "Transaction already closed" in p2028(again)["message"]
        assert "committed" in again.json()["message"]
    # a query naming the committed transaction: 200 with the P2028 error, as the client expects
    late = engine.graphql(create_user_query("late@example.com"), tx_id=tx_id)
    assert late.status_code == 200
    [error] = late.json()["errors"]
    assert error["error"].startswith("Transaction already closed")
    assert error["user_facing_error"]["error_code"] == "P2028"
    assert engine.database is not None
    assert user_emails_in_file(engine.database) == ["a@example.com"]


async def test_http_rollback_then_commit(engine: EngineProcess) -> None:
    tx_id = start_tx(engine)
    engine.graphql(create_user_query("a@example.com"), tx_id=tx_id)
    assert engine.post(f"/transaction/{tx_id}/rollback").status_code == 200
    response = engine.post(f"/transaction/{tx_id}/commit")
    assert response.status_code == 422
    assert "rolled back" in p2028(response)["message"]
    assert engine.database is not None
    assert user_emails_in_file(engine.database) == []


async def test_http_expired_transaction(engine: EngineProcess) -> None:
    tx_id = start_tx(engine, timeout=200)
    engine.graphql(create_user_query("a@example.com"), tx_id=tx_id)
    await asyncio.sleep(0.6)
    response = engine.post(f"/transaction/{tx_id}/commit")
    assert response.status_code == 422
    body = p2028(response)
    assert "expired" in body["message"]
    assert body["meta"]["error"].startswith("Transaction already closed")
    assert engine.database is not None
    assert user_emails_in_file(engine.database) == []
    # the write lock was released: a new transaction starts and commits
    tx2 = start_tx(engine)
    engine.graphql(create_user_query("b@example.com"), tx_id=tx2)
    assert engine.post(f"/transaction/{tx2}/commit").status_code == 200
    assert user_emails_in_file(engine.database) == ["b@example.com"]


async def test_http_transactional_batch_with_a_failing_item_writes_nothing(engine: EngineProcess) -> None:
    batch: dict[str, Any] = {
        "batch": [
            {"query": create_user_query("one@example.com"), "variables": {}},
            {"query": create_user_query("two@example.com"), "variables": {}},
            {"query": create_user_query("one@example.com"), "variables": {}},  # duplicate
        ],
        "transaction": True,
    }
    response = engine.post("/", batch)
    body = response.json()
    assert "errors" in body, body
    assert body["errors"][0]["user_facing_error"]["error_code"] == "P2002"
    assert engine.database is not None
    assert user_emails_in_file(engine.database) == []

    # the same batch without the duplicate commits every item
    batch["batch"] = batch["batch"][:2]
    ok = engine.post("/", batch).json()
    assert [item["data"]["result"]["email"] for item in ok["batchResult"]] == ["one@example.com", "two@example.com"]
    assert user_emails_in_file(engine.database) == ["one@example.com", "two@example.com"]


async def test_http_transactional_batch_inside_interactive_transaction(engine: EngineProcess) -> None:
    tx_id = start_tx(engine)
    batch = {"batch": [{"query": create_user_query(f"{i}@example.com"), "variables": {}} for i in range(3)], "transaction": True}
    response = engine.post("/", batch, headers={"X-transaction-id": tx_id})
    assert len(response.json()["batchResult"]) == 3
    assert engine.database is not None
    assert user_emails_in_file(engine.database) == []
    assert engine.post(f"/transaction/{tx_id}/rollback").status_code == 200
    assert user_emails_in_file(engine.database) == []


async def test_http_start_options(engine: EngineProcess) -> None:
    # no body at all: the defaults
    response = engine.post("/transaction/start", content=b"")
    assert response.status_code == 200, response.text
    assert engine.post(f"/transaction/{response.json()['id']}/rollback").status_code == 200
    # isolation level: SQLite is always serializable
    response = engine.post("/transaction/start", {"max_wait": 1000, "timeout": 1000, "isolation_level": "Serializable"})
    assert response.status_code == 200, response.text
    assert engine.post(f"/transaction/{response.json()['id']}/commit").status_code == 200
    assert engine.graphql(create_user_query("after@example.com")).status_code == 200


async def test_http_max_wait(engine: EngineProcess) -> None:
    tx_id = start_tx(engine)
    response = engine.post("/transaction/start", {"max_wait": 200, "timeout": 5000})
    assert response.status_code == 504
    assert "Unable to start a transaction in the given time" in p2028(response)["message"]
    assert engine.post(f"/transaction/{tx_id}/commit").status_code == 200
    tx2 = start_tx(engine)
    assert engine.post(f"/transaction/{tx2}/commit").status_code == 200


async def test_http_transaction_ids_are_unique(engine: EngineProcess) -> None:
    ids = []
    for _ in range(20):
        tx_id = start_tx(engine)
        ids.append(tx_id)
        assert engine.post(f"/transaction/{tx_id}/commit").status_code == 200
    assert len(set(ids)) == 20
    assert json.loads(engine.http.get("/status").text) == {"status": "ok"}


async def test_http_kill_keeps_commits_and_drops_open_transactions(
    spawn_engine: Callable[..., EngineProcess], new_database: Callable[..., Path]
) -> None:
    """SIGKILL right after a commit: the commit is on disk; the open transaction is gone, and its
    write lock with it, so the next engine on the file writes at once."""
    database = new_database()
    engine = spawn_engine(database=database)
    committed = start_tx(engine)
    engine.graphql(create_user_query("committed@example.com"), tx_id=committed)
    assert engine.post(f"/transaction/{committed}/commit").status_code == 200
    engine.graphql(create_user_query("autocommit@example.com"))
    doomed = start_tx(engine, timeout=60000)
    engine.graphql(create_user_query("doomed@example.com"), tx_id=doomed)
    engine.process.kill()
    engine.process.wait(timeout=30)

    assert user_emails_in_file(database) == ["committed@example.com", "autocommit@example.com"]
    successor = spawn_engine(database=database, env={"ENGINE_BUSY_TIMEOUT_MS": "0"})
    response = successor.graphql(create_user_query("next@example.com")).json()
    assert response["data"]["result"]["email"] == "next@example.com", response
    assert user_emails_in_file(database) == ["committed@example.com", "autocommit@example.com", "next@example.com"]


async def test_http_shutdown_rolls_back_open_transactions(
    spawn_engine: Callable[..., EngineProcess], new_database: Callable[..., Path]
) -> None:
    database = new_database()
    engine = spawn_engine(database=database)
    tx_id = start_tx(engine, timeout=60000)
    engine.graphql(create_user_query("open@example.com"), tx_id=tx_id)
    engine.stop()  # SIGINT, as the client disconnects
    assert engine.process.returncode == 0
    assert user_emails_in_file(database) == []
