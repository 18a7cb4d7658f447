"""API keys (stored hashed)."""

from __future__ import annotations

from datetime import UTC, datetime

from prisma.models import ApiKey

from garage.repositories.base import Repository
from garage.repositories.pagination import Page, page_of, page_window
from garage.vocabulary import AuditAction, AuditEntity


class ApiKeyRepository(Repository):
    async def by_prefix(self, prefix: str) -> ApiKey | None:
        return await self._db.apikey.find_unique(where={"prefix": prefix})

    async def by_id(self, key_id: str) -> ApiKey | None:
        return await self._db.apikey.find_unique(where={"id": key_id})

    async def create(self, *, name: str, role: str, prefix: str, hash: str, validator_id: str | None = None) -> ApiKey:
        """`validator_id`: the validator a `validator` key validates with (None for the other roles)."""
        key = await self._writing().apikey.create(
            data={"name": name, "role": role, "prefix": prefix, "hash": hash, "validatorId": validator_id}
        )
        self._record(AuditAction.CREATE, AuditEntity.API_KEY, key.id, after=key)
        return key

    async def revoke(self, key: ApiKey) -> ApiKey:
        """Revokes `key` (read in the same transaction, not revoked yet)."""
        revoked = await self._writing().apikey.update(where={"id": key.id}, data={"revokedAt": datetime.now(UTC)})
        assert revoked is not None, f"API key {key.id} vanished inside its transaction"
        self._record(AuditAction.REVOKE, AuditEntity.API_KEY, key.id, before=key, after=revoked)
        return revoked

    async def list(self, *, limit: int, cursor: str | None) -> Page[ApiKey]:
        rows = await self._db.apikey.find_many(
            order=[{"createdAt": "desc"}, {"id": "desc"}],
            **page_window(limit, cursor),
        )
        return page_of(rows, limit)
