"""Audit as a mechanism: every repository method that writes reaches the client through its unit
of work (`self._writing()`, `self._batch()`: both refuse before writing when there is none) and
records its audit entry (`self._record`) or declares the job's summary entry covers it
(`self._covered_by_job`); the unit writes the entries with the change (repositories/audit.py).
Checked on the source, so a new write that forgets fails here before any request exercises it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPOSITORIES = Path(__file__).resolve().parents[2] / "src" / "garage" / "repositories"
# Prisma's model writes, on the client (`self._db.<model>.<write>`) or a batch (`self._batch().<model>.<write>`).
MODEL_WRITES = {"create", "create_many", "update", "update_many", "upsert", "delete", "delete_many", "execute_raw"}
BULK_WRITES = {"insert_rows"}
DECLARATIONS = {"_record", "_covered_by_job"}
# Methods that call a write but change no data (none today).
NOT_CHANGES: set[tuple[str, str]] = set()
# The mechanism itself: the unit of work writes the audit rows and events its repositories recorded,
# on its own transaction's client (a batch's are queued on the batch, which the check does not see).
MECHANISM = {("UnitOfWork", "_write_audit")}


def _write_root(call: ast.Call) -> str | None:
    """How a client write is reached: "_writing" / "_batch" (through the unit of work), "_db" (the
    client itself: refused by the check), or None when `call` is not a client write."""
    func = call.func
    if isinstance(func, ast.Name):
        return "_writing" if func.id in BULK_WRITES and _first_arg_is_writing(call) else ("_db" if func.id in BULK_WRITES else None)
    if not isinstance(func, ast.Attribute) or func.attr not in MODEL_WRITES:
        return None
    node: ast.expr = func.value
    while isinstance(node, ast.Attribute):
        if node.attr == "_db":
            return "_db"
        node = node.value
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in {"_writing", "_batch"}:
        return node.func.attr
    return None


def _first_arg_is_writing(call: ast.Call) -> bool:
    first = call.args[0] if call.args else None
    return isinstance(first, ast.Call) and isinstance(first.func, ast.Attribute) and first.func.attr == "_writing"


def _declares_audit(call: ast.Call) -> bool:
    return isinstance(call.func, ast.Attribute) and call.func.attr in DECLARATIONS


def unaudited_writes(source: str, exempt: set[tuple[str, str]] = NOT_CHANGES | MECHANISM) -> list[str]:
    """`Class.method` for each method of a repository that writes without declaring its audit, or
    writes on the client itself (`self._db`) instead of through its unit of work."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ClassDef):
            continue
        for method in node.body:
            if not isinstance(method, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if (node.name, method.name) in exempt:
                continue
            calls = [call for call in ast.walk(method) if isinstance(call, ast.Call)]
            roots = {root for call in calls if (root := _write_root(call)) is not None}
            declared = any(_declares_audit(call) for call in calls)
            if "_db" in roots or (roots and not declared):
                found.append(f"{node.name}.{method.name}")
    return found


@pytest.mark.parametrize("module", sorted(REPOSITORIES.glob("*.py")), ids=lambda path: path.name)
def test_every_repository_write_declares_its_audit(module: Path) -> None:
    assert unaudited_writes(module.read_text()) == []


def test_the_mechanism_is_exempt_only_because_it_writes() -> None:
    """An exemption that no longer writes is stale: it would hide a later unaudited write."""
    source = (REPOSITORIES / "unit_of_work.py").read_text()
    assert [f"{cls}.{method}" for cls, method in sorted(MECHANISM)] == unaudited_writes(source, exempt=set())


def test_the_check_catches_a_write_that_records_nothing() -> None:
    probe = '''
class SpotRepository(Repository):
    async def rename(self, spot, number):
        return await self._writing().spot.update(where={"id": spot.id}, data={"number": number})

    def queue_park(self, spot):
        self._batch().spot.update_many(where={"id": spot.id}, data={"status": "OCCUPIED"})

    async def import_rows(self, rows):
        return await insert_rows(self._writing(), "Spot", rows)

    async def outside_a_unit(self, spot):
        updated = await self._db.spot.update(where={"id": spot.id}, data={})
        self._record("UPDATE", "Spot", spot.id, before=spot, after=updated)
        return updated

    async def raw_bulk(self, rows):
        self._covered_by_job()
        return await insert_rows(self._db, "Spot", rows)

    async def audited(self, spot):
        updated = await self._writing().spot.update(where={"id": spot.id}, data={})
        self._record("UPDATE", "Spot", spot.id, before=spot, after=updated)
        return updated

    async def read(self, spot_id):
        return await self._db.spot.find_unique(where={"id": spot_id})
'''
    assert unaudited_writes(probe) == [
        "SpotRepository.rename",
        "SpotRepository.queue_park",
        "SpotRepository.import_rows",
        "SpotRepository.outside_a_unit",
        "SpotRepository.raw_bulk",
    ]
