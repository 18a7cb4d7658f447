"""The records the repositories read and write: Prisma Client Python's generated models (pydantic,
typed from schema.prisma), named here so that services and routes can type them without importing
`prisma` themselves (only the data layer does: tests/tooling/test_import_contracts.py).

A repository returns these; a service reads them and hands them to routes, which serialise them
(routes/models.py). Relations are filled only where a repository says it includes them."""

from __future__ import annotations

from prisma.models import (
    ApiKey,
    AuditLog,
    DeniedPlate,
    Event,
    Garage,
    ParkingSession,
    Payment,
    Permit,
    Rate,
    Spot,
    Ticket,
    Validation,
    Validator,
    Vehicle,
    Webhook,
    WebhookDelivery,
)
from prisma.types import (
    GarageCreateWithoutRelationsInput,
    ParkingSessionCreateWithoutRelationsInput,
    PaymentCreateWithoutRelationsInput,
    RateCreateWithoutRelationsInput,
    SpotCreateWithoutRelationsInput,
    TicketCreateWithoutRelationsInput,
    VehicleCreateWithoutRelationsInput,
)

# Rows for bulk inserts (the legacy import builds them; repositories' insert_many take them).
GarageRow = GarageCreateWithoutRelationsInput
RateRow = RateCreateWithoutRelationsInput
SpotRow = SpotCreateWithoutRelationsInput
VehicleRow = VehicleCreateWithoutRelationsInput
SessionRow = ParkingSessionCreateWithoutRelationsInput
TicketRow = TicketCreateWithoutRelationsInput
PaymentRow = PaymentCreateWithoutRelationsInput

__all__ = [
    "ApiKey",
    "AuditLog",
    "DeniedPlate",
    "Event",
    "Garage",
    "GarageRow",
    "ParkingSession",
    "Payment",
    "PaymentRow",
    "Permit",
    "Rate",
    "RateRow",
    "SessionRow",
    "Spot",
    "SpotRow",
    "Ticket",
    "TicketRow",
    "Validation",
    "Validator",
    "Vehicle",
    "VehicleRow",
    "Webhook",
    "WebhookDelivery",
]
