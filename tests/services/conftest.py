"""Repository and service tests: the real generated client and engine on a migrated temp file.

`db` is one connected Prisma client for the whole session (an engine start costs ~0.5 s); tests
isolate themselves by creating their own rows (unique names), never by raw SQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from prisma import Prisma

from garage.config import load_settings
from garage.db import create_prisma
from garage.security.crypto import FieldCipher
from tests.database import apply_migrations


@pytest.fixture(scope="session")
def database_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("db") / "garage.db"
    apply_migrations(path)
    return path


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def db(database_file: Path) -> AsyncIterator[Prisma]:
    client = create_prisma(load_settings(DATABASE_URL=f"file:{database_file}"))
    await client.connect()
    yield client
    await client.disconnect()


@pytest.fixture(scope="session")
def cipher() -> FieldCipher:
    return FieldCipher((("old", b"\x01" * 32), ("new", b"\x02" * 32)))
