"""Readiness: the engine answers, every migration in prisma/migrations is applied, the database's
file system has at least GARAGE_MIN_FREE_BYTES free (runtime/diskspace.py), and no background
integrity check has found the file damaged (runtime/integrity.py). Any of these failing is a 503."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from garage.config import Settings
from garage.db import database_deadline
from garage.db.disk import format_bytes
from garage.repositories.unit_of_work import Database
from garage.runtime.diskspace import DiskSpace, disk_space
from garage.runtime.integrity import recorded_damage

# The database part of /ready answers within this, whatever the database does (a frozen engine,
# a lock): a probe must hear "not ready" quickly, not after the service's own wait limit.
DATABASE_CHECK_SECONDS = 2.0


@dataclass(frozen=True)
class Readiness:
    database: bool
    pending_migrations: list[str] = field(default_factory=list)
    problem: str | None = None
    disk: DiskSpace | None = None
    damage: str | None = None

    @property
    def ready(self) -> bool:
        return self.database and not self.pending_migrations and not self.disk_low and self.damage is None

    @property
    def disk_low(self) -> bool:
        return self.disk is not None and self.disk.low

    def problems(self) -> list[str]:
        found = [self.problem] if self.problem else []
        if self.damage is not None:
            found.append(
                f"the database file is damaged ({self.damage.splitlines()[0]}): restore it, see `garage doctor`"
            )
        if self.disk is not None and self.disk.low:
            found.append(
                f"low disk space: {format_bytes(self.disk.free)} free, below GARAGE_MIN_FREE_BYTES "
                f"({format_bytes(self.disk.minimum)}); writes fail when it runs out"
            )
        return found

    def as_dict(self) -> dict[str, object]:
        problems = self.problems()
        return {
            "status": "ready" if self.ready else "not ready",
            "database": "ok" if self.database else "unavailable",
            "pendingMigrations": self.pending_migrations,
            "integrity": "damaged" if self.damage is not None else "ok",
            **(
                {
                    "disk": {
                        "status": "low" if self.disk.low else "ok",
                        "freeBytes": self.disk.free,
                        "minFreeBytes": self.disk.minimum,
                    }
                }
                if self.disk is not None
                else {}
            ),
            **({"problem": "; ".join(problems)} if problems else {}),
        }


def migration_names(migrations_dir: Path) -> list[str]:
    return (
        sorted(p.name for p in migrations_dir.iterdir() if (p / "migration.sql").is_file())
        if migrations_dir.is_dir()
        else []
    )


async def check_readiness(db: Database, settings: Settings) -> Readiness:
    # File checks first: they need no database and say the most when it is unavailable.
    disk = disk_space(settings.database_path, settings.min_free_bytes)
    damage = recorded_damage(settings.database_path)
    try:
        with database_deadline(DATABASE_CHECK_SECONDS):
            applied = await db.migrations.applied_names()
    except Exception as error:  # any failure to reach the database means "not ready"  # noqa: BLE001
        return Readiness(database=False, problem=type(error).__name__, disk=disk, damage=damage)
    pending = [name for name in migration_names(settings.migrations_dir) if name not in applied]
    return Readiness(database=True, pending_migrations=pending, disk=disk, damage=damage)
