"""Revocation news shared by every process that serves one database.

Each uvicorn worker caches verified API keys (services/api_keys.py) so that authentication costs no
query. A revocation is committed by ONE worker; the others must stop accepting the key before the
DELETE answers. They learn of it through a small file beside the database,
`<db>.key-revocations`: the revoking process writes a new random token into it after the commit
and before it answers, and every verification first reads the token (one pread on a descriptor kept
open, about a microsecond) and drops its cache when the token changed. Reading the database on every
request would cost a query per request; a broker would be a second service to run.

A key revoked outside the service (Prisma Studio, SQL) does not touch the file: the cache's short
lifetime bounds that case.
"""

from __future__ import annotations

import os
from pathlib import Path

TOKEN_BYTES = 16


def revocations_path(database: Path) -> Path:
    return database.with_name(database.name + ".key-revocations")


class RevocationNews:
    """The token in `<db>.key-revocations`: `token()` reads it, `announce()` changes it."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Not inherited by the query engine the client spawns (PEP 446); private to the owner.
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        self.path = path

    def token(self) -> bytes:
        return os.pread(self._fd, TOKEN_BYTES, 0)

    def announce(self) -> None:
        """Tells every process that some key was revoked. The write replaces bytes already on
        disk, so it needs no new space; fsync is not needed (processes share the page cache)."""
        os.pwrite(self._fd, os.urandom(TOKEN_BYTES), 0)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
