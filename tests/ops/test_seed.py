"""The development seed (seed.py) run for real through the project's front door, `prisma db seed`
(Prisma CLI 6.19.3 reads `migrations.seed` from prisma.config.ts), on a migrated temp database:
the data set it builds, its invariants, and that a second run changes nothing.

The CLI is run the way tests/migrations runs it (a scrubbed environment, DATABASE_URL pointing at
the temp file, no stdin); the data is read back through the generated client and the repositories.
"""

from __future__ import annotations

import json

import os
import re
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from prisma import Prisma

from garage.config import load_settings
from garage.db import create_prisma
from garage.repositories.garages import GarageRepository
from garage.repositories.rates import RateRepository
from garage.vocabulary import DEFAULT_RATE
from garage.repositories.spots import SpotRepository
from garage.repositories.unit_of_work import Database
from garage.security.crypto import FieldCipher
from garage.services.vehicles import VehicleService
from tests.database import REPO, apply_migrations

# .venv/bin/prisma after `make venv`; it only forwards to tools/prisma.
VENV_PRISMA = REPO / ".venv" / "bin" / "prisma"
FRONT_DOOR = VENV_PRISMA if VENV_PRISMA.exists() else REPO / "tools" / "prisma"
CLI_TIMEOUT_S = 180
MODELS = re.findall(r"^model (\w+) \{", (REPO / "schema.prisma").read_text(), re.MULTILINE)
SPOT_TYPES = {"MOTORCYCLE", "COMPACT", "STANDARD", "LARGE", "EV", "HANDICAP"}
VEHICLE_TYPES = {"MOTORCYCLE", "CAR", "EV", "VAN", "TRUCK"}
PAYMENT_METHODS = {"CASH", "CARD", "MOBILE", "VALIDATION"}
SEED_MARKER = "(seed)"


def prisma_db_seed(database: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GARAGE_MIGRATE", "PRISMA_"))}
    for name in ("DATABASE_URL", "GARAGE_MIGRATIONS_DIR", "GARAGE_SEED_COMMAND"):
        env.pop(name, None)  # the real seed command, on the temp file only
    env["DATABASE_URL"] = f"file:{database}"
    return subprocess.run(
        [str(FRONT_DOOR), "db", "seed"], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=CLI_TIMEOUT_S, stdin=subprocess.DEVNULL,
    )


def output(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"


@asynccontextmanager
async def connected(database: Path) -> AsyncIterator[Prisma]:
    client = create_prisma(load_settings(DATABASE_URL=f"file:{database}"))
    await client.connect()
    try:
        yield client
    finally:
        await client.disconnect()


async def row_counts(db: Prisma) -> dict[str, int]:
    """Rows of every model in schema.prisma (a new model is counted without touching this test)."""
    return {name: await getattr(db, name.lower()).count() for name in MODELS}


@dataclass(frozen=True)
class Seeded:
    database: Path
    first_run: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    database = tmp_path_factory.mktemp("seed") / "garage.db"
    apply_migrations(database)
    result = prisma_db_seed(database)
    assert result.returncode == 0, output(result)
    return Seeded(database, result)


async def test_seed_builds_the_development_garages(seeded: Seeded) -> None:
    assert "Seeded in" in seeded.first_run.stdout, output(seeded.first_run)
    async with connected(seeded.database) as db:
        garages = [g for g in (await GarageRepository(db).list_live(limit=200, cursor=None)).items]
        assert len(garages) == 2 and all(g.name.endswith(SEED_MARKER) for g in garages)
        rates = []
        for garage in garages:
            counts = await SpotRepository(db).counts(garage.id)
            assert len({row.level for row in counts}) == 3, garage.name
            assert {row.type for row in counts} == SPOT_TYPES, garage.name
            assert sum(row.count for row in counts) >= 200, garage.name
            rate = await RateRepository(db).get(garage.id)
            assert rate is not None
            rates.append(
                (rate.hourlyRateCents, rate.incrementMinutes, rate.graceMinutes, rate.dailyMaxCents, rate.lostTicketFeeCents)
            )
        default = tuple(DEFAULT_RATE.as_row().values())
        assert sorted(rate == default for rate in rates) == [False, True]  # one garage has its own rates

        # every vehicle type; owner details encrypted at rest, readable through the service
        vehicles = await db.vehicle.find_many()
        assert {v.type for v in vehicles} == VEHICLE_TYPES
        stored_emails = {v.id: v.ownerEmail for v in vehicles if v.ownerEmail is not None}
        assert stored_emails and all(e.startswith("v1:") and "@" not in e for e in stored_emails.values())
        reveal = VehicleService(Database(db), FieldCipher(load_settings(DATABASE_URL=f"file:{seeded.database}").encryption_keys)).reveal
        assert all("@" in (reveal(v).ownerEmail or "") for v in vehicles if v.id in stored_emails)
        assert any(v.ownerName is None for v in vehicles)


async def test_seed_history_keeps_the_invariants(seeded: Seeded) -> None:
    async with connected(seeded.database) as db:
        sessions = await db.parkingsession.find_many(include={"payment": True, "ticket": True})
        completed = [s for s in sessions if s.status == "COMPLETED"]
        active = [s for s in sessions if s.status == "ACTIVE"]
        voided = [s for s in sessions if s.status == "VOIDED"]
        assert len(completed) >= 300 and len(active) >= 10 and len(voided) == 1
        assert len(completed) + len(active) + len(voided) == len(sessions)
        for session in voided:  # no fee, no payment, its ticket VOID
            assert session.payment is None and session.feeCents is None and session.voidReason
            assert session.ticket is not None and session.ticket.status == "VOID"
        # weeks of history, nothing in the future
        now = datetime.now(timezone.utc)
        assert min(s.startTime for s in sessions) <= now - timedelta(days=21)
        assert all(s.startTime <= now for s in sessions)
        for session in completed:  # exactly one payment (Payment.sessionId is unique), fee = amount
            assert session.payment is not None and session.ticket is not None, session.id
            assert session.payment.amountCents == session.feeCents
            assert session.endTime is not None and session.startTime <= session.endTime <= now
            assert session.ticket.status in ("PAID", "LOST")
        assert await db.payment.count() == len(completed)
        for session in active:
            assert session.payment is None and session.ticket is not None and session.ticket.status == "OPEN"
            assert session.endTime is None

        payments = [s.payment for s in completed if s.payment is not None]
        assert {p.method for p in payments} == PAYMENT_METHODS
        assert any(p.status == "REFUNDED" for p in payments)
        assert any(s.ticket is not None and s.ticket.status == "LOST" for s in completed)

        # a spot is OCCUPIED exactly when it has an ACTIVE session
        occupied = {spot.id for spot in await db.spot.find_many(where={"status": "OCCUPIED"})}
        assert occupied == {s.spotId for s in active} and len(occupied) == len(active)
        assert len({s.vehicleId for s in active}) == len(active)

        # every write audited as the seed, never with an owner's details in clear
        assert await db.auditlog.count(where={"actor": {"not": "seed"}}) == 0
        assert await db.auditlog.count(where={"action": "CHECK_IN"}) == len(sessions)
        assert await db.auditlog.count(where={"action": "CHECK_OUT"}) == len(completed)
        assert await db.auditlog.count(where={"action": "VOID"}) == len(voided)
        assert await db.auditlog.count(where={"after": {"contains": "@example"}}) == 0


async def test_seed_has_the_operations_of_every_day(seeded: Seeded) -> None:
    """API-operations.md's additions, seeded through the services: tariffs, permits (one cancelled),
    validators with validations that took money off, a deny list, a void (checked above)."""
    async with connected(seeded.database) as db:
        rates = await db.rate.find_many()
        flat = [name for rate in rates for name in (item["name"] for item in json.loads(rate.flatRates))]
        assert {"Early bird", "Evening"} <= set(flat)
        assert any(json.loads(rate.vehicleTypeRates) for rate in rates)
        permits = await db.permit.find_many()
        assert sum(p.status == "ACTIVE" for p in permits) >= 4 and any(p.status == "CANCELLED" for p in permits)
        assert all(p.holderEmail is None or "@" not in p.holderEmail for p in permits)  # encrypted at rest
        has_permit: Any = {"permitId": {"not": None}}  # `not: None` is not in the generated types
        covered = await db.parkingsession.count(where=has_permit)
        assert covered > 0
        assert await db.validator.count() == 4
        validations = await db.validation.find_many(include={"session": {"include": {"payment": True}}})
        assert validations
        assert any(v.session is not None and v.session.payment is not None and v.session.payment.discountCents > 0
                   for v in validations)
        assert await db.deniedplate.count() == 2


def test_seed_writes_no_progress_bar_when_stderr_is_not_a_terminal(seeded: Seeded) -> None:
    # prisma db seed hands the seed a pipe, as `make run` and CI do: bars are for terminals only
    for text in ("garages and spots", "vehicles", "visits", "refunds", "\r", "[#", "#]"):
        assert text not in seeded.first_run.stderr, output(seeded.first_run)


async def test_a_second_seed_changes_nothing(seeded: Seeded) -> None:
    async with connected(seeded.database) as db:
        before = await row_counts(db)
    assert before["Garage"] == 2 and before["AuditLog"] > 0

    again = prisma_db_seed(seeded.database)

    assert again.returncode == 0, output(again)
    assert "already there" in again.stdout and "nothing to do" in again.stdout, output(again)
    async with connected(seeded.database) as db:
        assert await row_counts(db) == before
