"""Secrets for development and test databases, made for each database on first use.

Production must be given its secrets (settings.py refuses to start without them). Elsewhere a
well-known default key would make every development database decryptable by anyone who read the
source, and a development setup is one forgotten variable away from holding real data. So the
first process that needs a secret for a database writes random ones into `<db>.dev-secrets`
beside it (mode 0600) and every later process, worker or command on that database reads them.
The file belongs with its database: a copy of the database without it cannot decrypt its owner
fields (which is the point), and deleting the database is when to delete it.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)
# The key id the generated encryption key is stored under (`v1:<id>:...` in every sealed value).
KEY_ID_PREFIX = "dev-"


@dataclass(frozen=True)
class DevelopmentSecrets:
    secret_key: str
    encryption_key_id: str
    encryption_key: bytes


def development_secrets_path(database: Path) -> Path:
    return database.with_name(database.name + ".dev-secrets")


def development_secrets(database: Path) -> DevelopmentSecrets:
    """The database's development secrets, created on first use. Several processes starting at
    once agree on one set: the file appears whole and only once (written aside, then linked)."""
    path = development_secrets_path(database)
    if not path.exists():
        _create(path)
    stored = json.loads(path.read_text())
    return DevelopmentSecrets(
        secret_key=stored["secretKey"],
        encryption_key_id=stored["encryptionKeyId"],
        encryption_key=base64.b64decode(stored["encryptionKey"]),
    )


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = json.dumps(
        {
            "secretKey": secrets.token_urlsafe(32),
            "encryptionKeyId": KEY_ID_PREFIX + secrets.token_hex(4),
            "encryptionKey": base64.b64encode(secrets.token_bytes(32)).decode(),
        }
    )
    aside = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as file:
            file.write(document)
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(aside, path)  # fails if another process got there first: its secrets win
        except FileExistsError:
            return
        log.warning(
            "generated development secrets for this database in %s (production sets GARAGE_ENV=production, "
            "GARAGE_SECRET_KEY and GARAGE_ENCRYPTION_KEYS instead)",
            path,
        )
    finally:
        aside.unlink(missing_ok=True)


def copy_development_secrets(source: Path, target: Path) -> None:
    """Gives a copy of database `source` at `target` the secrets that can read it, when `source` has
    generated ones (a copy without them could not decrypt its sealed fields)."""
    original = development_secrets_path(source)
    if original.exists():
        copy = development_secrets_path(target)
        copy.unlink(missing_ok=True)
        fd = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(original.read_bytes())
