"""Authentication (Bearer API key) and role checks for /api/v1."""

from __future__ import annotations

from starlette.requests import Request

from garage.errors import Forbidden, Unauthenticated
from garage.security.principal import Principal
from garage.security.roles import Role
from garage.services.container import Services

__all__ = ["Principal", "authenticate"]


async def authenticate(request: Request, required: Role) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthenticated("Send an API key as 'Authorization: Bearer <key>'")
    services: Services = request.app.state.services
    principal = await services.keys.verify(key.strip())
    if principal is None:
        raise Unauthenticated("The API key is unknown or revoked")
    if not principal.role.includes(required):
        raise Forbidden(f"This needs the {required.value} role; the key has {principal.role.value}")
    return principal
