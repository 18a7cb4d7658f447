"""The architecture's import contracts (`make lint-python` runs `lint-imports`, configured in
pyproject.toml [tool.importlinter]): the tree keeps them, and they still catch what they are for -
a module importing `prisma` outside the data layer, an import running back up the layers - so a
config edit that quietly drops a contract fails here."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(cwd: Path, source: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports with the config in `cwd` over the `garage` package found in `source`."""
    env = {**os.environ, "PYTHONPATH": str(source)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_tree_keeps_the_import_contracts() -> None:
    result = lint_imports(REPO, REPO / "src")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_contracts_catch_prisma_above_the_data_layer_and_imports_running_up(tmp_path: Path) -> None:
    source = tmp_path / "src"
    shutil.copytree(REPO / "src" / "garage", source / "garage", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    (source / "garage" / "services" / "leaky.py").write_text("from prisma.models import Spot\n")
    (source / "garage" / "repositories" / "upward.py").write_text("from garage.services import parking\n")
    (source / "garage" / "routes" / "shortcut.py").write_text("from garage.db import transaction\n")

    result = lint_imports(tmp_path, source)

    assert result.returncode != 0
    assert "garage.services.leaky -> prisma" in result.stdout, result.stdout
    assert "garage.repositories.upward -> garage.services.parking" in result.stdout, result.stdout
    assert "garage.routes.shortcut -> garage.db" in result.stdout, result.stdout
