"""The generated engine test client is importable, distinct from `prisma`, and complete."""

from __future__ import annotations

import datetime
import decimal


def test_client_is_a_separate_package() -> None:
    import engine_test_client
    import prisma

    assert engine_test_client is not prisma
    assert engine_test_client.errors is not prisma.errors
    assert engine_test_client.__file__ is not None
    assert "build/engine-test-client/engine_test_client" in engine_test_client.__file__


def test_client_has_the_schema_models() -> None:
    from engine_test_client import Prisma, models

    client = Prisma(auto_register=False)
    for name in ("scalars", "user", "profile", "post", "category", "team", "membership"):
        assert hasattr(client, name), name
    for name in ("Scalars", "User", "Profile", "Post", "Category", "Team", "Membership"):
        assert hasattr(models, name), name


def test_scalar_field_types() -> None:
    from engine_test_client import fields, models

    hints = models.Scalars.model_fields
    expected = {
        "text": str,
        "number": int,
        "bigNumber": int,
        "ratio": float,
        "amount": decimal.Decimal,
        "flag": bool,
        "moment": datetime.datetime,
        "blob": fields.Base64,
    }
    for name, typ in expected.items():
        assert hints[name].annotation is typ, (name, hints[name].annotation)
        assert hints[f"{name}Opt"].is_required() is False
