"""One error hierarchy (garage/errors.py): every exception class defined anywhere in the garage
package derives from GarageException. Walks and imports every module, so a new `class X(Exception)`
or `class Y(RuntimeError)` fails here."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import garage
from garage.errors import GarageError, GarageException, OperationalFailure, ValidationFailed


def project_exception_classes() -> dict[str, type[BaseException]]:
    """"module.Class" -> class, for every exception class defined (not imported) in garage."""
    found: dict[str, type[BaseException]] = {}
    for module_info in pkgutil.walk_packages(garage.__path__, prefix="garage."):
        if module_info.name == "garage.__main__":  # runs the CLI when imported
            continue
        module = importlib.import_module(module_info.name)
        for name, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == module.__name__:
                found[f"{module.__name__}.{name}"] = value
    return found


def test_every_exception_class_of_the_project_is_in_the_one_hierarchy() -> None:
    outside = sorted(name for name, cls in project_exception_classes().items() if not issubclass(cls, GarageException))
    assert outside == []


def test_the_walk_sees_the_exceptions_of_every_layer() -> None:
    """Guards the test above against passing because it found nothing."""
    assert {
        "garage.errors.GarageError", "garage.runtime.locks.DatabaseBusy", "garage.cli.Terminated",
        "garage.security.crypto.DecryptionFailed", "garage.services.legacy_import.ImportRefused",
        "garage.routes.http_protocol.RequestRefused",
    } <= set(project_exception_classes())


def test_operational_failures_are_not_client_errors() -> None:
    """routes/errors.py answers a GarageError with its status and message; an operational failure
    (a damaged database, a key missing) must not reach a client that way."""
    from garage.runtime.integrity import DatabaseDamaged
    from garage.runtime.locks import DatabaseBusy
    from garage.runtime.replication import ReplicationError
    from garage.cli.restore import RestoreRefused
    from garage.security.crypto import DecryptionFailed
    from garage.services.legacy_import import ImportRefused, SnapshotUnreadable

    for failure in (DatabaseDamaged, DatabaseBusy, ReplicationError, RestoreRefused, DecryptionFailed,
                    ImportRefused, SnapshotUnreadable):
        assert issubclass(failure, OperationalFailure) and not issubclass(failure, GarageError), failure


def test_an_invalid_plate_is_a_validation_error_and_still_a_value_error() -> None:
    """ValueError: pydantic's AfterValidator turns it into a field error (400 VALIDATION_ERROR)."""
    from garage.services.plates import InvalidPlate

    assert issubclass(InvalidPlate, ValidationFailed) and issubclass(InvalidPlate, ValueError)
