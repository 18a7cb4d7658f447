"""Creating the Prisma client for the service. The Starlette lifespan (app.py) is the one place
that connects and disconnects it.

The client is a `GaragePrisma`: the layer where garage/db/retry.py's policy applies (its docstring
says why there). It retries single calls that are safe to retry, runs services' interactive
transactions with `transaction(db, work)` (retried whole), and its engine replaces a query
engine process that died or stopped answering (`RestartingQueryEngine`).

Bounded waits. Every database call outside a transaction, and the start of every transaction,
gets a deadline: GARAGE_DB_WAIT_SECONDS (settings.db_wait_seconds, 10 s) from its first attempt,
or sooner inside `database_deadline(...)` (/ready uses 2 s). Whatever it waits for - SQLite's
write lock held by another process (a `garage` batch job, a `sqlite3` shell), its turn on the
engine's writer, a restarting engine - it is answered by then: done, or DatabaseUnavailable (503
DATABASE_UNAVAILABLE with Retry-After). The deadline reaches the engine (x-max-wait-ms, a
transaction's max_wait), which gives up ENGINE_ANSWER_SLACK before the client does and answers
"nothing was done", so a write refused for a lock is safely retried or refused, never left with an
unknown outcome. Reads never wait for the lock (WAL). Work inside a transaction is bounded by the
transaction's own timeout.

Engine lifetime. The engine is a child process that never outlives this one: the kernel SIGKILLs
it when its parent dies (PR_SET_PDEATHSIG, Linux) and the engine itself exits when its parent pid
changes (engine/src/server.js); SQLite then rolls back its open transaction and frees the write
lock at once. A liveness check pings the engine (GET /status) every second; an engine that has
not answered for LIVENESS_LIMIT seconds without doing any work (stopped, hung) - or for
LIVENESS_BUSY_LIMIT seconds even while computing - is SIGKILLed and replaced, and the calls that
were waiting on it fail over to the new one (reads, and transactions before their commit, are
retried; a single write in flight gets 503 with its outcome unknown).

Observability. The engine's output is read and logged with source=engine (garage/logging_setup.py);
each request to it carries the HTTP request's id (X-Request-ID), which the engine puts on its query
log lines. Calls are timed in `garage_db_call_duration_seconds` (read, write, transaction) and
engine replacements counted in `garage_engine_restarts_total` (/metrics).
"""

from __future__ import annotations

import asyncio
import contextvars
import ctypes
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from prisma import Prisma
from prisma import errors as prisma_errors
from prisma._builder import METHOD_OPERATION_MAPPING, QueryBuilder, dumps
from prisma.client import Batch
from prisma.engine import AsyncQueryEngine
from prisma.engine import errors as engine_errors
from prisma.engine import utils as engine_utils
from prisma.engine._abstract import AsyncAbstractEngine
from prisma.metadata import PRISMA_MODELS, RELATIONAL_FIELD_MAPPINGS
from prisma.types import DatasourceOverride
from prisma.utils import DEBUG
from prometheus_client import Counter, Histogram

from garage.config import Settings
from garage.db.engine_http import AiohttpEngineSession
from garage.db.errors import domain_error
from garage.db.retry import (
    AT_COMMIT,
    BEFORE_COMMIT,
    DEFAULT_POLICY,
    SINGLE_READ,
    SINGLE_WRITE,
    Failure,
    RetryPolicy,
    classify,
    retry_when,
    retrying,
)
from garage.errors import DatabaseUnavailable
from garage.logging_setup import REQUEST_ID, fold_engine_output

log = logging.getLogger(__name__)
T = TypeVar("T")
UNAVAILABLE = "The database is unavailable; try again shortly"
BUSY = "The database is busy (another process holds its write lock); try again shortly"
OUTCOME_UNKNOWN = "The database became unavailable while saving; check whether the change was stored before retrying"


DEFAULT_WAIT_SECONDS = 10.0
# The engine's own limit on a wait is this much shorter than the client's, so that its answer
# ("nothing was done") arrives before the client gives up on the request; a retry is only started
# with at least this much time left.
ENGINE_ANSWER_SLACK = 1.0
# Liveness of the engine process (RestartingQueryEngine._watch_liveness).
LIVENESS_INTERVAL = 1.0
LIVENESS_PING_TIMEOUT = 1.0
LIVENESS_LIMIT = 3.0
# An engine busy computing (one long synchronous SQLite statement blocks its event loop) is given
# longer; "computing" means it used at least this share of a CPU while it did not answer.
LIVENESS_BUSY_LIMIT = 60.0
LIVENESS_BUSY_SHARE = 0.1

# Database calls as the services make them, timed here on the client (so the figures include the
# HTTP hop to the engine and any retries, and add up over uvicorn workers in /metrics): a single
# read, a single write (a batch, a bulk insert), a whole interactive transaction.
DB_CALLS = Histogram(
    "garage_db_call_duration_seconds",
    "Database calls by kind (read, write, transaction) and outcome (ok, error)",
    ["operation", "outcome"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ENGINE_RESTARTS = Counter("garage_engine_restarts_total", "Query engine processes replaced (died or stopped answering)")

# The deadline (time.monotonic()) of the database call in progress, read by the engine's requests.
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("garage_database_deadline", default=None)


def create_prisma(settings: Settings) -> Prisma:
    # The client finds its query engine through this variable: our engine server (engine/).
    os.environ["PRISMA_QUERY_ENGINE_BINARY"] = str(settings.query_engine_binary)
    if settings.log_queries:
        os.environ["ENGINE_SLOW_QUERY_MS"] = os.environ.get("ENGINE_SLOW_QUERY_MS", "100")
    return GaragePrisma(
        datasource={"url": settings.absolute_database_url},
        log_queries=settings.log_queries,
        wait_seconds=settings.db_wait_seconds,
        database_path=settings.database_path,
    )


@contextmanager
def database_deadline(seconds: float) -> Iterator[None]:
    """Database calls made inside are answered within `seconds` (or by an enclosing deadline, if
    sooner), each of them: for callers that must answer quickly whatever the database does
    (/ready). Past it a call raises DatabaseUnavailable."""
    deadline = time.monotonic() + seconds
    outer = _DEADLINE.get()
    token = _DEADLINE.set(deadline if outer is None else min(outer, deadline))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def wait_seconds_of(db: Prisma) -> float:
    engine = db._internal_engine
    return engine.wait_seconds if isinstance(engine, RestartingQueryEngine) else DEFAULT_WAIT_SECONDS


def _call_deadline(db: Prisma) -> float:
    """The deadline of a new call: the client's wait limit from now, or an enclosing one if sooner."""
    limit = time.monotonic() + wait_seconds_of(db)
    outer = _DEADLINE.get()
    return limit if outer is None else min(limit, outer)


@contextmanager
def _timed(operation: str) -> Iterator[None]:
    """Observes the call's duration in DB_CALLS under `operation`, with its outcome."""
    started = time.perf_counter()
    outcome = "error"
    try:
        yield
        outcome = "ok"
    finally:
        DB_CALLS.labels(operation, outcome).observe(time.perf_counter() - started)


@contextmanager
def _within(deadline: float) -> Iterator[None]:
    token = _DEADLINE.set(deadline)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def _engine_wait_ms(deadline: float) -> int:
    """How long the engine may wait for a lock, to answer before `deadline`."""
    return max(0, int((deadline - time.monotonic() - ENGINE_ANSWER_SLACK) * 1000))


def _max_wait_of(content: object) -> float:
    """The max_wait (seconds) in the body of POST /transaction/start (Prisma's default 2 s)."""
    try:
        return float(json.loads(str(content)).get("max_wait", 2000)) / 1000
    except (ValueError, TypeError, AttributeError):
        return 2.0


_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _engine_child_setup(parent: int, *, die_with_parent: bool) -> Callable[[], None]:
    """Runs in the forked child before it becomes the engine."""

    def setup() -> None:
        # as prisma's own spawn: SIGINT and SIGTERM unblocked (prisma-client-py #678)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT, signal.SIGTERM])
        if die_with_parent and _LIBC is not None:
            _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != parent:  # the parent died before prctl: nobody will ever use this engine
                os._exit(1)

    return setup


def _cpu_seconds(pid: int) -> float | None:
    """CPU time used so far by process `pid` (from /proc; None where that is not available)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
    except (OSError, IndexError, ValueError):
        return None


def _retrieve_failure(task: asyncio.Task[None]) -> None:
    """A replacement that failed is raised to the calls waiting for it; there may be none."""
    if not task.cancelled() and task.exception() is not None:
        log.error("starting a new query engine failed: %s", task.exception())


class RestartingQueryEngine(AsyncQueryEngine):
    """The client's query engine process, replaced by a new one when it dies (crash, OOM kill,
    kill -9) or stops answering (SIGSTOP, a hang: the liveness check, module docstring). Before
    each call it checks whether its process exited (a non-blocking waitpid); one task spawns a
    new engine on a new port while the calls wait for it, each until its own deadline. The HTTP
    session stays open: its pooled connections to the dead port are never reused.

    Each request gets a timeout from its call's deadline (outside transactions, and a
    transaction's start from its max_wait); requests inside a transaction, commits and rollbacks
    keep the session's backstop (engine_http.py), the liveness check catching a stuck engine."""

    def __init__(self, *, wait_seconds: float = DEFAULT_WAIT_SECONDS, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.session = AiohttpEngineSession()  # garage/db/engine_http.py: why
        self.wait_seconds = wait_seconds
        self._connect_timeout = timedelta(seconds=10)
        self._datasources: Any = None
        self._replacement: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self.restarts = 0

    async def connect(self, timeout: timedelta = timedelta(seconds=10), datasources: Any = None) -> None:
        self._connect_timeout, self._datasources = timeout, datasources
        await super().connect(timeout=timeout, datasources=datasources)
        self._watcher = asyncio.get_running_loop().create_task(self._watch_liveness(), context=contextvars.Context())

    def close(self, *, timeout: timedelta | None = None) -> None:
        for task in (self._watcher, self._replacement):
            if task is not None and not task.done():
                with suppress(RuntimeError):  # at exit its event loop may be closed already
                    task.cancel()
        self._watcher = self._replacement = None
        super().close(timeout=timeout)

    async def aclose(self, *, timeout: timedelta | None = None) -> None:
        tasks = [task for task in (self._watcher, self._replacement) if task is not None]
        await super().aclose(timeout=timeout)
        await asyncio.gather(*tasks, return_exceptions=True)  # let them finish cancelling before the loop ends

    def _spawn_process(
        self, *, file: Path, datasources: list[DatasourceOverride] | None
    ) -> tuple[str, subprocess.Popen[bytes]]:
        """Prisma's spawn (prisma/engine/_query.py, same environment and arguments) with two
        additions: the engine's default lock wait is the client's (ENGINE_BUSY_TIMEOUT_MS), and
        the kernel kills the engine when this process dies. (PR_SET_PDEATHSIG follows the thread
        that spawned: set only from the main thread, where the service's event loop runs; the
        engine's own parent watch covers the rest.)"""
        port = engine_utils.get_open_port()
        self.url = f"http://localhost:{port}"
        env = {
            **os.environ,
            "PRISMA_DML_PATH": str(self.dml_path.absolute()),
            "RUST_LOG": "info" if DEBUG else "error",
            "RUST_LOG_FORMAT": "json",
            "PRISMA_CLIENT_ENGINE_TYPE": "binary",
            "PRISMA_ENGINE_PROTOCOL": "graphql",
            "ENGINE_BUSY_TIMEOUT_MS": str(int(self.wait_seconds * 1000)),
        }
        if datasources is not None:
            env["OVERWRITE_DATASOURCES"] = dumps(datasources)
        if self._log_queries:
            env["LOG_QUERIES"] = "y"
        setup = _engine_child_setup(os.getpid(), die_with_parent=threading.current_thread() is threading.main_thread())
        # Its output (JSON lines) is read by a thread of its own and logged with source=engine
        # (logging_setup.py): one log stream for the service, and the pipe never fills up.
        process = subprocess.Popen(
            [str(file.absolute()), "-p", str(port), "--enable-metrics", "--enable-raw-queries"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=setup,
        )
        assert process.stdout is not None
        fold_engine_output(process.stdout, process.pid)
        self.process = process
        return self.url, process

    async def request(
        self,
        method: Any,
        path: str,
        *,
        content: Any = None,
        headers: dict[str, str] | None = None,
        parse_response: bool = True,
    ) -> Any:
        if path == "/status":  # spawn() polls the new engine's /status while it replaces the old one
            return await self._send(
                method,
                path,
                content=content,
                headers=headers,
                parse_response=parse_response,
                timeout=LIVENESS_PING_TIMEOUT,
            )
        request_id = REQUEST_ID.get()
        if request_id is not None:  # the engine puts it on its query log lines
            headers = {**(headers or {}), "x-request-id": request_id}
        deadline = _DEADLINE.get()
        if path == "/transaction/start":
            deadline = time.monotonic() + _max_wait_of(content) + ENGINE_ANSWER_SLACK
        elif path == "/" and deadline is not None and not (headers and "X-transaction-id" in headers):
            headers = {**(headers or {}), "x-max-wait-ms": str(_engine_wait_ms(deadline))}
        else:
            deadline = None  # work inside a transaction, a commit: bounded by the transaction's timeout
        await self._ensure_alive(deadline)
        timeout = None
        if deadline is not None:
            timeout = deadline - time.monotonic()
            if timeout <= 0:
                raise engine_errors.NotConnectedError("no time was left to send the request to the query engine")
        return await self._send(
            method, path, content=content, headers=headers, parse_response=parse_response, timeout=timeout
        )

    async def _send(
        self,
        method: Any,
        path: str,
        *,
        content: Any,
        headers: dict[str, str] | None,
        parse_response: bool,
        timeout: float | None = None,
    ) -> Any:
        """prisma's AsyncHTTPEngine.request, with a timeout for this one request."""
        url, kwargs = self._build_request(
            path=path, method=method, content=content, headers=headers, parse_response=parse_response
        )
        response = await self.session.request(method, url, timeout=timeout, **kwargs)
        if 200 <= response.status < 300:
            if not parse_response:
                return await response.text()
            return self._process_response_data(data=await response.json(), response=response)
        self._process_response_error(body=await response.text(), response=response)

    def _died(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    async def _ensure_alive(self, deadline: float | None) -> None:
        if self._replacement is None and not self._died():
            return
        replacement = self._replace_soon()
        left = self._connect_timeout.total_seconds() if deadline is None else deadline - time.monotonic()
        try:
            await asyncio.wait_for(asyncio.shield(replacement), timeout=max(left, 0))
        except TimeoutError as error:
            raise engine_errors.NotConnectedError("the query engine is being replaced") from error

    def _replace_soon(self) -> asyncio.Task[None]:
        if self._replacement is None:
            # in a context of its own: the deadline of the call that noticed belongs to that call
            task = asyncio.get_running_loop().create_task(self._replace(), context=contextvars.Context())
            task.add_done_callback(_retrieve_failure)
            self._replacement = task
        return self._replacement

    async def _replace(self) -> None:
        try:
            old = self.process
            if old is not None:
                if old.poll() is None:  # stuck (liveness): SIGKILL also ends a stopped process
                    old.kill()
                for _ in range(500):
                    if old.poll() is not None:
                        break
                    await asyncio.sleep(0.01)
                log.error(
                    "the query engine (pid %d) exited with status %s; starting a new one", old.pid, old.returncode
                )
                self.process = None
            assert self.file is not None
            try:
                await self.spawn(self.file, timeout=self._connect_timeout, datasources=self._datasources)
            except Exception as error:
                self._kill_process(timeout=timedelta(seconds=1))  # the next call tries again
                raise engine_errors.NotConnectedError(f"could not start a new query engine: {error}") from error
            self.restarts += 1
            ENGINE_RESTARTS.inc()
            log.warning("a new query engine (pid %d) serves %s", self.process.pid if self.process else -1, self.url)
        finally:
            self._replacement = None

    async def _watch_liveness(self) -> None:
        silent_since: float | None = None
        cpu_then: float | None = None
        while True:
            await asyncio.sleep(LIVENESS_INTERVAL)
            process = self.process
            if process is None or self._replacement is not None:
                silent_since = None
                continue
            if process.poll() is not None:  # died: replace it now rather than on the next call
                self._replace_soon()
                silent_since = None
                continue
            asked = time.monotonic()
            if await self._answers():
                silent_since = None
                continue
            cpu = _cpu_seconds(process.pid)
            if silent_since is None:
                silent_since, cpu_then = asked, cpu
                continue
            silent = time.monotonic() - silent_since
            computing = cpu is not None and cpu_then is not None and cpu - cpu_then >= LIVENESS_BUSY_SHARE * silent
            if silent >= LIVENESS_BUSY_LIMIT or (silent >= LIVENESS_LIMIT and not computing):
                log.error(
                    "the query engine (pid %d) has not answered for %.1f s (%s); replacing it",
                    process.pid,
                    silent,
                    "computing" if computing else "stopped or hung",
                )
                self._replace_soon()
                silent_since = None

    async def _answers(self) -> bool:
        try:
            await self._send(
                "GET", "/status", content=None, headers=None, parse_response=True, timeout=LIVENESS_PING_TIMEOUT
            )
        except Exception:  # refused, reset, timed out: no answer  # noqa: BLE001
            return False
        return True


class GaragePrisma(Prisma):
    """Prisma with garage/db/retry.py's policy for single calls outside transactions: reads are
    retried on any transient failure, writes only when they provably did not run. Its
    `batch_()` is a `RetryingBatch`."""

    def __init__(
        self, *, wait_seconds: float = DEFAULT_WAIT_SECONDS, database_path: Path | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self._wait_seconds = wait_seconds
        self.database_path = database_path

    def batch_(self) -> Batch:
        return RetryingBatch(self)

    def _create_engine(self, dml_path: Path | None = None) -> AsyncAbstractEngine:
        return RestartingQueryEngine(
            dml_path=dml_path or self._packaged_schema_path,
            log_queries=self._log_queries,
            http_config=self._http_config,
            wait_seconds=self._wait_seconds,
        )

    async def _execute(
        self, *, method: Any, arguments: dict[str, Any], model: Any = None, root_selection: list[str] | None = None
    ) -> Any:
        async def call() -> Any:
            return await super(GaragePrisma, self)._execute(
                method=method, arguments=arguments, model=model, root_selection=root_selection
            )

        if self.is_transaction():  # the whole transaction is retried, never one of its calls
            try:
                return await call()
            except prisma_errors.RecordNotFoundError:
                raise  # the generated update() and delete() answer None for it
            except Exception as error:
                translated = _inside_transaction(error, self)
                if translated is error:
                    raise
                raise translated from error
        reading = METHOD_OPERATION_MAPPING.get(method) == "query"
        allowed = SINGLE_READ if reading else SINGLE_WRITE
        deadline = _call_deadline(self)
        try:
            with _timed("read" if reading else "write"), _within(deadline):
                return await retrying(
                    call,
                    retry_on=retry_when(allowed),
                    what=f"{method} {getattr(model, '__name__', '')}",
                    until=deadline - ENGINE_ANSWER_SLACK,
                )
        except prisma_errors.RecordNotFoundError:
            raise  # the generated update() and delete() answer None for it
        except Exception as error:
            failure = classify(error)
            if failure is not None:
                raise DatabaseUnavailable(BUSY if failure is Failure.REFUSED else UNAVAILABLE) from error
            _raise_translated(error, self)


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
        builder = QueryBuilder(
            **kwargs, prisma_models=PRISMA_MODELS, relational_field_mappings=RELATIONAL_FIELD_MAPPINGS
        )
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
        {
            "modelName": model,
            "action": "createMany",
            "query": {"arguments": {"data": rows}, "selection": {"count": True}},
        },
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
        try:
            return await send()
        except Exception as error:
            translated = _inside_transaction(error, db)
            if translated is error:
                raise
            raise translated from error
    deadline = _call_deadline(db)
    try:
        with _timed("write"), _within(deadline):
            return await retrying(
                send, retry_on=retry_when(SINGLE_WRITE), what=what, until=deadline - ENGINE_ANSWER_SLACK
            )
    except Exception as error:
        failure = classify(error)
        if failure is not None:
            raise DatabaseUnavailable(_unavailable_message(failure)) from error
        _raise_translated(error, db)


def _raise_translated(error: Exception, db: Prisma) -> NoReturn:
    """Raises `error` as the project's own error (garage/db/errors.py), or as it is if it is one."""
    translated = domain_error(error, getattr(db, "database_path", None))
    if translated is error:
        raise error
    raise translated from error


def _inside_transaction(error: Exception, db: Prisma) -> BaseException:
    """What a call inside an interactive transaction raises: a transient failure as it is, for
    `transaction` to retry the whole of it; anything else as the project's own error at once.
    (`error` itself when it stays as it is.)"""
    if classify(error) is not None:
        return error
    return domain_error(error, getattr(db, "database_path", None))


def _unavailable_message(failure: Failure) -> str:
    if failure is Failure.ENGINE_LOST:
        return OUTCOME_UNKNOWN
    return BUSY if failure is Failure.REFUSED else UNAVAILABLE


def _json_protocol_value(value: object) -> object:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise TypeError("naive datetime: times are stored in UTC and must carry a time zone")
        return {"$type": "DateTime", "value": value.isoformat()}
    raise TypeError(f"{type(value).__name__} is not a column value")


async def transaction(
    db: Prisma,
    work: Callable[[Prisma], Awaitable[T]],
    *,
    max_wait: timedelta | None = None,
    timeout: timedelta = timedelta(seconds=5),
    policy: RetryPolicy = DEFAULT_POLICY,
) -> T:
    """Runs `work(tx)` in one interactive transaction and commits it; on a transient failure
    before the commit, or a commit that provably did not happen, runs the WHOLE of `work` again
    on a new transaction (garage/db/retry.py). `work` must do nothing outside `tx` that matters
    twice. Errors of `work` itself (GarageError, constraint violations) are never retried.
    Raises DatabaseUnavailable when the retries are used up or a commit's outcome is unknown.

    Waiting to START (for the engine's writer and SQLite's write lock, over all attempts) ends at
    the call's deadline (the client's wait limit, GARAGE_DB_WAIT_SECONDS), or after `max_wait` per
    attempt if that is shorter; `timeout` bounds the transaction once started."""
    deadline = _call_deadline(db)

    async def attempt() -> T:
        wait = max(0.0, deadline - time.monotonic() - ENGINE_ANSWER_SLACK)
        if max_wait is not None:
            wait = min(wait, max_wait.total_seconds())
        manager = db.tx(max_wait=timedelta(seconds=wait), timeout=timeout)
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
        with _timed("transaction"):
            return await retrying(
                attempt,
                retry_on=retry_when(BEFORE_COMMIT),
                what="transaction",
                policy=policy,
                until=deadline - ENGINE_ANSWER_SLACK,
            )
    except DatabaseUnavailable:
        raise
    except Exception as error:
        failure = classify(error)
        if failure is not None:
            raise DatabaseUnavailable(BUSY if failure is Failure.REFUSED else UNAVAILABLE) from error
        _raise_translated(error, db)


__all__ = [
    "Failure",
    "GaragePrisma",
    "RestartingQueryEngine",
    "RetryingBatch",
    "create_prisma",
    "database_deadline",
    "insert_rows",
    "transaction",
]
