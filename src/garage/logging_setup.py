"""Logging, configured once for the service, its uvicorn workers and the `garage` command: one
stream (stderr), one format, every line tagged with where it came from and the request it served.

Formats (GARAGE_LOG_FORMAT): `json` - one JSON object per line (timestamp, level, source, logger,
message, pid, request_id when there is one, exception, and the fields a child process gave) for log
collectors; `console` - one readable line for a developer. Default: console in development, json
in test and production (Settings.log_output_format).

Sources (`source`): `service` (our own loggers), `uvicorn` (server and access lines), `engine`
(the query engine's JSON lines, read from its output: `fold_engine_output`) and `litestream`
(its logfmt lines: `fold_litestream_output`). The children keep filtering by their own level (the
engine: RUST_LOG, its query log when GARAGE_LOG_QUERIES asks; Litestream: GARAGE_LOG_LEVEL), so
what they print is passed on whatever the service's level.

Why a stdlib formatter rather than structlog or python-json-logger: every library in the process
(uvicorn, prisma, aiohttp) logs through stdlib `logging`, which uvicorn configures in each worker
from the same `dictConfig` dict; what is ours is the mapping of a record to a dict (json.dumps does
the escaping), about thirty lines that need no further dependency.

Request ids: `REQUEST_ID` (a context variable) is set per HTTP request by routes/middleware.py
(RequestId), stamped on every record logged while serving it, sent to the engine as X-Request-ID
(garage/db), which puts it on its query and slow-query log lines.
"""

from __future__ import annotations

import contextvars
import json
import logging
import logging.config
import os
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO, Any, Literal

LogFormat = Literal["json", "console"]

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("garage_request_id", default=None)

# Attributes every LogRecord has: anything else on a record came from `extra` (fields of a child's line).
# (uvicorn's `color_message` is its message again, with terminal colour codes: never a field of ours.)
_RECORD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "color_message",
}
# What the JSON formatter writes itself; a child's fields never replace them.
_CORE_KEYS = ("timestamp", "level", "source", "logger", "message", "pid", "request_id")


class ContextFilter(logging.Filter):
    """Gives each record its `source` (unless the code that logged it set one) and the request id
    of the request being served, if any (unless the record carries its own, as engine lines do)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "source"):
            record.source = "uvicorn" if record.name.startswith("uvicorn") else "service"
        if getattr(record, "request_id", None) is None:
            record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "source": getattr(record, "source", "service"),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        request_id = getattr(record, "request_id", None)
        if request_id is not None:
            entry["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRIBUTES and key not in _CORE_KEYS:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class ConsoleFormatter(logging.Formatter):
    """`2026-01-31 12:00:00,123 INFO    service garage.db: message [request_id=...]`, then a child's
    fields as key=value."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(source)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "source"):
            record.source = "service"
        line = super().format(record)
        fields = {
            key: value
            for key, value in record.__dict__.items()
            if key not in _RECORD_ATTRIBUTES and key not in _CORE_KEYS
        }
        request_id = getattr(record, "request_id", None)
        if request_id is not None:
            fields = {"request_id": request_id, **fields}
        if fields:
            head, newline, rest = line.partition("\n")  # after the message, before a traceback
            line = head + " " + " ".join(f"{key}={value}" for key, value in fields.items()) + newline + rest
        return line


def logging_config(level: str, log_format: LogFormat) -> dict[str, Any]:
    """The `dictConfig` dict of the service: given to uvicorn as `log_config` (it applies it in
    every worker process) and applied by `configure_logging` for the `garage` command."""
    formatter = {"()": f"{__name__}.{'JsonFormatter' if log_format == 'json' else 'ConsoleFormatter'}"}
    return {
        "version": 1,
        # loggers created at import (garage.*, prisma, uvicorn's) keep working
        "disable_existing_loggers": False,
        "filters": {"context": {"()": f"{__name__}.ContextFilter"}},
        "formatters": {"garage": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "garage",
                "filters": ["context"],
            }
        },
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        "loggers": {
            # uvicorn's own config would give them handlers of their own: here they go to the root's
            **{
                name: {"level": level.upper(), "handlers": [], "propagate": True}
                for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
            },
            # the children filter by their own level (module docstring)
            ENGINE_LOGGER: {"level": "DEBUG"},
            LITESTREAM_LOGGER: {"level": "DEBUG"},
        },
    }


def configure_logging(level: str, log_format: LogFormat) -> None:
    logging.addLevelName(5, "TRACE")  # uvicorn's level name for --log-level trace
    logging.config.dictConfig(logging_config(level if level.lower() != "trace" else "DEBUG", log_format))


# ---- child processes' output, folded into the service's stream ----

ENGINE_LOGGER = "garage.engine"
LITESTREAM_LOGGER = "garage.litestream"
_LEVELS = {
    "ERROR": logging.ERROR,
    "WARN": logging.WARNING,
    "WARNING": logging.WARNING,
    "INFO": logging.INFO,
    "DEBUG": logging.DEBUG,
    "TRACE": logging.DEBUG,
}
# A request id as the service accepts it (routes/middleware.py) and passes it on.
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def fold_output(
    stream: IO[bytes],
    parse: Callable[[str], tuple[int, str, dict[str, Any]]],
    *,
    source: str,
    logger_name: str,
    pid: int,
) -> threading.Thread:
    """Reads a child's output line by line until it closes (the child exited), for as long as it
    runs, so that a full pipe never blocks the child, and logs each line with `source`."""
    logger = logging.getLogger(logger_name)

    def read() -> None:
        with stream:
            for raw in iter(stream.readline, b""):
                text = raw.decode("utf-8", "replace").rstrip()
                if not text:
                    continue
                try:
                    level, message, fields = parse(text)
                except Exception:  # never lose a line to a parsing problem  # noqa: BLE001
                    level, message, fields = logging.WARNING, text, {}
                request_id = fields.pop("request_id", None)
                extra = {key: value for key, value in fields.items() if key not in _RECORD_ATTRIBUTES}
                logger.log(
                    level,
                    "%s",
                    message,
                    extra={
                        **extra,
                        "source": source,
                        f"{source}_pid": pid,
                        "request_id": request_id if isinstance(request_id, str) else None,
                    },
                )

    thread = threading.Thread(target=read, name=f"{source}-{pid}-output", daemon=True)
    thread.start()
    return thread


def parse_engine_line(text: str) -> tuple[int, str, dict[str, Any]]:
    """engine/src/logger.js's JSON line: {timestamp, level, fields: {message, ...}, target}. A line
    that is not one (Node's own warnings, a crash's stack) is passed on as a warning."""
    if not text.startswith("{"):
        return logging.WARNING, text, {}
    line = json.loads(text)
    fields = dict(line.get("fields") or {})
    message = str(fields.pop("message", ""))
    if line.get("target"):
        fields["target"] = line["target"]
    return _LEVELS.get(str(line.get("level", "")).upper(), logging.INFO), message, fields


_LOGFMT_PAIR = re.compile(r'([\w.-]+)=("(?:[^"\\]|\\.)*"|\S*)')


def parse_litestream_line(text: str) -> tuple[int, str, dict[str, Any]]:
    """Litestream's logfmt line (`time=... level=INFO msg="..." key=value`); any other line as info."""
    pairs = {key: json.loads(value) if value.startswith('"') else value for key, value in _LOGFMT_PAIR.findall(text)}
    if "msg" not in pairs:
        return logging.INFO, text, {}
    pairs.pop("time", None)
    level = _LEVELS.get(str(pairs.pop("level", "INFO")).upper(), logging.INFO)
    return level, str(pairs.pop("msg")), pairs


def fold_engine_output(stream: IO[bytes], pid: int) -> threading.Thread:
    return fold_output(stream, parse_engine_line, source="engine", logger_name=ENGINE_LOGGER, pid=pid)


def fold_litestream_output(stream: IO[bytes], pid: int) -> threading.Thread:
    return fold_output(stream, parse_litestream_line, source="litestream", logger_name=LITESTREAM_LOGGER, pid=pid)


def new_request_id() -> str:
    return os.urandom(16).hex()


def valid_request_id(value: str | None) -> str | None:
    """`value` when it is a request id we pass on (1-128 of A-Z a-z 0-9 . _ : -), else None."""
    return value if value is not None and REQUEST_ID_PATTERN.fullmatch(value) else None
