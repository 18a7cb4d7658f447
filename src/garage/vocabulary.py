"""The domain's words, written once: the enums of the API contract (../shared/API.md), which fields
are encrypted at rest, and the rate with its defaults.

Request and response models, the services' rules, the legacy import, seed.py and the OpenAPI
document derive from these; the migrations' CHECK constraints repeat the enum values in SQL, and
tests/migrations/test_check_constraints_match_vocabulary.py fails when the two drift apart.

A flat module rather than a `domain/` package: it holds words, not behaviour, and every layer
(routes, services, repositories, runtime, the CLI, seed.py) imports it, so it imports nothing of
the project's: it is the bottom layer ([tool.importlinter] in pyproject.toml).

The enums are StrEnums: a member IS its string (`SpotType.EV == "EV"`, JSON `"EV"`), so values read
from the database compare equal to members and members go to the database unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType

__all__ = [
    "AUDIT_OMITTED",
    "DEFAULT_RATE",
    "HANDICAP_VEHICLES",
    "PAYMENT_REFERENCE",
    "SENSITIVE_FIELDS",
    "SPOT_PREFERENCE",
    "SYSTEM_ACTOR",
    "VEHICLE_OWNER_FIELDS",
    "WEBHOOK_SECRET",
    "AuditAction",
    "AuditEntity",
    "EventType",
    "OccupancyState",
    "PaymentMethod",
    "PaymentStatus",
    "RateTerms",
    "Role",
    "SessionStatus",
    "SpotStatus",
    "SpotType",
    "TicketStatus",
    "VehicleType",
    "WebhookDeliveryStatus",
    "format_timestamp",
]


class Role(StrEnum):
    """An API key's role; each includes the ones after it: admin > operator > viewer."""

    ADMIN = "admin"
    OPERATOR = "operator"
    VIEWER = "viewer"

    @property
    def rank(self) -> int:
        return _ROLE_RANKS[self]

    def includes(self, other: Role) -> bool:
        return self.rank >= other.rank


_ROLE_RANKS = {Role.VIEWER: 1, Role.OPERATOR: 2, Role.ADMIN: 3}


class SpotType(StrEnum):
    MOTORCYCLE = "MOTORCYCLE"
    COMPACT = "COMPACT"
    STANDARD = "STANDARD"
    LARGE = "LARGE"
    EV = "EV"
    HANDICAP = "HANDICAP"


class SpotStatus(StrEnum):
    """OCCUPIED is set only by check-in and check-out."""

    AVAILABLE = "AVAILABLE"
    OCCUPIED = "OCCUPIED"
    RESERVED = "RESERVED"
    MAINTENANCE = "MAINTENANCE"


class VehicleType(StrEnum):
    MOTORCYCLE = "MOTORCYCLE"
    CAR = "CAR"
    EV = "EV"
    VAN = "VAN"
    TRUCK = "TRUCK"


class SessionStatus(StrEnum):
    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"


class TicketStatus(StrEnum):
    OPEN = "OPEN"
    PAID = "PAID"
    LOST = "LOST"


class PaymentMethod(StrEnum):
    CASH = "CASH"
    CARD = "CARD"
    MOBILE = "MOBILE"
    VALIDATION = "VALIDATION"


class PaymentStatus(StrEnum):
    COMPLETED = "COMPLETED"
    REFUNDED = "REFUNDED"


# --- spot fit (API.md, Clarifications: "Spot fit") ------------------------------------------------

SPOT_PREFERENCE: Mapping[VehicleType, tuple[SpotType, ...]] = MappingProxyType(
    {
        VehicleType.MOTORCYCLE: (SpotType.MOTORCYCLE, SpotType.COMPACT, SpotType.STANDARD, SpotType.LARGE),
        VehicleType.CAR: (SpotType.COMPACT, SpotType.STANDARD, SpotType.LARGE),
        VehicleType.EV: (SpotType.EV, SpotType.COMPACT, SpotType.STANDARD, SpotType.LARGE),
        VehicleType.VAN: (SpotType.LARGE,),
        VehicleType.TRUCK: (SpotType.LARGE,),
    }
)
"""The spot types a vehicle may be given, in preference order."""

HANDICAP_VEHICLES = frozenset({VehicleType.MOTORCYCLE, VehicleType.CAR, VehicleType.EV})
"""HANDICAP spots are never picked automatically; asked for by spotId they take these vehicles."""


# --- sensitive fields (encrypted at rest, security/crypto.py) ---------------------------------------


def _sealed(model: str, *attributes: str) -> Mapping[str, str]:
    """Model attribute -> the associated data bound into its ciphertext, "<Model>.<attribute>", so a
    value copied into another column does not decrypt. Changing one makes stored values unreadable."""
    return MappingProxyType({attribute: f"{model}.{attribute}" for attribute in attributes})


VEHICLE_OWNER_FIELDS = _sealed("Vehicle", "ownerName", "ownerEmail", "ownerPhone")
PAYMENT_REFERENCE = _sealed("Payment", "reference")["reference"]
WEBHOOK_SECRET = _sealed("Webhook", "secret")["secret"]
SENSITIVE_FIELDS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "Vehicle": VEHICLE_OWNER_FIELDS,
        "Payment": MappingProxyType({"reference": PAYMENT_REFERENCE}),
        "Webhook": MappingProxyType({"secret": WEBHOOK_SECRET}),
    }
)
"""Every encrypted column: model -> attribute -> associated data."""

AUDIT_OMITTED: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "ApiKey": frozenset({"hash"}),  # a secret's hash is still not for an audit reader
        "Spot": frozenset({"sortKey"}),  # internal: the number's ordering key
        "Rate": frozenset({"createdAt", "updatedAt"}),  # the audit row's own time says when
        "Webhook": frozenset({"secret"}),  # not even "(set)": every webhook has one
    }
)
"""Columns the audit log never shows (besides SENSITIVE_FIELDS, shown only as set or not)."""


# --- timestamps (API.md: "Conventions") ------------------------------------------------------------------


def format_timestamp(value: datetime) -> str:
    """A time as the API writes it: UTC, milliseconds, `Z` (`2026-03-01T08:00:00.000Z`)."""
    value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    # not strftime("%Y"): glibc does not zero-pad years before 1000
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:{value.minute:02d}:"
        f"{value.second:02d}.{value.microsecond // 1000:03d}Z"
    )


# --- the event log (API-operations.md: "Events") ---------------------------------------------------------


class EventType(StrEnum):
    """What an event is about (API-operations.md "Events")."""

    SESSION_STARTED = "session.started"
    SESSION_COMPLETED = "session.completed"
    SESSION_VOIDED = "session.voided"
    SPOT_CHANGED = "spot.changed"
    OCCUPANCY_CHANGED = "occupancy.changed"
    PAYMENT_REFUNDED = "payment.refunded"
    VALIDATION_CREATED = "validation.created"
    PERMIT_CHANGED = "permit.changed"


class WebhookDeliveryStatus(StrEnum):
    """Where one event's delivery to one webhook stands (API-operations.md "Events": Delivery)."""

    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"


class OccupancyState(StrEnum):
    """What a garage's signs show (API-operations.md "Garage state")."""

    OPEN = "OPEN"
    FULL = "FULL"
    CLOSED = "CLOSED"


# --- the audit log (API.md: "Audit") ------------------------------------------------------------------


SYSTEM_ACTOR = "system"
"""The audit log's actor for what the service does by itself (the admin key from the environment,
maintenance jobs)."""


class AuditAction(StrEnum):
    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    CHECK_IN = "CHECK_IN"
    CHECK_OUT = "CHECK_OUT"
    REFUND = "REFUND"
    REVOKE = "REVOKE"
    ROTATE_KEYS = "ROTATE_KEYS"
    IMPORT = "IMPORT"
    ARCHIVE = "ARCHIVE"


class AuditEntity(StrEnum):
    """What an audit row is about: the model's name (a row's `entity`)."""

    GARAGE = "Garage"
    RATE = "Rate"
    SPOT = "Spot"
    VEHICLE = "Vehicle"
    SESSION = "Session"
    TICKET = "Ticket"
    PAYMENT = "Payment"
    API_KEY = "ApiKey"
    ENCRYPTION_KEY = "EncryptionKey"
    WEBHOOK = "Webhook"


# --- the rate ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RateTerms:
    """A garage's rate as the fee rule reads it (services/pricing.py); the defaults are what a new
    garage gets (API.md: 300, 15, 10, 2500, 5000)."""

    hourly_rate_cents: int = 300
    increment_minutes: int = 15
    grace_minutes: int = 10
    daily_max_cents: int = 2500
    lost_ticket_fee_cents: int = 5000

    def as_row(self) -> dict[str, int]:
        """The Rate row's columns (and the API's field names)."""
        return {
            "hourlyRateCents": self.hourly_rate_cents,
            "incrementMinutes": self.increment_minutes,
            "graceMinutes": self.grace_minutes,
            "dailyMaxCents": self.daily_max_cents,
            "lostTicketFeeCents": self.lost_ticket_fee_cents,
        }


DEFAULT_RATE = RateTerms()
