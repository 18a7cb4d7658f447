"""/admin: API keys and the audit log (admin only)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ConfigDict, Field, field_validator

from garage.routes.endpoint import Call, Router
from garage.routes.models import (
    ApiModel,
    IdText,
    InstantIn,
    ListQuery,
    ListResponse,
    RequestModel,
    Timestamp,
    list_response,
)
from garage.vocabulary import Role

ROUTER = Router()
"""This module's endpoints (listed in routes/api.py)."""


class ApiKeyOut(ApiModel, title="ApiKey"):
    """An API key (never the key itself: it is stored only hashed)."""

    id: str
    name: str
    role: Role
    validator_id: str | None = Field(description="The validator a validator key validates with; null for other roles")
    created_at: Timestamp
    revoked_at: Timestamp | None = Field(description="Null while the key is valid")


class ApiKeyList(ListResponse[ApiKeyOut]):
    """A page of API keys."""


class CreatedApiKeyOut(ApiModel, title="CreatedApiKey"):
    """A new API key, with the key itself: shown this once."""

    id: str
    name: str
    role: Role
    validator_id: str | None = Field(description="The validator a validator key validates with; null for other roles")
    key: str = Field(description="The key itself: shown once, stored only hashed")
    created_at: Timestamp


class CreateApiKeyIn(RequestModel):
    """A new API key."""

    model_config = ConfigDict(
        title="CreateApiKeyRequest", json_schema_extra={"examples": [{"name": "Entry gate 1", "role": "operator"}]}
    )

    name: str = Field(min_length=1, max_length=100)
    role: Role
    validator_id: IdText | None = Field(
        None,
        description="Required for role validator (a merchant's key: it may only read tickets and validate them "
        "with this validator), refused for the other roles",
    )


class AuditEntryOut(ApiModel, title="AuditEntry"):
    """One recorded write: who, what, when, before and after."""

    id: str
    actor: str = Field(description="The id of the API key that made the change (or a command's name)")
    action: str = Field(description="CREATE, UPDATE, DELETE, CHECK_IN, CHECK_OUT, REFUND, REVOKE, ...")
    entity: str = Field(description="The kind of record changed: Garage, Spot, Vehicle, Session, ...")
    entity_id: str
    before: Any = Field(
        description="The record before the change (null for a creation); sensitive fields only as set or not"
    )
    after: Any = Field(description="The record after the change (null for a deletion)")
    created_at: Timestamp

    @field_validator("before", "after", mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value


class AuditEntryList(ListResponse[AuditEntryOut]):
    """A page of the audit log, newest first."""


class AuditQuery(ListQuery):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    entity: str | None = Field(None, max_length=100, description="Only entries about this kind of record")
    entity_id: str | None = Field(None, alias="entityId", max_length=100, description="Only entries about this record")
    since: InstantIn | None = Field(None, alias="from", description="createdAt >= from")
    until: InstantIn | None = Field(None, alias="to", description="createdAt < to")


@ROUTER.endpoint(
    "POST",
    "/admin/api-keys",
    role=Role.ADMIN,
    summary="Create an API key (the key is shown once)",
    tag="admin",
    body=CreateApiKeyIn,
    response=CreatedApiKeyOut,
    status=201,
    errors=("NOT_FOUND",),
    operation_id="createApiKey",
)
async def create_api_key(call: Call[CreateApiKeyIn, None]) -> CreatedApiKeyOut:
    body = call.body
    created = await call.services.keys.create(
        name=body.name, role=body.role, validator_id=body.validator_id, actor=call.principal.key_id
    )
    record = created.record
    return CreatedApiKeyOut(
        id=record.id,
        name=record.name,
        role=Role(record.role),
        validator_id=record.validatorId,
        key=created.key,
        created_at=record.createdAt,
    )


@ROUTER.endpoint(
    "GET",
    "/admin/api-keys",
    role=Role.ADMIN,
    summary="List API keys",
    tag="admin",
    query=ListQuery,
    response=ApiKeyList,
    operation_id="listApiKeys",
)
async def list_api_keys(call: Call[None, ListQuery]) -> dict[str, object]:
    page = await call.services.keys.list(limit=call.query.limit, cursor=call.query.after_id)
    return list_response(page, ApiKeyOut)


@ROUTER.endpoint(
    "DELETE",
    "/admin/api-keys/{id}",
    role=Role.ADMIN,
    summary="Revoke an API key",
    tag="admin",
    response=ApiKeyOut,
    errors=("NOT_FOUND",),
    operation_id="revokeApiKey",
)
async def revoke_api_key(call: Call[None, None]) -> ApiKeyOut:
    record = await call.services.keys.revoke(call.path("id"), actor=call.principal.key_id)
    return ApiKeyOut.model_validate(record)


@ROUTER.endpoint(
    "GET",
    "/admin/audit",
    role=Role.ADMIN,
    summary="The audit log, newest first",
    tag="admin",
    query=AuditQuery,
    response=AuditEntryList,
    operation_id="listAuditEntries",
)
async def list_audit(call: Call[None, AuditQuery]) -> dict[str, object]:
    q = call.query
    page = await call.services.audit.list(
        entity=q.entity, entity_id=q.entity_id, since=q.since, until=q.until, limit=q.limit, cursor=q.after_id
    )
    return list_response(page, AuditEntryOut)


class BackupOut(ApiModel, title="Backup"):
    """A backup file in the backup folder (GARAGE_BACKUP_DIR)."""

    name: str
    size_bytes: int
    created_at: Timestamp


class BackupList(ListResponse[BackupOut]):
    """Every backup, newest first, on one page (`nextCursor` is always null)."""


@ROUTER.endpoint(
    "POST",
    "/admin/backups",
    role=Role.ADMIN,
    summary="Take a consistent backup now (the service keeps serving)",
    tag="admin",
    response=BackupOut,
    status=201,
    responses={507: "INSUFFICIENT_STORAGE: not enough free disk space for the copy (nothing is left behind)"},
    operation_id="createBackup",
)
async def create_backup(call: Call[None, None]) -> BackupOut:
    """507 INSUFFICIENT_STORAGE when the backup folder's file system cannot hold a copy of the
    database with GARAGE_MIN_FREE_BYTES to spare, or filled up during the copy: the service and
    its database are fine (not a 503), the request can be repeated once an operator freed space."""
    backup = await call.services.backups.create()
    return BackupOut.model_validate(backup)


@ROUTER.endpoint(
    "GET",
    "/admin/backups",
    role=Role.ADMIN,
    summary="Backups taken, newest first",
    tag="admin",
    response=BackupList,
    operation_id="listBackups",
)
async def list_backups(call: Call[None, None]) -> dict[str, object]:
    return {
        "items": [
            BackupOut.model_validate(b).model_dump(mode="json", by_alias=True) for b in call.services.backups.list()
        ],
        "nextCursor": None,
    }
