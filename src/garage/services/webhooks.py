"""Webhooks (API-operations.md "Events": Webhooks): registering, listing, deleting, and the
deliveries log. Delivery itself runs in the maintenance worker (runtime/webhook_delivery.py)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from garage.errors import ValidationFailed, found
from garage.repositories.pagination import Page
from garage.repositories.records import Webhook, WebhookDelivery
from garage.repositories.unit_of_work import Database, UnitOfWork
from garage.runtime.webhook_delivery import destination_problem
from garage.security.crypto import FieldCipher
from garage.vocabulary import WEBHOOK_SECRET

SECRET_PREFIX = "whsec_"  # tells a webhook secret apart from an API key in a config file


@dataclass(frozen=True)
class CreatedWebhook:
    record: Webhook
    secret: str


class WebhookService:
    def __init__(self, db: Database, cipher: FieldCipher, *, allow_private: bool) -> None:
        self._db = db
        self._cipher = cipher
        self._allow_private = allow_private

    async def create(self, *, url: str, types: Sequence[str], garage_id: str | None, actor: str) -> CreatedWebhook:
        """A new webhook and its secret (shown this once; stored encrypted). ValidationFailed for a
        URL webhooks may not reach, NotFound for an unknown garage."""
        problem = await destination_problem(url, allow_private=self._allow_private)
        if problem is not None:
            raise ValidationFailed(f"url {problem}", details={"fields": {"url": problem}})
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        sealed = self._cipher.encrypt(secret, WEBHOOK_SECRET)
        wanted = list(dict.fromkeys(types))  # each type once, in the order given

        async def work(unit: UnitOfWork) -> Webhook:
            if garage_id is not None:
                found(await unit.garages.get_live(garage_id), f"garage {garage_id}")
            return await unit.webhooks.create(url=url, types=wanted, garage_id=garage_id, sealed_secret=sealed)

        record = await self._db.transaction(work, actor=actor)
        return CreatedWebhook(record=record, secret=secret)

    async def list(self) -> list[Webhook]:
        return await self._db.webhooks.list_live()

    async def delete(self, webhook_id: str, *, actor: str) -> None:
        async def work(unit: UnitOfWork) -> None:
            webhook = found(await unit.webhooks.live_by_id(webhook_id), f"webhook {webhook_id}")
            await unit.webhooks.soft_delete(webhook, datetime.now(UTC))

        await self._db.transaction(work, actor=actor)

    async def deliveries(self, webhook_id: str, *, limit: int, cursor: str | None) -> Page[WebhookDelivery]:
        """A live webhook's deliveries, newest event first."""
        found(await self._db.webhooks.live_by_id(webhook_id), f"webhook {webhook_id}")
        return await self._db.webhook_deliveries.of_webhook(webhook_id, limit=limit, cursor=cursor)
