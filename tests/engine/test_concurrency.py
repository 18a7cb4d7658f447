"""Concurrency: readers beside an open transaction, concurrent writes, several OS processes.

Nothing here measures time. Bounds (asyncio.wait_for) are generous and far below the
transaction's own timeout: a read that had to wait for the transaction could only finish after
the commit, which comes later, so such a read would hit the bound instead.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys
import textwrap
from pathlib import Path
from typing import Callable

import pytest

from conftest import CLIENT_ROOT, sqlite_url
from engine_test_client import Prisma

pytestmark = pytest.mark.asyncio(loop_scope="session")

TX_TIMEOUT = dt.timedelta(seconds=60)
READ_BOUND_S = 20.0  # far below TX_TIMEOUT


async def test_read_outside_a_transaction_does_not_wait_for_it(client: Prisma) -> None:
    await client.user.create(data={"email": "committed@example.com"})
    manager = client.tx(timeout=TX_TIMEOUT)
    tx = await manager.start()
    try:
        # the transaction holds SQLite's write lock from here on
        await tx.user.create(data={"email": "uncommitted@example.com"})
        await tx.user.update(where={"email": "committed@example.com"}, data={"name": "changed in tx"})

        # reads outside the transaction complete while it stays open, and see only committed data
        users = await asyncio.wait_for(client.user.find_many(order={"id": "asc"}), READ_BOUND_S)
        assert [(u.email, u.name) for u in users] == [("committed@example.com", None)]
        assert await asyncio.wait_for(client.user.count(), READ_BOUND_S) == 1
        grouped = await asyncio.wait_for(client.user.group_by(by=["name"], count=True), READ_BOUND_S)
        assert grouped == [{"name": None, "_count": {"_all": 1}}]

        # the transaction is still open and still works
        assert await tx.user.count() == 2
        await manager.commit()
    except BaseException:
        await manager.rollback()
        raise
    users = await client.user.find_many(order={"id": "asc"})
    assert [(u.email, u.name) for u in users] == [
        ("committed@example.com", "changed in tx"),
        ("uncommitted@example.com", None),
    ]


async def test_write_outside_a_transaction_waits_for_it(client: Prisma) -> None:
    """A write issued while a transaction is open runs after the commit (one writer), not inside it."""
    manager = client.tx(timeout=TX_TIMEOUT)
    tx = await manager.start()
    try:
        await tx.user.create(data={"email": "tx@example.com"})
        outside = asyncio.create_task(client.user.create(data={"email": "outside@example.com"}))
        await asyncio.sleep(0.3)
        assert not outside.done(), "a write outside the transaction ran while it held the write lock"
        # the transaction does not see the queued write
        assert await tx.user.find_unique(where={"email": "outside@example.com"}) is None
        await manager.commit()
    except BaseException:
        await manager.rollback()
        raise
    created = await asyncio.wait_for(outside, READ_BOUND_S)
    tx_user = await client.user.find_unique(where={"email": "tx@example.com"})
    assert tx_user is not None and created.id > tx_user.id  # written after the transaction's row


async def test_concurrent_writes_from_gather(client: Prisma) -> None:
    author = await client.user.create(data={"email": "author@example.com"})
    post = await client.post.create(data={"slug": "counter", "title": "t", "authorId": author.id})

    async def create(i: int) -> None:
        await client.user.create(data={"email": f"user{i}@example.com"})

    async def bump() -> None:
        await client.post.update(where={"id": post.id}, data={"views": {"increment": 1}})

    await asyncio.gather(*(create(i) for i in range(60)), *(bump() for _ in range(60)))
    assert await client.user.count() == 61
    assert len({u.email for u in await client.user.find_many()}) == 61
    refreshed = await client.post.find_unique(where={"id": post.id})
    assert refreshed is not None and refreshed.views == 60


async def test_concurrent_interactive_transactions_from_gather(client: Prisma) -> None:
    """Read-modify-write in concurrent transactions: serialised, so no update is lost."""
    author = await client.user.create(data={"email": "author@example.com"})
    post = await client.post.create(data={"slug": "counter", "title": "t", "authorId": author.id})

    async def transfer() -> None:
        async with client.tx(max_wait=dt.timedelta(seconds=60), timeout=dt.timedelta(seconds=60)) as tx:
            current = await tx.post.find_unique_or_raise(where={"id": post.id})
            await tx.post.update(where={"id": post.id}, data={"views": current.views + 1})

    await asyncio.gather(*(transfer() for _ in range(15)))
    refreshed = await client.post.find_unique(where={"id": post.id})
    assert refreshed is not None and refreshed.views == 15


async def test_reads_and_writes_mixed_from_gather(client: Prisma) -> None:
    await client.user.create_many(data=[{"email": f"seed{i}@example.com"} for i in range(10)])

    async def read() -> int:
        return await client.user.count(where={"email": {"startswith": "seed"}})

    async def write(i: int) -> None:
        await client.user.create(data={"email": f"new{i}@example.com"})

    results = await asyncio.gather(*(read() for _ in range(30)), *(write(i) for i in range(30)))
    assert all(count == 10 for count in results[:30])
    assert await client.user.count() == 40


WORKER = textwrap.dedent(
    """
    import asyncio, datetime, sys
    sys.path.insert(0, sys.argv[1])
    from engine_test_client import Prisma

    async def main(url: str, name: str, rounds: int, post_id: int) -> None:
        client = Prisma(datasource={"url": url})
        await client.connect()
        try:
            for i in range(rounds):
                async with client.tx(max_wait=datetime.timedelta(seconds=60), timeout=datetime.timedelta(seconds=60)) as tx:
                    post = await tx.post.find_unique_or_raise(where={"id": post_id})
                    await tx.user.create(data={"email": f"{name}-{i}@example.com"})
                    await tx.post.update(where={"id": post_id}, data={"views": post.views + 1})
                # and a plain write outside a transaction
                await client.category.create(data={"name": f"{name}-{i}"})
        finally:
            await client.disconnect()
        print("done", name)

    asyncio.run(main(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])))
    """
)


async def test_several_processes_write_one_database(
    new_database: Callable[..., Path], tmp_path: Path
) -> None:
    """Separate OS processes (each its own client and engine) on one file: every write lands.

    Each round is a read-modify-write of one counter in an interactive transaction; a lost update
    or a "database is locked" error would show in the final numbers or the exit codes.
    """
    database = new_database()
    url = sqlite_url(database)
    setup = Prisma(datasource={"url": url})
    await setup.connect()
    try:
        author = await setup.user.create(data={"email": "author@example.com"})
        post = await setup.post.create(data={"slug": "counter", "title": "t", "authorId": author.id})
    finally:
        await setup.disconnect()

    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    workers, rounds = 3, 15
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, str(script), str(CLIENT_ROOT), url, f"w{n}", str(rounds), str(post.id),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=os.environ.copy(),
        )
        for n in range(workers)
    ]
    outputs = [await asyncio.wait_for(p.communicate(), timeout=180) for p in procs]
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err.decode(errors="replace")[-3000:]
        assert out.decode().strip().startswith("done")

    check = Prisma(datasource={"url": url})
    await check.connect()
    try:
        assert await check.user.count() == 1 + workers * rounds
        assert await check.category.count() == workers * rounds
        counter = await check.post.find_unique(where={"id": post.id})
        assert counter is not None and counter.views == workers * rounds
    finally:
        await check.disconnect()
