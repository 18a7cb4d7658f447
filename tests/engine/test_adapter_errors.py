"""SQLite's own error reaches the client when the driver adapter fails, on a real full disk.

The database lives on a small tmpfs mount (the tests run as root, here and in CI; a failed mount
fails the test, it is never skipped), a filler file takes every free byte, and the generated client
writes through the real engine. A small write fits in SQLite's page cache, so it fails only when
its COMMIT appends to the WAL: that COMMIT is a call into the driver adapter, which the engine used
to answer with a bare P2036 "Error in external connector (id N)". Now the answer carries SQLite's
words and code (engine/src/adapter-errors.js), which Garage matches to say "the disk is full"
(src/garage/runtime/diskspace.py)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conftest import sqlite_url
from engine_test_client import Prisma
from engine_test_client.errors import PrismaError

DISK_SIZE = "4m"
DISK_FULL = "database or disk is full"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir(mode=0o700)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_SIZE},mode=0700", "tmpfs", str(mount)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.fail(f"the full-disk tests need a tmpfs mount (run as root / CAP_SYS_ADMIN): {mounted.stderr.strip()}")
    try:
        yield mount
    finally:
        if subprocess.run(["umount", str(mount)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mount)], check=True)  # a process still holds a file: detach


def fill(disk: Path) -> Path:
    """Takes every free byte of `disk` (down to the last one) with one file; deleting it gives them back."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as out:
        for chunk in (65536, 4096, 1):
            try:
                while True:
                    out.write(b"\0" * chunk)
            except OSError:
                pass
    return filler


@pytest.mark.asyncio
async def test_commits_on_a_full_disk_fail_with_sqlites_message(
    small_disk: Path, new_database: Callable[..., Path]
) -> None:
    database = new_database(folder=small_disk)
    client = Prisma(datasource={"url": sqlite_url(database)})
    await client.connect()
    try:
        await client.user.create(data={"email": "before@example.com"})
        filler = fill(small_disk)

        # An interactive transaction: its statement fits in the page cache; its COMMIT does not fit on disk.
        transaction = client.tx()
        tx = await transaction.start()
        await tx.user.create(data={"email": "interactive@example.com"})
        with pytest.raises(PrismaError) as failed_commit:
            await transaction.commit()
        assert DISK_FULL in str(failed_commit.value)
        assert "SQLITE_FULL" in str(failed_commit.value)

        # A transactional batch: the engine commits it itself.
        with pytest.raises(PrismaError) as failed_batch:
            async with client.batch_() as batch:
                batch.user.create(data={"email": "batch@example.com"})
        assert DISK_FULL in str(failed_batch.value)

        # A single write (the engine runs it in a transaction of its own) and a raw write.
        with pytest.raises(PrismaError) as failed_write:
            await client.user.create(data={"email": "single@example.com"})
        assert DISK_FULL in str(failed_write.value)
        with pytest.raises(PrismaError) as failed_raw:
            await client.execute_raw("INSERT INTO \"User\" (email, updatedAt) VALUES ('raw@example.com', 0)")
        assert DISK_FULL in str(failed_raw.value)

        # Nothing was written, and no failed transaction was left open: once there is room, the
        # same engine commits again.
        filler.unlink()
        async with client.tx() as again:
            await again.user.create(data={"email": "after@example.com"})
        assert [user.email for user in await client.user.find_many(order={"id": "asc"})] == [
            "before@example.com", "after@example.com"]
    finally:
        await client.disconnect()
