"""API keys: issuing, revoking, verifying (with a short in-process cache), and the admin key
from GARAGE_ADMIN_API_KEY that start-up makes sure exists.

Revocation holds everywhere once its DELETE has answered: the revoking process announces it through
`RevocationNews` (security/revocations.py) before answering, and every process drops its cache when
it sees the news, before it trusts a cached key."""

from __future__ import annotations

import time
from dataclasses import dataclass

from garage.errors import NotFound, UniqueViolation, ValidationFailed, found
from garage.repositories.pagination import Page
from garage.repositories.records import ApiKey
from garage.repositories.unit_of_work import Database, UnitOfWork
from garage.security import api_keys
from garage.security.principal import Principal
from garage.security.revocations import RevocationNews
from garage.vocabulary import SYSTEM_ACTOR, Role

# Verified keys are remembered this long. Revocations through the service reach every worker at
# once (RevocationNews); this bounds only revocations made behind the service's back (Studio, SQL).
CACHE_SECONDS = 5.0
# Unknown keys are remembered too (so guessing costs no query); past this many entries the expired
# ones are dropped, so the cache stays bounded whatever clients send.
CACHE_ENTRIES = 10_000


@dataclass(frozen=True)
class CreatedKey:
    record: ApiKey
    key: str


class ApiKeyService:
    def __init__(self, db: Database, secret: str, revocations: RevocationNews) -> None:
        self._db = db
        self._secret = secret
        self._revocations = revocations
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._revocation_token = revocations.token()

    async def verify(self, key: str) -> Principal | None:
        self._forget_if_revoked_elsewhere()
        digest = api_keys.hash_key(key, self._secret)
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        principal = await self._lookup(key)
        now = time.monotonic()
        if len(self._cache) >= CACHE_ENTRIES:
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
            if len(self._cache) >= CACHE_ENTRIES:
                self._cache.clear()
        self._cache[digest] = (now + CACHE_SECONDS, principal)
        return principal

    def _forget_if_revoked_elsewhere(self) -> None:
        token = self._revocations.token()
        if token != self._revocation_token:
            self._cache.clear()
            self._revocation_token = token

    async def _lookup(self, key: str) -> Principal | None:
        record = await self._db.api_keys.by_prefix(api_keys.derive_prefix(key))
        if record is None or record.revokedAt is not None:
            return None
        if not api_keys.matches(key, record.hash, self._secret):
            return None
        return Principal(key_id=record.id, role=Role(record.role), validator_id=record.validatorId)

    async def create(self, *, name: str, role: Role, actor: str, validator_id: str | None = None) -> CreatedKey:
        """A `validator` key needs `validator_id` (a merchant's key validates with that validator
        only); the other roles take none. ValidationFailed otherwise, NotFound for an unknown validator."""
        if role is Role.VALIDATOR and validator_id is None:
            raise ValidationFailed(
                "A validator key needs a validatorId",
                details={"fields": {"validatorId": "required for role validator"}},
            )
        if role is not Role.VALIDATOR and validator_id is not None:
            raise ValidationFailed(
                "Only a validator key takes a validatorId",
                details={"fields": {"validatorId": f"not allowed for role {role.value}"}},
            )
        issued = api_keys.issue_key()

        async def work(unit: UnitOfWork) -> ApiKey:
            if validator_id is not None:
                found(await unit.validators.get(validator_id), f"validator {validator_id}")
            return await unit.api_keys.create(
                name=name,
                role=role.value,
                prefix=issued.prefix,
                hash=api_keys.hash_key(issued.key, self._secret),
                validator_id=validator_id,
            )

        return CreatedKey(record=await self._db.transaction(work, actor=actor), key=issued.key)

    async def revoke(self, key_id: str, *, actor: str) -> ApiKey:
        async def work(unit: UnitOfWork) -> tuple[ApiKey, bool]:
            """The key after the call, and whether this call revoked it."""
            keys = unit.api_keys
            before = await keys.by_id(key_id)
            if before is None:
                raise NotFound(f"No API key {key_id}")
            if before.revokedAt is not None:
                return before, False
            return await keys.revoke(before), True

        key, revoked = await self._db.transaction(work, actor=actor)
        if revoked:  # after the commit (a cache refilled before it would still hold the key), before the answer
            self._revocations.announce()
            self._cache.clear()
        return key

    async def list(self, *, limit: int, cursor: str | None) -> Page[ApiKey]:
        return await self._db.api_keys.list(limit=limit, cursor=cursor)

    async def ensure_admin_key(self, key: str) -> None:
        """Makes sure `key` is a live admin key (idempotent; safe with several workers starting)."""
        if await self.verify(key) is not None:
            return
        prefix = api_keys.derive_prefix(key)
        try:
            await self._create_admin(key, prefix)
        except UniqueViolation:
            pass  # another worker starting at the same moment created it
        self._cache.clear()

    async def _create_admin(self, key: str, prefix: str) -> None:
        """Raises UniqueViolation (never retried by Database.transaction) when another worker
        created the prefix between our check and our insert."""

        async def work(unit: UnitOfWork) -> None:
            keys = unit.api_keys
            if await keys.by_prefix(prefix) is not None:
                return  # another worker created it, or a revoked/rotated key holds the prefix
            await keys.create(
                name="admin (GARAGE_ADMIN_API_KEY)",
                role=Role.ADMIN.value,
                prefix=prefix,
                hash=api_keys.hash_key(key, self._secret),
            )

        await self._db.transaction(work, actor=SYSTEM_ACTOR)
