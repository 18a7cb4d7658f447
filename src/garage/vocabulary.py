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
from datetime import UTC, date, datetime, time
from enum import StrEnum
from types import MappingProxyType

__all__ = [
    "AUDIT_OMITTED",
    "DEFAULT_RATE",
    "HANDICAP_VEHICLES",
    "PAYMENT_REFERENCE",
    "PERMIT_HOLDER_FIELDS",
    "PERMIT_MAX_DAYS",
    "SENSITIVE_FIELDS",
    "SPOT_PREFERENCE",
    "SYSTEM_ACTOR",
    "VALIDATOR_VALUE_RANGES",
    "VEHICLE_OWNER_FIELDS",
    "WEBHOOK_SECRET",
    "AuditAction",
    "AuditEntity",
    "EventType",
    "FlatRate",
    "OccupancyState",
    "PaymentMethod",
    "PaymentStatus",
    "PermitStatus",
    "RateTerms",
    "Role",
    "SessionStatus",
    "SpotStatus",
    "SpotType",
    "TicketStatus",
    "ValidatorKind",
    "VehicleType",
    "VehicleTypeRate",
    "WebhookDeliveryStatus",
    "Weekday",
    "format_timestamp",
]


class Role(StrEnum):
    """An API key's role; each includes the ones after it: admin > operator > viewer. `validator`
    (a merchant's key, bound to one validator: API-operations.md "Merchant validations") stands
    outside that ladder: it includes no other role, and only the endpoints that name it admit it."""

    ADMIN = "admin"
    OPERATOR = "operator"
    VIEWER = "viewer"
    VALIDATOR = "validator"

    @property
    def rank(self) -> int:
        return _ROLE_RANKS[self]

    def includes(self, other: Role) -> bool:
        if Role.VALIDATOR in (self, other):
            return self == other
        return self.rank >= other.rank


_ROLE_RANKS = {Role.VALIDATOR: 0, Role.VIEWER: 1, Role.OPERATOR: 2, Role.ADMIN: 3}


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
    VOIDED = "VOIDED"  # ended by an admin without fee or payment (API-operations.md "Session exceptions")


class TicketStatus(StrEnum):
    OPEN = "OPEN"
    PAID = "PAID"
    LOST = "LOST"
    VOID = "VOID"  # its session was voided


class PaymentMethod(StrEnum):
    CASH = "CASH"
    CARD = "CARD"
    MOBILE = "MOBILE"
    VALIDATION = "VALIDATION"


class PaymentStatus(StrEnum):
    COMPLETED = "COMPLETED"
    REFUNDED = "REFUNDED"


class PermitStatus(StrEnum):
    """A monthly permit's status; a CANCELLED permit is never ACTIVE again."""

    ACTIVE = "ACTIVE"
    CANCELLED = "CANCELLED"


class ValidatorKind(StrEnum):
    """What a merchant's validation takes off a fee (API-operations.md "Merchant validations")."""

    FREE_MINUTES = "FREE_MINUTES"  # value: minutes, 1..1440
    AMOUNT_OFF = "AMOUNT_OFF"  # value: cents, 1..10000000
    PERCENT_OFF = "PERCENT_OFF"  # value: percent, 1..100
    FULL = "FULL"  # value ignored, 0 stored


VALIDATOR_VALUE_RANGES: Mapping[ValidatorKind, tuple[int, int]] = MappingProxyType(
    {
        ValidatorKind.FREE_MINUTES: (1, 1440),
        ValidatorKind.AMOUNT_OFF: (1, 10_000_000),
        ValidatorKind.PERCENT_OFF: (1, 100),
        ValidatorKind.FULL: (0, 0),
    }
)
"""The allowed `value` of each kind, inclusive (FULL stores 0 whatever was sent)."""


class Weekday(StrEnum):
    """A flat rate's `days`, in ISO order (Monday first: `datetime.weekday()` is the index)."""

    MON = "MON"
    TUE = "TUE"
    WED = "WED"
    THU = "THU"
    FRI = "FRI"
    SAT = "SAT"
    SUN = "SUN"

    @classmethod
    def of(cls, day: date) -> Weekday:
        return _WEEKDAYS[day.weekday()]


_WEEKDAYS = tuple(Weekday)

PERMIT_MAX_DAYS = 400
"""A permit's validFrom and validTo are at most this many days apart."""


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
PERMIT_HOLDER_FIELDS = _sealed("Permit", "holderName", "holderEmail")
PAYMENT_REFERENCE = _sealed("Payment", "reference")["reference"]
WEBHOOK_SECRET = _sealed("Webhook", "secret")["secret"]
SENSITIVE_FIELDS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "Vehicle": VEHICLE_OWNER_FIELDS,
        "Permit": PERMIT_HOLDER_FIELDS,
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
    VOID = "VOID"
    VALIDATE = "VALIDATE"


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
    PERMIT = "Permit"
    DENIED_PLATE = "DeniedPlate"
    VALIDATOR = "Validator"
    VALIDATION = "Validation"


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


@dataclass(frozen=True)
class VehicleTypeRate:
    """A rate's override for one vehicle type (`vehicleTypeRates`): None keeps the garage's figure."""

    hourly_rate_cents: int | None = None
    daily_max_cents: int | None = None


@dataclass(frozen=True)
class FlatRate:
    """A fixed price for a stay entering on `days` within [entry_from, entry_to) local time and
    leaving by the first local `exit_by` strictly after the entry (API-operations.md "Tariffs"):
    early bird and evening rates. Times are wall-clock times in the garage's timezone."""

    name: str
    days: frozenset[Weekday]
    entry_from: time
    entry_to: time
    exit_by: time
    amount_cents: int
