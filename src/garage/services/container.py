"""The services of one running app, built once in the lifespan from the one Prisma client."""

from __future__ import annotations

from dataclasses import dataclass

from prisma import Prisma

from garage.config import Settings
from garage.security.crypto import FieldCipher
from garage.services.api_keys import ApiKeyService
from garage.services.audit import AuditService


@dataclass(frozen=True)
class Services:
    settings: Settings
    db: Prisma
    cipher: FieldCipher
    keys: ApiKeyService
    audit: AuditService

    @classmethod
    def build(cls, settings: Settings, db: Prisma) -> Services:
        return cls(
            settings=settings,
            db=db,
            cipher=FieldCipher(settings.encryption_keys),
            keys=ApiKeyService(db, settings.secret_key.get_secret_value()),
            audit=AuditService(db),
        )
