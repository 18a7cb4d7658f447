"""Readiness: the engine answers and every migration in prisma/migrations is applied."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from prisma import Prisma

from garage.repositories.migrations import MigrationRepository


@dataclass(frozen=True)
class Readiness:
    database: bool
    pending_migrations: list[str] = field(default_factory=list)
    problem: str | None = None

    @property
    def ready(self) -> bool:
        return self.database and not self.pending_migrations

    def as_dict(self) -> dict[str, object]:
        return {
            "status": "ready" if self.ready else "not ready",
            "database": "ok" if self.database else "unavailable",
            "pendingMigrations": self.pending_migrations,
            **({"problem": self.problem} if self.problem else {}),
        }


def migration_names(migrations_dir: Path) -> list[str]:
    return sorted(p.name for p in migrations_dir.iterdir() if (p / "migration.sql").is_file()) if migrations_dir.is_dir() else []


async def check_readiness(db: Prisma, migrations_dir: Path) -> Readiness:
    try:
        applied = await MigrationRepository(db).applied_names()
    except Exception as error:  # any failure to reach the database means "not ready"
        return Readiness(database=False, problem=type(error).__name__)
    pending = [name for name in migration_names(migrations_dir) if name not in applied]
    return Readiness(database=True, pending_migrations=pending)
