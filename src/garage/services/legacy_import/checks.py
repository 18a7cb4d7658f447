"""Checks across the snapshot's records: references resolve inside the snapshot, natural keys are
unique, the one-ACTIVE rules and the money rules hold (see the package docstring). The database is
not consulted here: plan.py checks against what it holds."""

from __future__ import annotations

import zoneinfo
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from garage.services.legacy_import.problems import Problem
from garage.services.legacy_import.snapshot import (
    LegacyPayment,
    LegacySession,
    LegacySpot,
    Snapshot,
    cents_of,
    payment_created,
)
from garage.vocabulary import PaymentStatus, SessionStatus, TicketStatus


def cross_record_problems(snapshot: Snapshot) -> list[Problem]:
    """Every problem between the snapshot's records (each record alone passed its type already)."""
    problems: list[Problem] = []
    check_references(snapshot, problems)
    return problems


def _check_timezones(snapshot: Snapshot, problems: list[Problem]) -> None:
    for garage in snapshot.garages.values():
        try:
            zoneinfo.ZoneInfo(garage.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            problems.append(Problem("garages", garage.id, f"timezone: not an IANA time zone (got {garage.timezone!r})"))


def check_references(snapshot: Snapshot, problems: list[Problem]) -> None:
    """References resolve inside the snapshot; natural keys and the one-ACTIVE rules hold."""
    s = snapshot

    def refers(kind: str, legacy_id: str, field_name: str, target_kind: str, target_id: str | None) -> bool:
        if target_id is None or target_id in s.present[target_kind]:
            return True
        problems.append(
            Problem(kind, legacy_id, f"{field_name} {target_id!r} names no {target_kind[:-1]} in the snapshot")
        )
        return False

    _check_timezones(s, problems)
    live_spots: dict[str, list[LegacySpot]] = defaultdict(list)
    for spot in s.spots.values():
        if refers("spots", spot.id, "garageId", "garages", spot.garageId) and spot.deletedAt is None:
            live_spots[spot.garageId].append(spot)
    for garage_id, spots in live_spots.items():
        garage = s.garages.get(garage_id)
        if garage is not None and len(spots) > garage.capacity:
            problems.append(
                Problem("garages", garage_id, f"{len(spots)} live spots exceed its capacity {garage.capacity}")
            )
    _duplicates(
        "spots",
        ((spot.id, (spot.garageId, spot.level, spot.number)) for spots in live_spots.values() for spot in spots),
        lambda key: f"garage {key[0]!r} level {key[1]} number {key[2]!r} is also spot",
        problems,
    )
    _duplicates(
        "vehicles",
        ((v.id, v.licensePlate) for v in s.vehicles.values() if v.deletedAt is None),
        lambda plate: f"plate {plate!r} (normalised) is also vehicle",
        problems,
    )

    paid_sessions = Counter(payment.sessionId for payment in s.payments.values())
    for session in s.sessions.values():
        _check_session(s, session, paid_sessions, refers, problems)
    active = [session for session in s.sessions.values() if session.status is SessionStatus.ACTIVE]
    _duplicates(
        "sessions", ((x.id, x.spotId) for x in active), lambda spot: f"ACTIVE on spot {spot!r} as is session", problems
    )
    _duplicates(
        "sessions", ((x.id, x.vehicleId) for x in active), lambda v: f"ACTIVE for vehicle {v!r} as is session", problems
    )

    for ticket in s.tickets.values():
        ticketed = s.sessions.get(ticket.sessionId)
        if refers("tickets", ticket.sessionId, "sessionId", "sessions", ticket.sessionId) and ticketed is not None:
            expected = (
                (TicketStatus.OPEN,)
                if ticketed.status is SessionStatus.ACTIVE
                else (TicketStatus.PAID, TicketStatus.LOST)
            )
            if ticket.status not in expected:
                problems.append(
                    Problem("tickets", ticket.sessionId, f"status {ticket.status} for a {ticketed.status} session")
                )
            if ticketed.ticketCode is not None and ticketed.ticketCode != ticket.code:
                problems.append(
                    Problem("tickets", ticket.sessionId, f"code {ticket.code!r} differs from the session's ticketCode")
                )
    codes = [(t.sessionId, t.code) for t in s.tickets.values()]
    codes += [(x.id, x.ticketCode) for x in s.sessions.values() if x.ticketCode is not None and x.id not in s.tickets]
    _duplicates("tickets", codes, lambda code: f"ticket code {code!r} is also used by session", problems)

    for payment in s.payments.values():
        paid = s.sessions.get(payment.sessionId)
        if not refers("payments", payment.id, "sessionId", "sessions", payment.sessionId) or paid is None:
            continue
        _check_payment(payment, paid, paid_sessions, problems)


def _check_session(
    s: Snapshot,
    session: LegacySession,
    paid_sessions: Counter[str],
    refers: Callable[[str, str, str, str, str | None], bool],
    problems: list[Problem],
) -> None:
    def problem(text: str) -> None:
        problems.append(Problem("sessions", session.id, text))

    refers("sessions", session.id, "garageId", "garages", session.garageId)
    refers("sessions", session.id, "spotId", "spots", session.spotId)
    refers("sessions", session.id, "vehicleId", "vehicles", session.vehicleId)
    spot, vehicle, garage = (
        s.spots.get(session.spotId),
        s.vehicles.get(session.vehicleId),
        s.garages.get(session.garageId),
    )
    if spot is not None and spot.garageId != session.garageId:
        problem(f"spot {spot.id!r} belongs to garage {spot.garageId!r}, not {session.garageId!r}")
    if session.endTime is not None and session.endTime < session.startTime:
        problem("endTime is before startTime")
    if session.status is SessionStatus.ACTIVE:
        if session.endTime is not None or session.feeCents is not None:
            problem("an ACTIVE session has no endTime and no feeCents")
        for what, record in (("spot", spot), ("vehicle", vehicle), ("garage", garage)):
            if record is not None and record.deletedAt is not None:
                problem(f"ACTIVE on deleted {what} {record.id!r}")
    else:
        if session.endTime is None or session.feeCents is None:
            problem("a COMPLETED session needs endTime and feeCents")
        if paid_sessions[session.id] == 0:
            problem("a COMPLETED session needs its payment, and the snapshot has none")


def _check_payment(
    payment: LegacyPayment, paid: LegacySession, paid_sessions: Counter[str], problems: list[Problem]
) -> None:
    def problem(text: str) -> None:
        problems.append(Problem("payments", payment.id, text))

    if paid_sessions[payment.sessionId] > 1:
        problem(f"session {payment.sessionId!r} has {paid_sessions[payment.sessionId]} payments")
    if paid.status is not SessionStatus.COMPLETED:
        problem(f"pays for session {paid.id!r}, which is {paid.status}")
    elif (
        paid.feeCents is not None
        and paid_sessions[payment.sessionId] == 1
        and cents_of(payment.amount) != paid.feeCents
    ):
        # listed under the session: its fee is what check-out would have charged and stored as the amount
        problems.append(
            Problem(
                "sessions",
                paid.id,
                f"feeCents {paid.feeCents} differs from its payment {payment.id!r}: "
                f"amount {payment.amount} is {cents_of(payment.amount)} cents",
            )
        )
    if payment.garageId is not None and payment.garageId != paid.garageId:
        problem(f"garageId {payment.garageId!r} is not its session's garage")
    if payment.status is PaymentStatus.COMPLETED and payment.refundedAt is not None:
        problem("a COMPLETED payment has no refundedAt")
    created = payment_created(payment, paid)
    if payment.refundedAt is not None and created is not None and payment.refundedAt < created:
        problem("refundedAt is before the payment was made")


def _duplicates(
    kind: str, keyed: Iterable[tuple[str, Any]], describe: Callable[[Any], str], problems: list[Problem]
) -> None:
    holders: dict[Any, list[str]] = defaultdict(list)
    for legacy_id, key in keyed:
        holders[key].append(legacy_id)
    for key, ids in holders.items():
        if len(ids) > 1:
            for legacy_id in ids:
                others = ", ".join(repr(other) for other in ids if other != legacy_id)
                problems.append(Problem(kind, legacy_id, f"duplicate: {describe(key)} {others}"))
