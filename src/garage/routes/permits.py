"""Monthly permits (/garages/{id}/permits, /permits/{id}) and the deny list
(/garages/{id}/denied-plates): API-operations.md "Monthly permits and the deny list"."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import ConfigDict, Field

from garage.errors import ValidationFailed
from garage.routes.endpoint import Call, Router
from garage.routes.models import (
    ApiModel,
    InstantIn,
    LicensePlate,
    ListQuery,
    ListResponse,
    RequestModel,
    Timestamp,
    encode_cursor,
    list_response,
)
from garage.services.plates import InvalidPlate, normalise_plate
from garage.vocabulary import PERMIT_MAX_DAYS, PermitStatus, Role

ROUTER = Router()
"""This module's endpoints (listed in routes/api.py)."""

HolderName = Annotated[str, Field(min_length=1, max_length=200, description="Sensitive: encrypted at rest")]
HolderEmail = Annotated[
    str, Field(min_length=3, max_length=100, pattern=r"^[^@\s]+@[^@\s]+$", description="Sensitive: encrypted at rest")
]
WINDOW = f"validFrom < validTo, at most {PERMIT_MAX_DAYS} days apart; validity is [validFrom, validTo)"


class PermitOut(ApiModel, title="Permit"):
    """A monthly permit: the garage's sessions of the plate that start within [validFrom, validTo)
    are free until validTo (while it is ACTIVE)."""

    id: str
    garage_id: str
    license_plate: str = Field(description="Normalised: upper case A-Z0-9, 2 to 10 characters")
    holder_name: str | None = Field(description="Sensitive: encrypted at rest")
    holder_email: str | None = Field(description="Sensitive: encrypted at rest")
    valid_from: Timestamp
    valid_to: Timestamp = Field(description="Exclusive: the first instant the permit no longer covers")
    status: PermitStatus
    created_at: Timestamp
    updated_at: Timestamp


class PermitList(ListResponse[PermitOut]):
    """A page of a garage's permits, newest validFrom first."""


class CreatePermitIn(RequestModel):
    """A new permit (ACTIVE)."""

    model_config = ConfigDict(
        title="CreatePermitRequest",
        json_schema_extra={
            "examples": [
                {
                    "licensePlate": "AB-12 CD",
                    "holderName": "Ada Lovelace",
                    "holderEmail": "ada@example.org",
                    "validFrom": "2026-03-01T00:00:00Z",
                    "validTo": "2026-04-01T00:00:00Z",
                }
            ]
        },
    )

    license_plate: LicensePlate
    holder_name: HolderName | None = None
    holder_email: HolderEmail | None = None
    valid_from: InstantIn
    valid_to: InstantIn = Field(description=WINDOW)


class PatchPermitIn(RequestModel):
    """Only the fields sent change; a holder field sent as null is cleared. A cancelled permit
    cannot be re-activated nor its validTo changed (409 PERMIT_CANCELLED); cancelling it again
    changes nothing."""

    model_config = ConfigDict(
        title="UpdatePermitRequest",
        json_schema_extra={"examples": [{"validTo": "2026-05-01T00:00:00Z"}, {"status": "CANCELLED"}]},
    )

    holder_name: HolderName | None = None
    holder_email: HolderEmail | None = None
    valid_to: InstantIn | None = Field(None, description=WINDOW)
    status: PermitStatus | None = Field(None, description="CANCELLED ends the permit for good")


class PermitQuery(ListQuery):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    plate: LicensePlate | None = Field(None, description="Exact plate (normalised before matching)")
    status: PermitStatus | None = Field(None, description="Only permits with this status")
    active_at: InstantIn | None = Field(
        None, alias="activeAt", description="Only ACTIVE permits with validFrom <= activeAt < validTo"
    )


class DeniedPlateOut(ApiModel, title="DeniedPlate"):
    """A plate refused at check-in in the garage (409 VEHICLE_DENIED)."""

    license_plate: str = Field(description="Normalised: upper case A-Z0-9, 2 to 10 characters")
    reason: str
    created_at: Timestamp = Field(description="When the plate was first denied (a new reason keeps it)")


class DeniedPlateList(ListResponse[DeniedPlateOut]):
    """A page of a garage's denied plates, in plate order."""


class DenyPlateIn(RequestModel):
    """Why the plate is denied."""

    model_config = ConfigDict(
        title="DenyPlateRequest", json_schema_extra={"examples": [{"reason": "Unpaid fees since January"}]}
    )

    reason: str = Field(min_length=1, max_length=200)


_PERMIT_FIELDS = {
    "holder_name": "holderName",
    "holder_email": "holderEmail",
    "valid_to": "validTo",
    "status": "status",
}
_HOLDER = ("holder_name", "holder_email")
_BAD_PLATE = "VALIDATION_ERROR: the path's plate is not 2 to 10 of A-Z0-9 once normalised (`details.fields.plate`)"
_PUT_400 = (
    f"{_BAD_PLATE}; the request body is not valid JSON, or a field is missing, unknown or invalid; "
    "Authorization sent twice. `details.fields` names each bad field"
)
_DELETE_400 = (
    f"{_BAD_PLATE}; a request body other than none or {{}}; Authorization sent twice. "
    "`details.fields` names each bad field"
)


def _path_plate(call: Call[Any, Any]) -> str:
    """The {plate} of the path, normalised (400 naming `plate` when it is not a plate)."""
    try:
        return normalise_plate(call.path("plate"))
    except InvalidPlate as error:
        raise ValidationFailed(error.message, details={"fields": {"plate": error.message}}) from None


@ROUTER.endpoint(
    "POST",
    "/garages/{id}/permits",
    role=Role.ADMIN,
    summary="Sell a permit (ACTIVE; another ACTIVE permit of the plate overlapping it: 409 DUPLICATE_PERMIT)",
    tag="permits",
    body=CreatePermitIn,
    response=PermitOut,
    status=201,
    errors=("NOT_FOUND", "DUPLICATE_PERMIT"),
    operation_id="createPermit",
)
async def create_permit(call: Call[CreatePermitIn, None]) -> PermitOut:
    body = call.body
    permit = await call.services.permits.create(
        call.path("id"),
        license_plate=body.license_plate,
        holder={"holderName": body.holder_name, "holderEmail": body.holder_email},
        valid_from=body.valid_from,
        valid_to=body.valid_to,
        actor=call.principal.key_id,
    )
    return PermitOut.model_validate(permit)


@ROUTER.endpoint(
    "GET",
    "/garages/{id}/permits",
    role=Role.VIEWER,
    summary="List a garage's permits, newest validFrom first (filters: plate, status, activeAt)",
    tag="permits",
    query=PermitQuery,
    response=PermitList,
    errors=("NOT_FOUND",),
    operation_id="listPermits",
)
async def list_permits(call: Call[None, PermitQuery]) -> dict[str, object]:
    q = call.query
    page = await call.services.permits.list(
        call.path("id"),
        license_plate=q.plate,
        status=q.status,
        active_at=q.active_at,
        limit=q.limit,
        cursor=q.after_id,
    )
    return list_response(page, PermitOut)


@ROUTER.endpoint(
    "GET",
    "/permits/{id}",
    role=Role.VIEWER,
    summary="A permit",
    tag="permits",
    response=PermitOut,
    errors=("NOT_FOUND",),
    operation_id="getPermit",
)
async def get_permit(call: Call[None, None]) -> PermitOut:
    return PermitOut.model_validate(await call.services.permits.get(call.path("id")))


@ROUTER.endpoint(
    "PATCH",
    "/permits/{id}",
    role=Role.ADMIN,
    summary="Change a permit's holder, move its validTo, or cancel it (for good)",
    tag="permits",
    body=PatchPermitIn,
    response=PermitOut,
    errors=("NOT_FOUND", "DUPLICATE_PERMIT", "PERMIT_CANCELLED"),
    operation_id="updatePermit",
)
async def patch_permit(call: Call[PatchPermitIn, None]) -> PermitOut:
    body = call.body
    changes: dict[str, Any] = {}
    for name in body.model_fields_set:
        value = getattr(body, name)
        if value is None and name not in _HOLDER:
            raise ValidationFailed(
                f"{_PERMIT_FIELDS[name]} cannot be null", details={"fields": {_PERMIT_FIELDS[name]: "cannot be null"}}
            )
        changes[_PERMIT_FIELDS[name]] = value
    permit = await call.services.permits.update(call.path("id"), changes, actor=call.principal.key_id)
    return PermitOut.model_validate(permit)


@ROUTER.endpoint(
    "PUT",
    "/garages/{id}/denied-plates/{plate}",
    role=Role.ADMIN,
    summary="Deny a plate in the garage (its check-ins get 409 VEHICLE_DENIED), or replace the reason",
    tag="permits",
    body=DenyPlateIn,
    response=DeniedPlateOut,
    errors=("NOT_FOUND",),
    responses={400: _PUT_400},
    operation_id="replaceDeniedPlate",
)
async def put_denied_plate(call: Call[DenyPlateIn, None]) -> DeniedPlateOut:
    plate = _path_plate(call)
    denied = await call.services.denied_plates.put(
        call.path("id"), plate, call.body.reason, actor=call.principal.key_id
    )
    return DeniedPlateOut.model_validate(denied)


@ROUTER.endpoint(
    "DELETE",
    "/garages/{id}/denied-plates/{plate}",
    role=Role.ADMIN,
    summary="Take a plate off the garage's deny list (404 when it is not on it)",
    tag="permits",
    status=204,
    errors=("NOT_FOUND",),
    responses={400: _DELETE_400},
    operation_id="deleteDeniedPlate",
)
async def delete_denied_plate(call: Call[None, None]) -> None:
    plate = _path_plate(call)
    await call.services.denied_plates.remove(call.path("id"), plate, actor=call.principal.key_id)


@ROUTER.endpoint(
    "GET",
    "/garages/{id}/denied-plates",
    role=Role.VIEWER,
    summary="A garage's deny list, in plate order",
    tag="permits",
    query=ListQuery,
    response=DeniedPlateList,
    errors=("NOT_FOUND",),
    operation_id="listDeniedPlates",
)
async def list_denied_plates(call: Call[None, ListQuery]) -> DeniedPlateList:
    page = await call.services.denied_plates.list(
        call.path("id"), limit=call.query.limit, after_plate=call.query.after_id
    )
    return DeniedPlateList(
        items=[DeniedPlateOut.model_validate(row) for row in page.items], next_cursor=encode_cursor(page.next_after)
    )
