"""/vehicles: register, look up, change and (soft) delete vehicles; a vehicle's parking history."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import ConfigDict, Field

from garage.errors import ValidationFailed
from garage.routes.endpoint import Call, Router
from garage.routes.models import (
    ApiModel,
    LicensePlate,
    ListQuery,
    ListResponse,
    PlateSearch,
    RequestModel,
    Timestamp,
    list_response,
)
from garage.routes.sessions import SessionList, SessionOut
from garage.vocabulary import Role, VehicleType

ROUTER = Router()
"""This module's endpoints (listed in routes/api.py)."""

OwnerName = Annotated[str, Field(min_length=1, max_length=200, description="Sensitive: encrypted at rest")]
OwnerEmail = Annotated[
    str, Field(min_length=3, max_length=100, pattern=r"^[^@\s]+@[^@\s]+$", description="Sensitive: encrypted at rest")
]
OwnerPhone = Annotated[
    str, Field(min_length=3, max_length=100, pattern=r"^\+?[0-9 ()./\-]+$", description="Sensitive: encrypted at rest")
]


class VehicleOut(ApiModel, title="Vehicle"):
    """A vehicle, known by its normalised licence plate."""

    id: str
    license_plate: str = Field(description="Normalised: upper case A-Z0-9, 2 to 10 characters")
    type: VehicleType
    owner_name: str | None = Field(description="Sensitive: encrypted at rest")
    owner_email: str | None = Field(description="Sensitive: encrypted at rest")
    owner_phone: str | None = Field(description="Sensitive: encrypted at rest")
    created_at: Timestamp
    updated_at: Timestamp


class VehicleList(ListResponse[VehicleOut]):
    """A page of live vehicles, newest first."""


class CreateVehicleIn(RequestModel):
    """A vehicle to register."""

    model_config = ConfigDict(
        title="CreateVehicleRequest",
        json_schema_extra={
            "examples": [
                {
                    "licensePlate": "AB-12 CD",
                    "type": "CAR",
                    "ownerName": "Ada Lovelace",
                    "ownerEmail": "ada@example.org",
                }
            ]
        },
    )

    license_plate: LicensePlate
    type: VehicleType
    owner_name: OwnerName | None = None
    owner_email: OwnerEmail | None = None
    owner_phone: OwnerPhone | None = None


class PatchVehicleIn(RequestModel):
    """Only the fields sent change; an owner field sent as null is cleared."""

    model_config = ConfigDict(
        title="UpdateVehicleRequest",
        json_schema_extra={"examples": [{"ownerPhone": "+49 30 1234567", "ownerEmail": None}]},
    )

    license_plate: LicensePlate | None = None
    type: VehicleType | None = None
    owner_name: OwnerName | None = None
    owner_email: OwnerEmail | None = None
    owner_phone: OwnerPhone | None = None


class VehicleQuery(ListQuery):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    plate: LicensePlate | None = Field(None, description="Exact plate (normalised before matching)")
    q: PlateSearch | None = None


_MODEL_NAMES = {
    "license_plate": "licensePlate",
    "type": "type",
    "owner_name": "ownerName",
    "owner_email": "ownerEmail",
    "owner_phone": "ownerPhone",
}
_OWNER = ("owner_name", "owner_email", "owner_phone")


@ROUTER.endpoint(
    "GET",
    "/vehicles",
    role=Role.VIEWER,
    summary="List live vehicles, newest first (filters: exact plate, part of a plate)",
    tag="vehicles",
    query=VehicleQuery,
    response=VehicleList,
    operation_id="listVehicles",
)
async def list_vehicles(call: Call[None, VehicleQuery]) -> dict[str, object]:
    q = call.query
    page = await call.services.vehicles.list(
        license_plate=q.plate, plate_contains=q.q, limit=q.limit, cursor=q.after_id
    )
    return list_response(page, VehicleOut)


@ROUTER.endpoint(
    "POST",
    "/vehicles",
    role=Role.OPERATOR,
    summary="Register a vehicle",
    tag="vehicles",
    body=CreateVehicleIn,
    response=VehicleOut,
    status=201,
    errors=("DUPLICATE_PLATE",),
    operation_id="createVehicle",
)
async def create_vehicle(call: Call[CreateVehicleIn, None]) -> VehicleOut:
    body = call.body
    vehicle = await call.services.vehicles.create(
        license_plate=body.license_plate,
        type=body.type,
        owner={_MODEL_NAMES[name]: getattr(body, name) for name in _OWNER},
        actor=call.principal.key_id,
    )
    return VehicleOut.model_validate(vehicle)


@ROUTER.endpoint(
    "GET",
    "/vehicles/{id}",
    role=Role.VIEWER,
    summary="A live vehicle",
    tag="vehicles",
    response=VehicleOut,
    errors=("NOT_FOUND",),
    operation_id="getVehicle",
)
async def get_vehicle(call: Call[None, None]) -> VehicleOut:
    return VehicleOut.model_validate(await call.services.vehicles.get(call.path("id")))


@ROUTER.endpoint(
    "PATCH",
    "/vehicles/{id}",
    role=Role.OPERATOR,
    summary="Change a vehicle (fields sent change; owner fields sent as null are cleared)",
    tag="vehicles",
    body=PatchVehicleIn,
    response=VehicleOut,
    errors=("NOT_FOUND", "DUPLICATE_PLATE"),
    operation_id="updateVehicle",
)
async def patch_vehicle(call: Call[PatchVehicleIn, None]) -> VehicleOut:
    body = call.body
    changes: dict[str, Any] = {}
    for name in body.model_fields_set:
        value = getattr(body, name)
        if value is None and name not in _OWNER:
            raise ValidationFailed(
                f"{_MODEL_NAMES[name]} cannot be null", details={"fields": {_MODEL_NAMES[name]: "cannot be null"}}
            )
        changes[_MODEL_NAMES[name]] = value
    vehicle = await call.services.vehicles.update(call.path("id"), changes, actor=call.principal.key_id)
    return VehicleOut.model_validate(vehicle)


@ROUTER.endpoint(
    "DELETE",
    "/vehicles/{id}",
    role=Role.OPERATOR,
    summary="Soft-delete a vehicle (its history stays; a parked vehicle: 409 HAS_ACTIVE_SESSIONS)",
    tag="vehicles",
    status=204,
    errors=("NOT_FOUND", "HAS_ACTIVE_SESSIONS"),
    operation_id="deleteVehicle",
)
async def delete_vehicle(call: Call[None, None]) -> None:
    await call.services.vehicles.delete(call.path("id"), actor=call.principal.key_id)


@ROUTER.endpoint(
    "GET",
    "/vehicles/{id}/sessions",
    role=Role.VIEWER,
    summary="A vehicle's parking history, newest first",
    tag="vehicles",
    query=ListQuery,
    response=SessionList,
    errors=("NOT_FOUND",),
    operation_id="listVehicleSessions",
)
async def vehicle_sessions(call: Call[None, ListQuery]) -> dict[str, object]:
    page = await call.services.vehicles.history(call.path("id"), limit=call.query.limit, cursor=call.query.after_id)
    return list_response(page, SessionOut)
