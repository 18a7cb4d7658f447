"""Spots: /garages/{id}/spots (list, create one or many) and /spots/{id}.

Roles (API.md, Clarifications): viewers read; an operator may change a spot's `status` to
AVAILABLE, RESERVED or MAINTENANCE; every other spot change is admin. OCCUPIED is never set by hand
(400): check-in and check-out own it, so an OCCUPIED spot's status cannot be changed here (409
SPOT_NOT_AVAILABLE).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, ConfigDict, Discriminator, Field, RootModel, Tag
from pydantic_core import from_json

from garage.errors import Forbidden
from garage.routes.endpoint import Call, Router
from garage.routes.garages import PatchModel, ShortText
from garage.routes.models import ApiModel, ListQuery, ListResponse, RequestModel, Timestamp, list_response
from garage.services.spots import MAX_BULK, SpotDraft
from garage.vocabulary import Role, SpotStatus, SpotType

ROUTER = Router()
"""This module's endpoints (listed in routes/api.py)."""


def _not_occupied(value: SpotStatus) -> SpotStatus:
    if value is SpotStatus.OCCUPIED:
        raise ValueError("OCCUPIED is set only by check-in; choose AVAILABLE, RESERVED or MAINTENANCE")
    return value


ManualStatus = Annotated[
    SpotStatus,
    AfterValidator(_not_occupied),
    Field(description="AVAILABLE, RESERVED or MAINTENANCE (OCCUPIED is set only by check-in/check-out: 400)"),
]
Level = Annotated[int, Field(strict=True, ge=-20, le=200)]


class SpotOut(ApiModel, title="Spot"):
    """A parking spot of a garage."""

    id: str
    garage_id: str
    level: int
    number: str
    type: SpotType
    status: SpotStatus
    created_at: Timestamp
    updated_at: Timestamp


class SpotIn(RequestModel):
    """A new spot."""

    model_config = ConfigDict(
        title="CreateSpotRequest", json_schema_extra={"examples": [{"level": 1, "number": "12A", "type": "STANDARD"}]}
    )

    level: Level
    number: ShortText
    type: SpotType
    status: ManualStatus = SpotStatus.AVAILABLE

    def draft(self) -> SpotDraft:
        return SpotDraft(level=self.level, number=self.number, type=self.type, status=self.status)


class SpotsIn(RequestModel):
    """New spots, created all or nothing."""

    model_config = ConfigDict(
        title="CreateSpotsBulkRequest",
        json_schema_extra={
            "examples": [
                {
                    "spots": [
                        {"level": 1, "number": "1", "type": "COMPACT"},
                        {"level": 1, "number": "2", "type": "EV", "status": "RESERVED"},
                    ]
                }
            ]
        },
    )

    spots: list[SpotIn] = Field(min_length=1, max_length=MAX_BULK)


def _body_kind(data: Any) -> str:
    return "many" if isinstance(data, dict) and "spots" in data else "one"


class CreateSpotsIn(
    RootModel[Annotated[Annotated[SpotIn, Tag("one")] | Annotated[SpotsIn, Tag("many")], Discriminator(_body_kind)]]
):
    """One spot, or {"spots": [...]} (1 to 5000, all or nothing)."""

    model_config = ConfigDict(
        title="CreateSpotsRequest",
        json_schema_extra={
            "examples": [
                {"level": 1, "number": "12A", "type": "STANDARD"},
                {"spots": [{"level": 1, "number": "1", "type": "COMPACT"}, {"level": 1, "number": "2", "type": "EV"}]},
            ]
        },
    )

    # Validate as the one model the body's shape selects, so that errors name the body's own
    # fields ("spots.3.level"), not the union's branch ("many.spots.3.level"); routes/endpoint.py
    # parses bodies from their JSON (model_validate_json), Python callers use model_validate.
    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> CreateSpotsIn:
        shape = SpotsIn if _body_kind(obj) == "many" else SpotIn
        return cls.model_construct(shape.model_validate(obj, **kwargs))

    @classmethod
    def model_validate_json(cls, json_data: str | bytes | bytearray, **kwargs: Any) -> CreateSpotsIn:
        try:
            shape = SpotsIn if _body_kind(from_json(json_data)) == "many" else SpotIn
        except ValueError:  # not JSON: SpotIn's validation says so
            shape = SpotIn
        return cls.model_construct(shape.model_validate_json(json_data, **kwargs))


class CreatedSpotsOut(ApiModel, title="CreatedSpots"):
    """Spots created by one bulk request, in request order."""

    spots: list[SpotOut]


class CreateSpotsOut(RootModel[SpotOut | CreatedSpotsOut], title="CreateSpotsResult"):
    """The spot for a one-spot body; {"spots": [...]} in request order for a bulk body."""


class SpotList(ListResponse[SpotOut]):
    """A page of a garage's spots, by level, then number (numeric-aware)."""


class SpotListQuery(ListQuery):
    level: int | None = Field(None, ge=-20, le=200, description="Only spots on this level")
    type: SpotType | None = Field(None, description="Only spots of this type")
    status: SpotStatus | None = Field(None, description="Only spots with this status")


class UpdateSpotIn(PatchModel):
    """The fields to change; fields left out keep their value. Operators may send only `status`."""

    model_config = ConfigDict(title="UpdateSpotRequest", json_schema_extra={"examples": [{"status": "MAINTENANCE"}]})

    level: Level | None = None
    number: ShortText | None = None
    type: SpotType | None = None
    status: ManualStatus | None = None


@ROUTER.endpoint(
    "GET",
    "/garages/{id}/spots",
    role=Role.VIEWER,
    tag="spots",
    query=SpotListQuery,
    response=SpotList,
    errors=("NOT_FOUND",),
    summary="List a garage's spots by level, then number (numeric-aware: 2 < 10 < 10A)",
    operation_id="listSpots",
)
async def list_spots(call: Call[None, SpotListQuery]) -> dict[str, object]:
    q = call.query
    page = await call.services.spots.list(
        call.path("id"), level=q.level, spot_type=q.type, status=q.status, limit=q.limit, cursor=q.after_id
    )
    return list_response(page, SpotOut)


@ROUTER.endpoint(
    "POST",
    "/garages/{id}/spots",
    role=Role.ADMIN,
    tag="spots",
    body=CreateSpotsIn,
    status=201,
    response=CreateSpotsOut,
    errors=("NOT_FOUND", "CAPACITY_EXCEEDED", "DUPLICATE_SPOT"),
    summary='Create one spot (-> the spot) or {"spots": [...]} (up to 5000, all or nothing -> {"spots": [...]})',
    operation_id="createSpots",
)
async def create_spots(call: Call[CreateSpotsIn, None]) -> CreateSpotsOut:
    body = call.body.root
    drafts = [body.draft()] if isinstance(body, SpotIn) else [spot.draft() for spot in body.spots]
    created = await call.services.spots.create(call.path("id"), drafts, actor=call.principal.key_id)
    if isinstance(body, SpotIn):
        return CreateSpotsOut(SpotOut.model_validate(created[0]))
    return CreateSpotsOut(CreatedSpotsOut(spots=[SpotOut.model_validate(spot) for spot in created]))


@ROUTER.endpoint(
    "GET",
    "/spots/{id}",
    role=Role.VIEWER,
    summary="A spot",
    tag="spots",
    response=SpotOut,
    errors=("NOT_FOUND",),
    operation_id="getSpot",
)
async def get_spot(call: Call[None, None]) -> SpotOut:
    return SpotOut.model_validate(await call.services.spots.get(call.path("id")))


@ROUTER.endpoint(
    "PATCH",
    "/spots/{id}",
    role=Role.OPERATOR,
    tag="spots",
    body=UpdateSpotIn,
    response=SpotOut,
    errors=("NOT_FOUND", "SPOT_NOT_AVAILABLE", "DUPLICATE_SPOT"),
    summary="Change a spot: operators only its status (AVAILABLE/RESERVED/MAINTENANCE), admins anything; "
    "an OCCUPIED spot's status: 409 SPOT_NOT_AVAILABLE",
    operation_id="updateSpot",
)
async def update_spot(call: Call[UpdateSpotIn, None]) -> SpotOut:
    changes = call.body.changes()
    beyond_status = sorted(set(changes) - {"status"})
    if beyond_status and not call.principal.role.includes(Role.ADMIN):
        raise Forbidden(f"Changing {', '.join(beyond_status)} needs the admin role; operators may change only status")
    spot = await call.services.spots.update(call.path("id"), changes, actor=call.principal.key_id)
    return SpotOut.model_validate(spot)


@ROUTER.endpoint(
    "DELETE",
    "/spots/{id}",
    role=Role.ADMIN,
    tag="spots",
    status=204,
    summary="Soft-delete a spot (409 HAS_ACTIVE_SESSIONS while a vehicle is parked on it)",
    errors=("NOT_FOUND", "HAS_ACTIVE_SESSIONS"),
    operation_id="deleteSpot",
)
async def delete_spot(call: Call[None, None]) -> None:
    await call.services.spots.delete(call.path("id"), actor=call.principal.key_id)
