"""The `garage` command line, run as a real process on a migrated temporary database."""

from __future__ import annotations

from pathlib import Path

import pytest

from garage.config import load_settings
from garage.db import create_prisma
from garage.vocabulary import Role
from garage.repositories.unit_of_work import Database
from garage.services.container import Services
from tests.database import apply_migrations
from tests.ops.serving import garage


@pytest.mark.asyncio
async def test_keys_create_prints_a_working_key_once(tmp_path: Path) -> None:
    database = tmp_path / "cli.db"
    apply_migrations(database)
    result = garage("keys", "create", "--name", "night shift", "--role", "operator", database=database)
    assert result.returncode == 0, result.stderr
    key = result.stdout.strip()
    settings = load_settings(DATABASE_URL=f"file:{database}", GARAGE_ENV="test")
    db = create_prisma(settings)
    await db.connect()
    try:
        principal = await Services.build(settings, Database(db)).keys.verify(key)
        assert principal is not None and principal.role is Role.OPERATOR
        stored = await db.apikey.find_first(where={"name": "night shift"})
        assert stored is not None and key not in stored.hash and stored.hash != key
        audit = await db.auditlog.find_first(where={"entity": "ApiKey", "entityId": stored.id})
        assert audit is not None and audit.actor == "cli"
    finally:
        await db.disconnect()


def test_keys_create_refuses_an_unknown_role(tmp_path: Path) -> None:
    database = tmp_path / "cli.db"
    apply_migrations(database)
    result = garage("keys", "create", "--name", "x", "--role", "root", database=database)
    assert result.returncode != 0
    assert "root" in result.stderr
