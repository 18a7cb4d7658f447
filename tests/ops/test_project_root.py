"""Where garage finds its checkout (config/settings.py): the folder holding schema.prisma, from
which engine/, prisma/migrations, .env and relative `file:` database URLs are taken."""

from __future__ import annotations

from pathlib import Path

import pytest

from garage.config import load_settings
from garage.config.settings import REPO_ROOT, ProjectLayoutError, checkout_path, find_project_root

REPO = Path(__file__).resolve().parents[2]


def test_the_installed_package_finds_this_checkout() -> None:
    assert REPO_ROOT == REPO
    settings = load_settings(GARAGE_ENV="test", DATABASE_URL="file:./build/x.db")
    assert settings.query_engine_binary == REPO / "engine" / "bin" / "query-engine.js"
    assert settings.migrations_dir == REPO / "prisma" / "migrations"
    assert settings.database_path == REPO / "build" / "x.db"


def test_the_root_is_the_nearest_folder_with_schema_prisma(tmp_path: Path) -> None:
    (tmp_path / "schema.prisma").write_text("")
    module = tmp_path / "src" / "garage" / "config" / "settings.py"
    assert find_project_root(module) == tmp_path


def test_no_checkout_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ProjectLayoutError, match="source checkout"):
        find_project_root(tmp_path / "site-packages" / "garage" / "config" / "settings.py")


def test_a_missing_checkout_folder_names_the_setting_that_replaces_it() -> None:
    with pytest.raises(ProjectLayoutError, match="GARAGE_MIGRATIONS_DIR"):
        checkout_path("prisma/no-such-migrations", "GARAGE_MIGRATIONS_DIR")


def test_the_environment_replaces_the_checkout_paths(tmp_path: Path) -> None:
    settings = load_settings(GARAGE_ENV="test", PRISMA_QUERY_ENGINE_BINARY=str(tmp_path / "qe.js"),
                             GARAGE_MIGRATIONS_DIR=str(tmp_path / "migrations"))
    assert settings.query_engine_binary == tmp_path / "qe.js"
    assert settings.migrations_dir == tmp_path / "migrations"
