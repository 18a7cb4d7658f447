"""Prisma's migration bookkeeping table, read-only."""

from __future__ import annotations

from garage.repositories.base import Repository


class MigrationRepository(Repository):
    async def applied_names(self) -> set[str]:
        """Names of migrations applied and not rolled back; empty when Prisma's table is absent."""
        tables = await self._db.query_raw(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_prisma_migrations'"
        )
        if not tables:
            return set()
        rows = await self._db.query_raw(
            "SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL"
        )
        return {str(row["migration_name"]) for row in rows}
