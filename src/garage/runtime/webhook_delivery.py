"""Webhook delivery (API-operations.md "Events": Delivery), run by ONE worker: the holder of the
maintenance scheduler's lock (runtime/scheduler.py), so no two workers attempt the same delivery.

Every POLL_SECONDS the deliverer fans the events committed since its last look out into PENDING
deliveries (repositories/webhooks.py: deliveries and the cursor move in one transaction), then
attempts the due ones: POST of the event, as GET /events lists it, signed. A 2xx answer within
TIMEOUT_SECONDS delivers it; anything else is retried GARAGE_WEBHOOK_RETRY_SECONDS later, then
twice as long each time (at most RETRY_CAP), until GIVE_UP_AFTER after the first attempt: FAILED.
Everything lives in the database, so a restart (or a SIGKILL mid-attempt) loses nothing: an
attempt whose outcome was not recorded is made again (at least once; receivers deduplicate by
Garage-Event-Id).

Destinations: only http(s); unless GARAGE_WEBHOOK_ALLOW_PRIVATE, never a loopback, private,
link-local, unspecified, multicast, reserved or otherwise non-global address. Checked at registration and again by the
resolver the delivery connects with (`GuardedResolver`): the addresses checked are the ones
connected to, so a name that resolves elsewhere by then (DNS rebinding) is refused too."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import ResolveResult
from aiohttp.resolver import ThreadedResolver

from garage.errors import GarageException
from garage.repositories.events import event_id
from garage.repositories.records import Event, WebhookDelivery
from garage.repositories.unit_of_work import Database, UnitOfWork
from garage.repositories.webhooks import DueDelivery
from garage.security.crypto import FieldCipher
from garage.vocabulary import SYSTEM_ACTOR, WEBHOOK_SECRET, WebhookDeliveryStatus, format_timestamp

log = logging.getLogger("garage.webhooks")

# An idle round is two indexed reads in one process (the scheduler's lock holder), so polling as often
# as the event streams do (services/events.py) costs little; the interval is most of the commit-to-receiver
# latency (bench/events_bench.py: p50 293 ms at 0.5 s).
POLL_SECONDS = 0.2
TIMEOUT_SECONDS = 10.0
RETRY_CAP = timedelta(hours=1)
GIVE_UP_AFTER = timedelta(hours=24)
FAN_OUT_BATCH = 500  # events fanned out per transaction
ATTEMPT_BATCH = 50  # deliveries attempted at once
ERROR_CHARS = 500  # of an error message kept in lastError


class RefusedDestination(GarageException, OSError):
    """A webhook URL's host is (or now resolves to) an address webhooks may not reach. Also an
    OSError, so that aiohttp reports it from its resolver like any failure to connect."""


def _refusal(address: str) -> str | None:
    """Why webhooks may not reach `address` (None: they may)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone does not change the address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for kind in ("loopback", "link_local", "unspecified", "private", "multicast", "reserved"):
        if getattr(ip, f"is_{kind}"):
            return f"{address} is a {kind.replace('_', '-')} address"
    if not ip.is_global:  # shared (100.64.0.0/10: carrier NAT, some clouds' metadata), documentation, ...
        return f"{address} is not a public address"
    return None


def _ip_literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def url_problem(url: str) -> str | None:
    """What is wrong with `url` as a webhook URL, before resolving it (None: nothing)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  # raises ValueError for a port that is not one
    except ValueError as error:
        return f"not a URL: {error}"
    if parts.scheme not in ("http", "https"):
        return "must be an http or https URL"
    if not parts.hostname:
        return "has no host"
    if parts.username is not None or parts.password is not None:
        return "must not carry credentials (the signature authenticates the service)"
    return None


async def destination_problem(url: str, *, allow_private: bool) -> str | None:
    """What keeps webhooks from `url` (None: nothing): the URL itself, or unless `allow_private`
    an address its host is or resolves to (every one of them must be public)."""
    problem = url_problem(url)
    if problem is not None or allow_private:
        return problem
    host = urlsplit(url).hostname or ""
    literal = _ip_literal(host)
    if literal is not None:
        return _refusal(literal)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError as error:
        return f"its host {host} does not resolve ({error})"
    for *_, address in infos:
        refusal = _refusal(str(address[0]))
        if refusal is not None:
            return f"its host {host} resolves to {refusal}"
    return None


class GuardedResolver(ThreadedResolver):
    """aiohttp's resolver that refuses names resolving to an address webhooks may not reach."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await super().resolve(host, port, family)
        for result in results:
            refusal = _refusal(result["host"])
            if refusal is not None:
                raise RefusedDestination(f"{host} resolves to {refusal}")
        return results


def event_body(event: Event) -> bytes:
    """The event as GET /events lists it (routes/events.py EventOut), as the request body."""
    item = {
        "id": event_id(event.seq),
        "type": event.type,
        "garageId": event.garageId,
        "occurredAt": format_timestamp(event.occurredAt),
        "data": json.loads(event.data),
    }
    return json.dumps(item, separators=(",", ":"), ensure_ascii=False).encode()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """Garage-Signature: HMAC-SHA256 keyed by the secret's UTF-8 bytes over `<t>.` + the body, hex."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass(frozen=True)
class Outcome:
    delivery: WebhookDelivery
    delivered: bool
    response_status: int | None = None
    error: str | None = None
    final: bool = False  # no retry whatever the time (the webhook or the event is gone)


class WebhookDeliverer:
    """The delivery loop (`run`), or one round of it (`deliver_due`)."""

    def __init__(
        self,
        db: Database,
        cipher: FieldCipher,
        *,
        retry_seconds: float,
        allow_private: bool,
        poll_seconds: float = POLL_SECONDS,
        timeout_seconds: float = TIMEOUT_SECONDS,
    ) -> None:
        self._db = db
        self._cipher = cipher
        self._retry = timedelta(seconds=retry_seconds)
        self._allow_private = allow_private
        self._poll_seconds = poll_seconds
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)

    def _session(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=ATTEMPT_BATCH,
            # resolved at every connection, so that the check sees what is connected to
            use_dns_cache=False,
            resolver=None if self._allow_private else GuardedResolver(),
        )
        return aiohttp.ClientSession(connector=connector, timeout=self._timeout, auto_decompress=False)

    async def run(self) -> None:
        """Until cancelled: fan out and deliver, pausing POLL_SECONDS whenever nothing is left."""
        async with self._session() as http:
            while True:
                try:
                    busy = await self.deliver_due(http)
                except Exception:  # a busy or restarting database: the next round catches up
                    log.warning("webhook delivery failed a round; trying again", exc_info=True)
                    busy = False
                if not busy:
                    await asyncio.sleep(self._poll_seconds)

    async def deliver_due(self, http: aiohttp.ClientSession) -> bool:
        """One round; True when work is left over for another round at once."""
        fanned = 0
        if await self._db.webhook_deliveries.fan_out_pending():
            now = datetime.now(UTC)

            async def fan_out(unit: UnitOfWork) -> int:
                return await unit.webhook_deliveries.fan_out(limit=FAN_OUT_BATCH, now=now)

            fanned = await self._db.transaction(fan_out, actor=SYSTEM_ACTOR)
        due = await self._db.webhook_deliveries.due(datetime.now(UTC), limit=ATTEMPT_BATCH)
        if due:
            outcomes = await asyncio.gather(*(self._attempt_safely(http, item) for item in due))
            await self._record(outcomes)
        return fanned == FAN_OUT_BATCH or len(due) == ATTEMPT_BATCH

    async def _attempt_safely(self, http: aiohttp.ClientSession, item: DueDelivery) -> Outcome:
        """One attempt whose failure, whatever it is, is this delivery's only (retried as usual)."""
        try:
            return await self._attempt(http, item)
        except Exception as error:  # e.g. a secret sealed with a key no longer configured
            log.warning("webhook delivery %s could not be attempted", item.delivery.id, exc_info=True)
            return Outcome(item.delivery, delivered=False, error=f"not attempted: {_describe(error)}")

    async def _attempt(self, http: aiohttp.ClientSession, item: DueDelivery) -> Outcome:
        delivery, webhook, event = item.delivery, item.webhook, item.event
        if webhook.deletedAt is not None:
            return Outcome(delivery, delivered=False, error="the webhook was deleted", final=True)
        if event is None:
            return Outcome(
                delivery, delivered=False, error="the event was deleted (GARAGE_EVENT_RETENTION_DAYS)", final=True
            )
        problem = url_problem(webhook.url)
        if problem is None and not self._allow_private:
            literal = _ip_literal(urlsplit(webhook.url).hostname or "")
            problem = _refusal(literal) if literal is not None else None
        if problem is not None:
            return Outcome(delivery, delivered=False, error=f"refused: {problem}")
        body = event_body(event)
        headers = {
            "Content-Type": "application/json",
            "Garage-Event-Id": event_id(event.seq),
            "Garage-Signature": signature(self._cipher.decrypt(webhook.secret, WEBHOOK_SECRET), int(time.time()), body),
        }
        try:
            async with http.post(webhook.url, data=body, headers=headers, allow_redirects=False) as response:
                await response.read()
                if 200 <= response.status < 300:
                    return Outcome(delivery, delivered=True, response_status=response.status)
                return Outcome(
                    delivery, delivered=False, response_status=response.status, error=f"HTTP {response.status}"
                )
        except TimeoutError:
            return Outcome(delivery, delivered=False, error=f"no answer within {self._timeout.total} s")
        except (aiohttp.ClientError, OSError) as error:
            return Outcome(delivery, delivered=False, error=_describe(error))

    async def _record(self, outcomes: Sequence[Outcome]) -> None:
        now = datetime.now(UTC)

        async def record(unit: UnitOfWork) -> None:
            for outcome in outcomes:
                status, next_at = self._next_step(outcome, now)
                await unit.webhook_deliveries.record_attempt(
                    outcome.delivery,
                    status=status,
                    response_status=outcome.response_status,
                    error=None if outcome.delivered else (outcome.error or "failed")[:ERROR_CHARS],
                    next_attempt_at=next_at,
                    now=now,
                )

        await self._db.transaction(record, actor=SYSTEM_ACTOR)
        for outcome in outcomes:
            if not outcome.delivered:
                log.info(
                    "webhook delivery of event %s failed (attempt %d): %s",
                    event_id(outcome.delivery.eventSeq),
                    outcome.delivery.attempts + 1,
                    outcome.error,
                )

    def _next_step(self, outcome: Outcome, now: datetime) -> tuple[WebhookDeliveryStatus, datetime | None]:
        if outcome.delivered:
            return WebhookDeliveryStatus.DELIVERED, None
        if outcome.final:
            return WebhookDeliveryStatus.FAILED, None
        failures = outcome.delivery.attempts + 1
        next_at = now + retry_delay(self._retry, failures)
        # the delivery was created (by the fan-out) moments before its first attempt
        if next_at > outcome.delivery.createdAt + GIVE_UP_AFTER:
            return WebhookDeliveryStatus.FAILED, None
        return WebhookDeliveryStatus.PENDING, next_at


def retry_delay(first: timedelta, failures: int) -> timedelta:
    """The wait after the `failures`-th failed attempt: `first`, doubling, at most RETRY_CAP."""
    if failures > 40:  # 2**40 times anything useful is past the cap; keeps the multiplier small
        return RETRY_CAP
    return min(first * (1 << max(failures - 1, 0)), RETRY_CAP)


def _describe(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    cause: Any = error.__cause__ or getattr(error, "os_error", None)
    if isinstance(cause, RefusedDestination):
        return f"refused: {cause}"
    return text
