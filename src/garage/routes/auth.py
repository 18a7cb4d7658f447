"""Authentication (Bearer API key) and role checks for /api/v1.

`Authorization` must come once: with two, which one counts would depend on the server (and a
proxy in front may have picked the other), so the request is refused with 400 VALIDATION_ERROR
before any key is looked at.

Every 401 answered from here counts against the client's address: past
GARAGE_AUTH_FAILURES_PER_MINUTE in a minute, ThrottleFailedAuthentication (routes/middleware.py)
answers 429 instead. A valid key costs nothing there."""

from __future__ import annotations

from starlette.requests import Request

from garage.errors import Forbidden, Unauthenticated, ValidationFailed
from garage.security.principal import Principal
from garage.services.container import Services
from garage.vocabulary import Role

__all__ = ["Principal", "admits", "authenticate"]


def admits(role: Role, required: Role, *, validator_too: bool) -> bool:
    """Whether a key of `role` may call an endpoint that needs `required`: by the role ladder, and
    a `validator` key only where the endpoint admits validators (`Endpoint.admits_validator`)."""
    if role is Role.VALIDATOR:
        return validator_too
    return role.includes(required)


async def authenticate(
    request: Request, required: Role, services: Services, *, validator_too: bool = False
) -> Principal:
    sent = request.headers.getlist("authorization")
    if len(sent) > 1:
        raise ValidationFailed(
            "Send the Authorization header once",
            details={"fields": {"Authorization": f"sent {len(sent)} times"}, "location": "header"},
        )
    header = sent[0] if sent else ""
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthenticated("Send an API key as 'Authorization: Bearer <key>'")
    principal = await services.keys.verify(key.strip())
    if principal is None:
        raise Unauthenticated("The API key is unknown or revoked")
    if not admits(principal.role, required, validator_too=validator_too):
        if principal.role is Role.VALIDATOR:
            raise Forbidden("A validator key may only read tickets and validate them")
        raise Forbidden(f"This needs the {required.value} role; the key has {principal.role.value}")
    return principal
