"""API keys (stored hashed)."""

from __future__ import annotations

from datetime import UTC, datetime

from prisma import Prisma
from prisma.models import ApiKey

from garage.repositories.pagination import Page, page_of, page_window


class ApiKeyRepository:
    def __init__(self, db: Prisma) -> None:
        self._db = db

    async def by_prefix(self, prefix: str) -> ApiKey | None:
        return await self._db.apikey.find_unique(where={"prefix": prefix})

    async def by_id(self, key_id: str) -> ApiKey | None:
        return await self._db.apikey.find_unique(where={"id": key_id})

    async def create(self, *, name: str, role: str, prefix: str, hash: str) -> ApiKey:
        return await self._db.apikey.create(data={"name": name, "role": role, "prefix": prefix, "hash": hash})

    async def revoke(self, key_id: str) -> ApiKey | None:
        return await self._db.apikey.update(where={"id": key_id}, data={"revokedAt": datetime.now(UTC)})

    async def list(self, *, limit: int, cursor: str | None) -> Page[ApiKey]:
        rows = await self._db.apikey.find_many(
            order=[{"createdAt": "desc"}, {"id": "desc"}],
            **page_window(limit, cursor),
        )
        return page_of(rows, limit)
