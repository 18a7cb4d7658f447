"""Transient database failures: what they are, how long to retry them, and where.

The one policy (`RetryPolicy`, `classify`) is applied at ONE layer: the Prisma client's
boundary, `GaragePrisma` (garage/db builds it). Every database call of the service passes there, so
nothing above it (services, repositories, routes) needs to know about busy databases or engine
restarts — and no call is retried twice by two layers.

What "transient" means (`Failure`):
- NOT_REACHED: the engine refused the connection (it is dead or restarting): the request provably
  never reached it.
- REFUSED: the engine answered without executing anything: SQLite busy ("database is locked",
  P1008 timeout, P2034 write conflict), no transaction slot or write lock within `max_wait` (P2028,
  504), a write that waited its whole x-max-wait-ms for the write lock (503 P1008), or "engine
  unavailable" (503: its wasm instance was being replaced, or it is shutting down).
- TRANSACTION_LOST: the engine does not know the transaction (P2028, 404): the engine that
  held it died, and SQLite rolled back everything it had not committed.
- ENGINE_LOST: the connection broke mid-request (reset, disconnect): the engine died while
  working on it, so the outcome of a write is UNKNOWN.
Everything else (constraint violations, validation, bugs) is not transient and never retried.

A write is never applied twice, because what is retried is always all-or-nothing and known
not to have committed:
- Interactive transactions are retried WHOLE by `garage.db.transaction(db, work)`: the
  service's `work(tx)` runs again from its first read on a fresh transaction (the engine wraps
  it in BEGIN IMMEDIATE ... COMMIT, so a failed attempt left nothing behind). A failure before
  COMMIT is retried for every transient kind. A failure OF the commit is retried only when the
  commit provably did not happen (NOT_REACHED, TRANSACTION_LOST); if the connection broke during
  COMMIT (ENGINE_LOST) the outcome is unknown and the error goes to the client as 503
  DATABASE_UNAVAILABLE instead of guessing.
- A single call outside a transaction (`GaragePrisma._execute`) is retried when it is a read
  (GraphQL `query`: re-reading changes nothing) or when it provably was not executed
  (NOT_REACHED, REFUSED). A write whose connection broke (ENGINE_LOST) is not re-sent.
- Calls made inside a transaction are never retried one by one: the transaction they belonged
  to may be gone; the whole transaction is retried instead.

An engine that died or stopped answering is replaced by `RestartingQueryEngine` (garage/db): it
notices its process has exited (or its liveness check gives up on it) and spawns a new one, once.
Retries end when the policy's attempts are used up or the call's deadline is near (`until`: garage/db
bounds every call by GARAGE_DB_WAIT_SECONDS); then DatabaseUnavailable (503), never a 500.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import aiohttp
import httpx
from prisma import errors as prisma_errors
from prisma.engine import errors as engine_errors
from prometheus_client import Counter

from garage.db.disk import says_disk_full

log = logging.getLogger(__name__)

T = TypeVar("T")

RETRIES = Counter(
    "garage_db_retries_total", "Database calls retried after a transient failure, by kind of failure", ["failure"]
)


class Failure(enum.Enum):
    NOT_REACHED = "not reached"
    REFUSED = "refused"
    TRANSACTION_LOST = "transaction lost"
    ENGINE_LOST = "engine lost"


# What SQLite and the engine say when a statement or a transaction could not run *yet*.
_BUSY = re.compile(
    r"database is locked|database table is locked|SQLITE_BUSY|\bP1008\b|\bP2034\b|Operations timed out"
    r"|write conflict|deadlock|Unable to start a transaction in the given time",
    re.IGNORECASE,
)
_TRANSACTION_NOT_FOUND = re.compile(r"Transaction not found", re.IGNORECASE)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter: attempt n (from 1) waits before the next try
    a random time in [delay/2, delay], delay = min(max_delay, base_delay * 2**(n-1))."""

    attempts: int = 5
    base_delay: float = 0.02
    max_delay: float = 1.0

    def delay(self, attempt: int) -> float:
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)


DEFAULT_POLICY = RetryPolicy()


def _causes(error: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def classify(error: BaseException) -> Failure | None:
    """The kind of transient failure `error` is, or None when it is not transient."""
    if says_disk_full(error):  # SQLITE_FULL is never transient: no retry frees disk space (runtime/diskspace.py)
        return None
    if isinstance(error, (engine_errors.NotConnectedError, prisma_errors.ClientNotConnectedError)):
        return Failure.NOT_REACHED
    if isinstance(error, httpx.TransportError):
        causes = _causes(error)
        # aiohttp (our transport) fails to connect with ClientConnectorError; httpcore with ConnectError
        if any(isinstance(c, (aiohttp.ClientConnectorError, ConnectionRefusedError)) for c in causes):
            return Failure.NOT_REACHED
        if isinstance(error, httpx.ConnectError) and not any(isinstance(c, aiohttp.ClientError) for c in causes):
            return Failure.NOT_REACHED
        return Failure.ENGINE_LOST
    if isinstance(error, engine_errors.EngineRequestError):
        status = error.response.status
        text = str(error)
        if status == 404 and _TRANSACTION_NOT_FOUND.search(text):
            return Failure.TRANSACTION_LOST
        if status in (503, 504) or _BUSY.search(text):
            return Failure.REFUSED
        return None
    if isinstance(error, (prisma_errors.DataError, prisma_errors.TransactionError)):
        text = f"{error} {getattr(error, 'code', '')}"
        if _TRANSACTION_NOT_FOUND.search(text):
            return Failure.TRANSACTION_LOST
        if _BUSY.search(text):
            return Failure.REFUSED
    return None


# Which failures leave nothing applied, per kind of call (see the module docstring).
BEFORE_COMMIT = frozenset(Failure)
AT_COMMIT = frozenset({Failure.NOT_REACHED, Failure.TRANSACTION_LOST})
SINGLE_READ = frozenset(Failure)
SINGLE_WRITE = frozenset({Failure.NOT_REACHED, Failure.REFUSED})


async def retrying(
    attempt: Callable[[], Awaitable[T]],
    *,
    retry_on: Callable[[BaseException], bool],
    what: str,
    policy: RetryPolicy = DEFAULT_POLICY,
    until: float | None = None,
) -> T:
    """Runs `attempt` until it succeeds, raises an error `retry_on` refuses, or the policy's
    attempts are used up (then the last error propagates). No attempt starts after `until`
    (a time.monotonic() value): the last error propagates instead."""
    for number in range(1, policy.attempts + 1):
        try:
            return await attempt()
        except Exception as error:
            if number == policy.attempts or not retry_on(error):
                raise
            wait = policy.delay(number)
            if until is not None and time.monotonic() + wait > until:
                raise
            failure = classify(error)
            RETRIES.labels(failure.value if failure is not None else "other").inc()
            log.warning(
                "%s failed (%s: %s); retry %d/%d in %.0f ms",
                what,
                failure,
                type(error).__name__,
                number,
                policy.attempts - 1,
                wait * 1000,
            )
            await asyncio.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


def retry_when(allowed: frozenset[Failure]) -> Callable[[BaseException], bool]:
    return lambda error: classify(error) in allowed
