"""No well-known key anywhere: outside production each database gets its own generated secrets
(config/development_secrets.py); production refuses to start without its own."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from garage.config import load_settings
from garage.config.development_secrets import development_secrets_path
from garage.db import create_prisma
from garage.security.crypto import DecryptionFailed, FieldCipher
from tests.api.conftest import REPO, start_server
from tests.api.parking_data import API

OWNER_EMAIL = "owner@example.com"
WELL_KNOWN_KEY = b"\x00" * 32


def without_configured_secrets() -> dict[str, str]:
    return {name: value for name, value in os.environ.items()
            if name not in ("GARAGE_SECRET_KEY", "GARAGE_ENCRYPTION_KEYS")}


@pytest.fixture(autouse=True)
def no_configured_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GARAGE_SECRET_KEY", raising=False)
    monkeypatch.delenv("GARAGE_ENCRYPTION_KEYS", raising=False)


async def test_a_stored_owner_email_does_not_decrypt_with_a_well_known_key(tmp_path: Path) -> None:
    server = start_server(tmp_path)  # from os.environ, which the fixture above left without secrets
    try:
        created = server.client(server.admin_key).post(
            f"{API}/vehicles", json={"licensePlate": "DEV123", "type": "CAR", "ownerEmail": OWNER_EMAIL}
        )
        assert created.status_code == 201, created.text
    finally:
        server.stop()
    secrets_file = development_secrets_path(server.database)
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    settings = load_settings(DATABASE_URL=f"file:{server.database}", GARAGE_ENV="test")
    db = create_prisma(settings)
    await db.connect()
    try:
        vehicle = await db.vehicle.find_first(where={"licensePlate": "DEV123"})
    finally:
        await db.disconnect()
    assert vehicle is not None and vehicle.ownerEmail is not None and OWNER_EMAIL not in vehicle.ownerEmail
    key_id = FieldCipher(settings.encryption_keys).key_id_of(vehicle.ownerEmail)
    with pytest.raises(DecryptionFailed):
        FieldCipher(((key_id, WELL_KNOWN_KEY),)).decrypt(vehicle.ownerEmail, "Vehicle.ownerEmail")
    # the service's own key (read back from the file by any later process) still does
    assert FieldCipher(settings.encryption_keys).decrypt(vehicle.ownerEmail, "Vehicle.ownerEmail") == OWNER_EMAIL


def test_each_database_gets_its_own_secrets(tmp_path: Path) -> None:
    first = load_settings(DATABASE_URL=f"file:{tmp_path / 'one.db'}", GARAGE_ENV="development")
    second = load_settings(DATABASE_URL=f"file:{tmp_path / 'two.db'}", GARAGE_ENV="test")
    assert first.encryption_keys != second.encryption_keys
    assert first.secret_key.get_secret_value() != second.secret_key.get_secret_value()
    assert all(key != WELL_KNOWN_KEY for _, key in (*first.encryption_keys, *second.encryption_keys))


def test_processes_starting_together_agree_on_one_set_of_secrets(tmp_path: Path) -> None:
    """Several workers and commands may be the first to need a new database's secrets at once."""
    database = tmp_path / "together.db"
    program = (
        "from garage.config import load_settings; s = load_settings(GARAGE_ENV='test'); "
        "print(s.encryption_keys[0][0], s.encryption_keys[0][1].hex(), s.secret_key.get_secret_value())"
    )
    env = {**without_configured_secrets(), "DATABASE_URL": f"file:{database}"}
    processes = [subprocess.Popen([sys.executable, "-c", program], cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
                 for _ in range(6)]
    outputs = {process.communicate(timeout=60)[0] for process in processes}
    assert all(process.returncode == 0 for process in processes)
    assert len(outputs) == 1
    assert sorted(path.name for path in tmp_path.iterdir()) == ["together.db.dev-secrets"]


def test_configured_keys_win_and_nothing_is_generated(tmp_path: Path) -> None:
    key = "k1:" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVoxMjM0NTY="
    settings = load_settings(DATABASE_URL=f"file:{tmp_path / 'set.db'}", GARAGE_ENV="test",
                             GARAGE_ENCRYPTION_KEYS=key, GARAGE_SECRET_KEY="configured")
    assert settings.encryption_keys[0][0] == "k1" and settings.secret_key.get_secret_value() == "configured"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("missing", ["GARAGE_SECRET_KEY", "GARAGE_ENCRYPTION_KEYS"])
def test_production_refuses_to_start_without_its_secrets(tmp_path: Path, missing: str) -> None:
    given = {"GARAGE_SECRET_KEY": "configured", "GARAGE_ENCRYPTION_KEYS": "k1:" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVoxMjM0NTY="}
    del given[missing]
    with pytest.raises(ValidationError, match=missing):
        load_settings(DATABASE_URL=f"file:{tmp_path / 'prod.db'}", GARAGE_ENV="production", **given)
    assert list(tmp_path.iterdir()) == []
