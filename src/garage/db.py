"""Creating the Prisma client for the service. The Starlette lifespan (app.py) is the one place
that connects and disconnects it.

The client is a `GaragePrisma`: the layer where garage/retry.py's policy applies (its docstring
says why there). It retries single calls that are safe to retry, runs services' interactive
transactions with `transaction(db, work)` (retried whole), and its engine replaces a query
engine process that died (`RestartingQueryEngine`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import suppress
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from prisma import Prisma
from prisma._builder import METHOD_OPERATION_MAPPING, QueryBuilder, dumps
from prisma.client import Batch
from prisma.metadata import PRISMA_MODELS, RELATIONAL_FIELD_MAPPINGS
from prisma.engine import AsyncQueryEngine
from prisma.engine._abstract import AsyncAbstractEngine

from garage.config import Settings
from garage.engine_http import AiohttpEngineSession
from garage.errors import DatabaseUnavailable
from garage.retry import (
    AT_COMMIT, BEFORE_COMMIT, SINGLE_READ, SINGLE_WRITE, Failure, RetryPolicy, DEFAULT_POLICY, classify, retry_when,
    retrying,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
UNAVAILABLE = "The database is unavailable; try again shortly"
OUTCOME_UNKNOWN = (
    "The database became unavailable while saving; check whether the change was stored before retrying"
)


def create_prisma(settings: Settings) -> Prisma:
    # The client finds its query engine through this variable: our engine server (engine/).
    os.environ["PRISMA_QUERY_ENGINE_BINARY"] = str(settings.query_engine_binary)
    if settings.log_queries:
        os.environ["ENGINE_SLOW_QUERY_MS"] = os.environ.get("ENGINE_SLOW_QUERY_MS", "100")
    return GaragePrisma(datasource={"url": settings.absolute_database_url}, log_queries=settings.log_queries)


class RestartingQueryEngine(AsyncQueryEngine):
    """The client's query engine process, replaced by a new one when it dies (crash, OOM kill,
    kill -9). Before each call it checks whether its process exited (a non-blocking waitpid);
    if so one caller spawns a new engine on a new port, under a lock, while the others wait.
    The HTTP session stays open: its pooled connections to the dead port are never reused."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.session = AiohttpEngineSession()  # garage/engine_http.py: why
        self._restart_lock = asyncio.Lock()
        self._connect_timeout = timedelta(seconds=10)
        self._datasources: Any = None
        self.restarts = 0

    async def connect(self, timeout: timedelta = timedelta(seconds=10), datasources: Any = None) -> None:
        self._connect_timeout, self._datasources = timeout, datasources
        await super().connect(timeout=timeout, datasources=datasources)

    async def request(
        self, method: Any, path: str, *, content: Any = None, headers: dict[str, str] | None = None,
        parse_response: bool = True,
    ) -> Any:
        if path != "/status":  # spawn() polls /status of the new engine while holding the lock
            await self._ensure_alive()
        return await super().request(method, path, content=content, headers=headers, parse_response=parse_response)

    def _died(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    async def _ensure_alive(self) -> None:
        if not self._died() and not self._restart_lock.locked():
            return
        async with self._restart_lock:
            if not self._died():
                return
            assert self.process is not None and self.file is not None
            log.error("the query engine (pid %d) exited with status %s; starting a new one",
                      self.process.pid, self.process.returncode)
            self._kill_process(timeout=None)  # reaps the dead process, forgets it
            try:
                await self.spawn(self.file, timeout=self._connect_timeout, datasources=self._datasources)
            except Exception:
                self._kill_process(timeout=timedelta(seconds=1))  # the next call tries again
                raise
            self.restarts += 1
            log.warning("a new query engine (pid %d) serves %s", self.process.pid if self.process else -1, self.url)


class GaragePrisma(Prisma):
    """Prisma with garage/retry.py's policy for single calls outside transactions: reads are
    retried on any transient failure, writes only when they provably did not run. Its
    `batch_()` is a `RetryingBatch`."""

    def batch_(self) -> Batch:
        return RetryingBatch(self)

    def _create_engine(self, dml_path: Path | None = None) -> AsyncAbstractEngine:
        return RestartingQueryEngine(
            dml_path=dml_path or self._packaged_schema_path, log_queries=self._log_queries, http_config=self._http_config
        )

    async def _execute(self, *, method: Any, arguments: dict[str, Any], model: Any = None,
                       root_selection: list[str] | None = None) -> Any:
        async def call() -> Any:
            return await super(GaragePrisma, self)._execute(
                method=method, arguments=arguments, model=model, root_selection=root_selection
            )

        if self.is_transaction():  # the whole transaction is retried, never one of its calls
            return await call()
        allowed = SINGLE_READ if METHOD_OPERATION_MAPPING.get(method) == "query" else SINGLE_WRITE
        try:
            return await retrying(call, retry_on=retry_when(allowed), what=f"{method} {getattr(model, '__name__', '')}")
        except Exception as error:
            if classify(error) is not None:
                raise DatabaseUnavailable(UNAVAILABLE) from error
            raise


class RetryingBatch(Batch):
    """The client's write batch: its writes go to the engine as ONE request and run in one
    SQLite transaction, all or nothing (a failed write, e.g. an `update` whose WHERE matches
    nothing, rolls the others back). The client's own Batch forgets its queries when it sends
    them; this one keeps them, so that a batch the engine refused (busy, restarting: it ran
    nothing) is sent again under the retry policy of single writes. Inside an interactive
    transaction it is never retried on its own: the transaction is."""

    def __init__(self, client: GaragePrisma) -> None:
        super().__init__(client)
        self._garage_client = client
        self._queries: list[str] = []

    def _add(self, **kwargs: Any) -> None:
        builder = QueryBuilder(**kwargs, prisma_models=PRISMA_MODELS, relational_field_mappings=RELATIONAL_FIELD_MAPPINGS)
        self._queries.append(builder.build_query())

    async def commit(self) -> None:
        queries, self._queries = self._queries, []
        if not queries:
            return
        client = self._garage_client
        payload = dumps({"batch": [{"query": query, "variables": {}} for query in queries], "transaction": True})

        async def send() -> None:
            await client._engine.query(payload, tx_id=client._tx_id)

        await _write_request(client, send, what=f"batch of {len(queries)} writes")


async def insert_rows(db: Prisma, model: str, rows: Sequence[Mapping[str, object]]) -> int:
    """`createMany` of `rows` for bulk writes (columns with a default in schema.prisma — ids,
    timestamps — may be left out; the engine fills them as for any create), sent in Prisma's JSON
    protocol, which the engine takes as it is. The client's own createMany
    goes through its GraphQL text builder (~70 µs a row: 350 ms for 5000 spots) and the engine
    then parses that text back; this costs a json.dumps. Same errors as the client's (unique
    violations etc.), same retry policy as a single write (SINGLE_WRITE), and inside an
    interactive transaction it runs in it. Returns how many rows were inserted."""
    if not rows:
        return 0
    payload = json.dumps(
        {"modelName": model, "action": "createMany",
         "query": {"arguments": {"data": rows}, "selection": {"count": True}}},
        default=_json_protocol_value,
    )

    async def send() -> int:
        response = await db._engine.query(payload, tx_id=db._tx_id)
        (result,) = response["data"].values()
        return int(result["count"])

    return await _write_request(db, send, what=f"insert of {len(rows)} {model} rows")


async def _write_request(db: Prisma, send: Callable[[], Awaitable[T]], *, what: str) -> T:
    """One write request sent to the engine outside the generated client's calls (a batch, a
    JSON-protocol insert): retried like a single write (SINGLE_WRITE: only when it provably did
    not run), never on its own inside an interactive transaction (the transaction is), and a
    transient failure left over becomes DatabaseUnavailable."""
    if db.is_transaction():
        return await send()
    try:
        return await retrying(send, retry_on=retry_when(SINGLE_WRITE), what=what)
    except Exception as error:
        failure = classify(error)
        if failure is not None:
            raise DatabaseUnavailable(OUTCOME_UNKNOWN if failure is Failure.ENGINE_LOST else UNAVAILABLE) from error
        raise


def _json_protocol_value(value: object) -> object:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise TypeError("naive datetime: times are stored in UTC and must carry a time zone")
        return {"$type": "DateTime", "value": value.isoformat()}
    raise TypeError(f"{type(value).__name__} is not a column value")


async def transaction(
    db: Prisma, work: Callable[[Prisma], Awaitable[T]], *, max_wait: timedelta = timedelta(seconds=2),
    timeout: timedelta = timedelta(seconds=5), policy: RetryPolicy = DEFAULT_POLICY,
) -> T:
    """Runs `work(tx)` in one interactive transaction and commits it; on a transient failure
    before the commit, or a commit that provably did not happen, runs the WHOLE of `work` again
    on a new transaction (garage/retry.py). `work` must do nothing outside `tx` that matters
    twice. Errors of `work` itself (GarageError, constraint violations) are never retried.
    Raises DatabaseUnavailable when the retries are used up or a commit's outcome is unknown."""

    async def attempt() -> T:
        manager = db.tx(max_wait=max_wait, timeout=timeout)
        tx = await manager.start()
        try:
            result = await work(tx)
        except BaseException:
            with suppress(Exception):  # an engine that died rolled back already
                await manager.rollback()
            raise
        try:
            await manager.commit()
        except Exception as error:
            failure = classify(error)
            if failure is not None and failure not in AT_COMMIT:
                log.error("the commit's outcome is unknown (%s); not retrying", failure)
                raise DatabaseUnavailable(OUTCOME_UNKNOWN) from error
            raise
        return result

    try:
        return await retrying(attempt, retry_on=retry_when(BEFORE_COMMIT), what="transaction", policy=policy)
    except DatabaseUnavailable:
        raise
    except Exception as error:
        if classify(error) is not None:
            raise DatabaseUnavailable(UNAVAILABLE) from error
        raise


__all__ = ["GaragePrisma", "RestartingQueryEngine", "RetryingBatch", "insert_rows", "create_prisma", "transaction", "Failure"]
