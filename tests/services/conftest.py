"""Service tests use the same migrated database and client as the repository tests."""

from tests.repositories.conftest import cipher, database_file, db  # noqa: F401  (fixtures)
