"""The one settings object, read from the environment (and `.env` in development)."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import re
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import ByteSize, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from garage.config.development_secrets import development_secrets
from garage.errors import OperationalFailure


class ProjectLayoutError(OperationalFailure):
    """garage was started outside the source checkout it needs (engine/, prisma/, .env)."""


def find_project_root(start: Path) -> Path:
    """The source checkout garage runs from: the nearest folder above `start` holding schema.prisma.
    garage is installed editable from its checkout (`pip install -e .`, `make venv`) and uses the
    checkout's engine/, prisma/migrations, tools/prisma and .env; relative `file:` database URLs
    are taken from this folder, as Prisma takes them from the schema's. A copy of the package
    outside a checkout (a built wheel in site-packages) has none of these: it stops here."""
    for folder in start.parents:
        if (folder / "schema.prisma").is_file():
            return folder
    raise ProjectLayoutError(
        f"no schema.prisma in any folder above {start}: garage runs from its source checkout "
        "(`pip install -e .` or `make venv` there), not from a copy installed elsewhere"
    )


REPO_ROOT = find_project_root(Path(__file__).resolve())


def checkout_path(relative: str, setting: str) -> Path:
    """`relative` inside the checkout, for a setting left unset; a clear error if it is missing."""
    path = REPO_ROOT / relative
    if not path.exists():
        raise ProjectLayoutError(f"{path} not found in the checkout {REPO_ROOT}: restore it, or set {setting}")
    return path


# An origin as browsers send it in `Origin`: scheme://host[:port], lower case; the host a name, an
# IPv4 address or a bracketed IPv6 address. Not "*" nor "null" (sandboxed frames, file: pages).
ORIGIN = re.compile(r"[a-z][a-z0-9+.-]*://([a-z0-9]([a-z0-9.-]*[a-z0-9])?|\[[0-9a-f:.]+\])(:[0-9]{1,5})?")


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class Settings(BaseSettings):
    """Every knob of the service. Production refuses to start without real secrets."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", populate_by_name=True, frozen=True)

    environment: Environment = Field(Environment.DEVELOPMENT, alias="GARAGE_ENV")
    database_url: str = Field("file:./dev.db", alias="DATABASE_URL")
    host: str = Field("127.0.0.1", alias="HOST")
    port: int = Field(8000, alias="PORT", ge=1, le=65535)
    workers: int = Field(1, alias="GARAGE_WORKERS", ge=1, le=64)
    admin_api_key: SecretStr | None = Field(None, alias="GARAGE_ADMIN_API_KEY")
    # Keys API keys are hashed with (HMAC-SHA256): a database leak alone does not reveal them.
    # Unset outside production: generated per database (`secret_key`, config/development_secrets.py).
    secret_key_setting: SecretStr | None = Field(None, alias="GARAGE_SECRET_KEY")
    # "kid:base64-32-bytes,kid2:..." - the last one encrypts, all of them decrypt (rotation).
    # Unset outside production: one key generated per database (`encryption_keys`).
    encryption_keys_setting: Annotated[tuple[tuple[str, bytes], ...] | None, NoDecode] = Field(
        None, alias="GARAGE_ENCRYPTION_KEYS"
    )
    log_level: str = Field("info", alias="GARAGE_LOG_LEVEL")
    # Log lines as JSON objects (`json`, for collectors) or readable lines (`console`); unset:
    # console in development, json in test and production (garage/logging_setup.py).
    log_format_setting: Literal["json", "console"] | None = Field(None, alias="GARAGE_LOG_FORMAT")
    log_queries: bool = Field(False, alias="GARAGE_LOG_QUERIES")
    # Unset: the checkout's engine/ and prisma/migrations, which must then exist (checkout_path).
    query_engine_binary: Path = Field(
        default_factory=lambda: checkout_path("engine/bin/query-engine.js", "PRISMA_QUERY_ENGINE_BINARY"),
        alias="PRISMA_QUERY_ENGINE_BINARY",
    )
    migrations_dir: Path = Field(
        default_factory=lambda: checkout_path("prisma/migrations", "GARAGE_MIGRATIONS_DIR"),
        alias="GARAGE_MIGRATIONS_DIR",
    )
    max_body_bytes: int = Field(1024 * 1024, alias="GARAGE_MAX_BODY_BYTES", ge=1)
    # The longest a database call waits - for SQLite's write lock held by another process, for the
    # engine's writer, for an engine being replaced - before it is answered 503 DATABASE_UNAVAILABLE
    # with Retry-After (garage/db/__init__.py; docs/operations.md "Retries, waits and engine restarts").
    db_wait_seconds: float = Field(10.0, alias="GARAGE_DB_WAIT_SECONDS", gt=0, le=300)
    # HTTP server limits (routes/http_protocol.py, docs/operations.md "HTTP limits"): a longer
    # request target gets 414, a larger header block 431; a request whose head and body have not
    # all arrived this many seconds after its first byte gets 408 (the clock stops while the service
    # itself is not reading); a connection with no request in progress is closed after the idle time.
    max_url_bytes: int = Field(8 * 1024, alias="GARAGE_MAX_URL_BYTES", ge=256)
    max_header_bytes: int = Field(16 * 1024, alias="GARAGE_MAX_HEADER_BYTES", ge=1024)
    request_read_timeout_seconds: float = Field(10.0, alias="GARAGE_REQUEST_READ_TIMEOUT_SECONDS", gt=0)
    keep_alive_timeout_seconds: float = Field(5.0, alias="GARAGE_KEEP_ALIVE_TIMEOUT_SECONDS", gt=0)
    # Browser access (API-operations.md "Browser access and abuse limits", routes/middleware.py Cors):
    # the exact origins (scheme://host[:port], comma-separated) whose pages may call the API;
    # empty: no CORS headers at all, so browsers keep pages of other origins out.
    cors_origins: Annotated[tuple[str, ...], NoDecode] = Field((), alias="GARAGE_CORS_ORIGINS")
    # Failed authentications (a missing or wrong key) one client address may make in a sliding
    # minute; past them its requests without a valid key get 429 RATE_LIMITED until the window has
    # room again (routes/middleware.py ThrottleFailedAuthentication, counted across workers; at most
    # 1000: each address keeps the times of its last `limit` failures).
    auth_failures_per_minute: int = Field(20, alias="GARAGE_AUTH_FAILURES_PER_MINUTE", ge=1, le=1000)
    # Reverse proxies in front (addresses or networks, comma-separated) whose X-Forwarded-For
    # names the client. Empty: the client is the TCP peer and X-Forwarded-For is ignored, as anyone
    # can send it.
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = Field((), alias="GARAGE_TRUSTED_PROXIES")
    backup_dir_setting: Path | None = Field(None, alias="GARAGE_BACKUP_DIR")
    # Scheduled snapshot backups while the service runs (0 turns the scheduler off), and how many
    # of the newest backups are kept (older ones are pruned after each backup).
    backup_interval_hours: float = Field(24.0, alias="GARAGE_BACKUP_INTERVAL_HOURS", ge=0)
    backup_keep: int = Field(7, alias="GARAGE_BACKUP_KEEP", ge=1)
    # Continuous backup (Litestream, started by `garage serve`): the WAL goes to GARAGE_REPLICA_URL
    # (e.g. s3://bucket/garage, any Litestream replica URL) or else a local folder (GARAGE_REPLICA_DIR,
    # default `replica/` beside the database). GARAGE_REPLICATION=false turns it off.
    replication: bool = Field(True, alias="GARAGE_REPLICATION")
    replica_url_setting: str | None = Field(None, alias="GARAGE_REPLICA_URL")
    replica_dir_setting: Path | None = Field(None, alias="GARAGE_REPLICA_DIR")
    # How often Litestream ships new WAL frames (a Go duration): the most a crash of the host can lose.
    replica_sync_interval: str = Field("1s", alias="GARAGE_REPLICA_SYNC_INTERVAL", pattern=r"^\d+(ms|s|m)$")
    # Archived sessions (`garage archive`): a second SQLite file with the same schema.
    archive_url_setting: str | None = Field(None, alias="GARAGE_ARCHIVE_URL")
    # Disk space (runtime/diskspace.py): below this many free bytes on the database's file system /ready
    # answers 503 and `garage doctor` reports a problem; a snapshot backup starts only if this much
    # is still free after its copy. Bytes, or a size such as "512MiB" / "1GB".
    min_free_bytes: ByteSize = Field(ByteSize(256 * 1024 * 1024), alias="GARAGE_MIN_FREE_BYTES")
    # The full PRAGMA integrity_check in the background (one worker), first right after start, then
    # every this many hours (0 turns it off); start-up itself runs only the fast quick_check.
    integrity_check_interval_hours: float = Field(24.0, alias="GARAGE_INTEGRITY_CHECK_INTERVAL_HOURS", ge=0)
    # Events are kept at least this long (API-operations.md "Events"); older ones are deleted hourly
    # by the maintenance scheduler (runtime/scheduler.py). Resuming from a deleted one: 410.
    event_retention_days: float = Field(7.0, alias="GARAGE_EVENT_RETENTION_DAYS", gt=0, le=3650)
    # Webhooks (API-operations.md "Events": Webhooks, Delivery; runtime/webhook_delivery.py): whether
    # a webhook may point at a loopback, private, link-local or unspecified address (unset: yes in
    # development and test, no in production, where that would let API users reach internal
    # services), and how long after a failed attempt the first retry comes (then doubling, at most 1 h).
    webhook_allow_private_setting: bool | None = Field(None, alias="GARAGE_WEBHOOK_ALLOW_PRIVATE")
    webhook_retry_seconds: float = Field(30.0, alias="GARAGE_WEBHOOK_RETRY_SECONDS", gt=0, le=3600)

    @field_validator("encryption_keys_setting", mode="before")
    @classmethod
    def _parse_encryption_keys(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        keys: list[tuple[str, bytes]] = []
        for entry in filter(None, (part.strip() for part in value.split(","))):
            kid, sep, encoded = entry.partition(":")
            if not sep or not kid:
                raise ValueError("GARAGE_ENCRYPTION_KEYS entries look like kid:base64key")
            try:
                key = base64.b64decode(encoded, validate=True)
            except binascii.Error as error:
                raise ValueError(f"encryption key {kid!r} is not valid base64") from error
            if len(key) != 32:
                raise ValueError(f"encryption key {kid!r} must be 32 bytes (AES-256)")
            keys.append((kid, key))
        if not keys:
            raise ValueError("GARAGE_ENCRYPTION_KEYS names no key")
        if len({kid for kid, _ in keys}) != len(keys):
            raise ValueError("GARAGE_ENCRYPTION_KEYS has a key id twice")
        return tuple(keys)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _parse_cors_origins(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        origins = []
        for entry in filter(None, (part.strip() for part in value.split(","))):
            # Browsers send the scheme and host in lower case, without a path or a trailing slash:
            # an origin written otherwise would never match, silently.
            origin = entry.lower()
            if not ORIGIN.fullmatch(origin):
                raise ValueError(
                    f"GARAGE_CORS_ORIGINS: {entry!r} is not an origin like https://app.example.com or "
                    "http://localhost:5173 (scheme://host[:port], no path, no '*')"
                )
            origins.append(origin)
        return tuple(origins)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _parse_trusted_proxies(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        proxies = []
        for entry in filter(None, (part.strip() for part in value.split(","))):
            try:
                proxy = ipaddress.ip_network(entry, strict=False) if "/" in entry else ipaddress.ip_address(entry)
            except ValueError as error:
                raise ValueError(
                    f"GARAGE_TRUSTED_PROXIES: {entry!r} is not an IP address or network (10.0.0.5, 10.0.0.0/8)"
                ) from error
            proxies.append(str(proxy))
        return tuple(proxies)

    @model_validator(mode="after")
    def _production_needs_real_secrets(self) -> Settings:
        if self.environment is Environment.PRODUCTION:
            missing = [
                name
                for name, value in (
                    ("GARAGE_SECRET_KEY", self.secret_key_setting),
                    ("GARAGE_ENCRYPTION_KEYS", self.encryption_keys_setting),
                )
                if value is None
            ]
            if missing:
                raise ValueError(f"production needs {', '.join(missing)} set")
        return self

    @cached_property
    def secret_key(self) -> SecretStr:
        """GARAGE_SECRET_KEY, else (never in production) the database's generated one."""
        if self.secret_key_setting is not None:
            return self.secret_key_setting
        return SecretStr(development_secrets(self.database_path).secret_key)

    @cached_property
    def encryption_keys(self) -> tuple[tuple[str, bytes], ...]:
        """GARAGE_ENCRYPTION_KEYS, else (never in production) the database's generated key."""
        if self.encryption_keys_setting is not None:
            return self.encryption_keys_setting
        generated = development_secrets(self.database_path)
        return ((generated.encryption_key_id, generated.encryption_key),)

    @cached_property
    def database_path(self) -> Path:
        """The SQLite file. Relative `file:` paths are taken from the repository root, where
        schema.prisma lives: the engine (like Prisma's) resolves them against the schema's folder."""
        return sqlite_file_path(self.database_url)

    @property
    def backup_dir(self) -> Path:
        """Where snapshot backups go: GARAGE_BACKUP_DIR, else `backups/` beside the database."""
        return self.backup_dir_setting or self.database_path.parent / "backups"

    @property
    def replica_dir(self) -> Path:
        """The local replica folder: GARAGE_REPLICA_DIR, else `replica/` beside the database."""
        return self.replica_dir_setting or self.database_path.parent / "replica"

    @property
    def replica_url(self) -> str:
        """Where Litestream replicates to and restores from."""
        return self.replica_url_setting or f"file://{self.replica_dir}"

    @property
    def archive_path(self) -> Path:
        """The archive database: GARAGE_ARCHIVE_URL (file:...), else `<database>-archive.db` beside it."""
        if self.archive_url_setting:
            return sqlite_file_path(self.archive_url_setting)
        return self.database_path.with_name(f"{self.database_path.stem}-archive.db")

    @property
    def webhook_allow_private(self) -> bool:
        """GARAGE_WEBHOOK_ALLOW_PRIVATE, else true except in production."""
        if self.webhook_allow_private_setting is not None:
            return self.webhook_allow_private_setting
        return self.environment is not Environment.PRODUCTION

    @property
    def log_format(self) -> Literal["json", "console"]:
        """GARAGE_LOG_FORMAT, else console in development and json elsewhere."""
        if self.log_format_setting is not None:
            return self.log_format_setting
        return "console" if self.environment is Environment.DEVELOPMENT else "json"

    @property
    def absolute_database_url(self) -> str:
        return f"file:{self.database_path}"


def sqlite_file_path(url: str) -> Path:
    """The file a `file:` URL names; relative paths are taken from the repository root."""
    location = url.removeprefix("file:").split("?", 1)[0]
    if location.startswith("//"):
        location = location.removeprefix("//localhost").removeprefix("//")
    path = Path(location)
    return path if path.is_absolute() else (REPO_ROOT / path).resolve()


DEVELOPMENT_ENV_FILE = REPO_ROOT / ".env"


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment; `overrides` win (tests). In development (GARAGE_ENV unset or
    "development") the committed .env supplies defaults for what the environment leaves unset;
    test and production never read it, so its development-only admin key cannot leak there."""
    environment = str(overrides.get("GARAGE_ENV", os.environ.get("GARAGE_ENV", Environment.DEVELOPMENT.value)))
    if environment == Environment.DEVELOPMENT.value:
        return Settings(_env_file=DEVELOPMENT_ENV_FILE, **overrides)  # type: ignore[arg-type, call-arg]
    return Settings(**overrides)  # type: ignore[arg-type]
