"""Key rotation: values sealed with an older key are re-encrypted under the newest one."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import uuid
from datetime import timedelta
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest
from aiohttp import web
from prisma import Prisma

from garage.repositories.payments import PaymentRepository
from garage.repositories.records import Permit, Vehicle
from garage.repositories.rows import now_ms
from garage.repositories.unit_of_work import Database, UnitOfWork
from garage.repositories.vehicles import VehicleRepository
from garage.runtime.webhook_delivery import WebhookDeliverer
from garage.security.crypto import DecryptionFailed, FieldCipher
from garage.services.key_rotation import SEALED_ROWS, KeyRotationService
from garage.services.webhooks import WebhookService
from garage.vocabulary import SENSITIVE_FIELDS, WEBHOOK_SECRET, EventType
from tests.repositories.builders import make_garage, pay, start_session

pytestmark = pytest.mark.asyncio(loop_scope="session")

OLD = ("old", b"\x01" * 32)
NEW = ("new", b"\x02" * 32)


async def create_vehicle(db: Prisma, **fields: str) -> Vehicle:
    """A CAR with a new plate and the (sealed) owner fields given, written in a unit of work."""

    async def work(unit: UnitOfWork) -> Vehicle:
        return await unit.vehicles.create(license_plate=uuid.uuid4().hex[:8].upper(), type="CAR", **fields)

    return await Database(db).transaction(work, actor="test")


async def test_rotation_reseals_old_values_and_leaves_current_ones(db: Prisma) -> None:
    old_only = FieldCipher((OLD,))
    both = FieldCipher((OLD, NEW))
    new_only = FieldCipher((NEW,))
    vehicles = VehicleRepository(db)
    stale = await create_vehicle(
        db,
        owner_name=old_only.encrypt("Ada", "Vehicle.ownerName"),
        owner_email=old_only.encrypt("ada@example.com", "Vehicle.ownerEmail"),
    )
    fresh = await create_vehicle(db, owner_phone=both.encrypt("+1 555", "Vehicle.ownerPhone"))
    _, spots = await make_garage(db, spots=1)
    session = await start_session(db, spots[0], stale)
    payment = await pay(
        db,
        session,
        amount_cents=100,
        currency="USD",
        method="CARD",
        reference=old_only.encrypt("TX-42", "Payment.reference"),
        created_at=now_ms(),
    )

    report = await KeyRotationService(Database(db), both).rotate(actor="test", batch_size=1)
    assert report.vehicles >= 1 and report.payments >= 1

    after_stale = await vehicles.get_live(stale.id)
    after_fresh = await vehicles.get_live(fresh.id)
    after_payment = await PaymentRepository(db).get(payment.id)
    assert after_stale is not None and after_fresh is not None and after_payment is not None
    # everything now opens with the new key alone
    assert new_only.decrypt(after_stale.ownerName or "", "Vehicle.ownerName") == "Ada"
    assert new_only.decrypt(after_stale.ownerEmail or "", "Vehicle.ownerEmail") == "ada@example.com"
    assert after_stale.ownerPhone is None
    assert new_only.decrypt(after_payment.reference or "", "Payment.reference") == "TX-42"
    assert after_fresh.ownerPhone == fresh.ownerPhone  # already current: untouched
    with pytest.raises(DecryptionFailed):
        old_only.decrypt(after_stale.ownerName or "", "Vehicle.ownerName")

    again = await KeyRotationService(Database(db), both).rotate(actor="test")
    assert (again.vehicles, again.payments) == (0, 0)
    audit = await db.auditlog.find_first(where={"action": "ROTATE_KEYS"}, order={"createdAt": "desc"})
    assert audit is not None and audit.actor == "test"
    # the one entry of the second run: the key it rotated to, and nothing left to re-encrypt
    assert (audit.entity, audit.entityId) == ("EncryptionKey", "new")
    assert json.loads(audit.after or "null") == {
        "permitsReencrypted": 0,
        "paymentsReencrypted": 0,
        "vehiclesReencrypted": 0,
        "webhooksReencrypted": 0,
    }


async def test_rotation_reports_its_progress_per_batch(db: Prisma) -> None:
    old_only, both = FieldCipher((OLD,)), FieldCipher((OLD, NEW))
    for name in ("Bo", "Cy", "Di"):
        await create_vehicle(db, owner_name=old_only.encrypt(name, "Vehicle.ownerName"))
    heard: list[tuple[int, int]] = []

    await KeyRotationService(Database(db), both).rotate(
        actor="test", batch_size=2, on_progress=lambda done, total: heard.append((done, total))
    )

    totals = {total for _, total in heard}
    assert len(totals) == 1 and totals.pop() >= 3, heard  # counted once, before the first batch
    done = [done for done, _ in heard]
    assert done[0] == 0 and done == sorted(done) and len(set(done)) == len(done), heard
    assert done[-1] == heard[-1][1], heard  # every row counted was gone through
    assert len(heard) >= 3, heard  # batches of 2: a call per batch, not one at the end


async def test_rotation_reaches_every_sensitive_model() -> None:
    assert set(SEALED_ROWS) == set(SENSITIVE_FIELDS)


async def test_rotation_reseals_permit_holder_fields(db: Prisma) -> None:
    old_only, both, new_only = FieldCipher((OLD,)), FieldCipher((OLD, NEW)), FieldCipher((NEW,))
    garage, _ = await make_garage(db, spots=1)
    start = now_ms()

    async def create(unit: UnitOfWork) -> Permit:
        return await unit.permits.create(
            garage_id=garage.id, license_plate=uuid.uuid4().hex[:8].upper(),
            holder_name=old_only.encrypt("Grace", "Permit.holderName"), holder_email=None,
            valid_from=start, valid_to=start + timedelta(days=30),
        )

    permit = await Database(db).transaction(create, actor="test")
    report = await KeyRotationService(Database(db), both).rotate(actor="test")
    assert report.resealed["Permit"] >= 1
    stored = await Database(db).permits.get(permit.id)
    assert stored is not None and stored.holderEmail is None
    assert new_only.decrypt(stored.holderName or "", "Permit.holderName") == "Grace"


@asynccontextmanager
async def receiver(received: list[tuple[bytes, str]]) -> AsyncIterator[str]:
    """A webhook receiver on 127.0.0.1 noting each delivery's body and Garage-Signature; yields its URL."""

    async def receive(request: web.Request) -> web.Response:
        received.append((await request.read(), request.headers["Garage-Signature"]))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        await web.SockSite(runner, sock).start()
        try:
            yield f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
        finally:
            await runner.cleanup()


async def test_a_webhook_made_before_rotation_delivers_signed_once_the_old_key_is_retired(db: Prisma) -> None:
    old_only, both, new_only = FieldCipher((OLD,)), FieldCipher((OLD, NEW)), FieldCipher((NEW,))
    database = Database(db)
    garage, spots = await make_garage(db, spots=1)
    received: list[tuple[bytes, str]] = []
    async with receiver(received) as url:
        created = await WebhookService(database, old_only, allow_private=True).create(
            url=url, types=[EventType.SESSION_STARTED], garage_id=garage.id, actor="test"
        )
        with pytest.raises(DecryptionFailed):  # what the deliverer would face without the rotation
            new_only.decrypt(created.record.secret, WEBHOOK_SECRET)

        report = await KeyRotationService(database, both).rotate(actor="test")

        assert report.webhooks >= 1
        stored = await database.webhooks.live_by_id(created.record.id)
        assert stored is not None and new_only.key_id_of(stored.secret) == "new"
        # the old key retired: the deliverer holds the new one alone
        deliverer = WebhookDeliverer(database, new_only, retry_seconds=30, allow_private=True)
        session = await start_session(db, spots[0])
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                await deliverer.deliver_due(http)
                if received:
                    break
                await asyncio.sleep(0.05)
        await WebhookService(database, new_only, allow_private=True).delete(created.record.id, actor="test")

    assert len(received) == 1, received
    body, signed = received[0]
    timestamp = signed.split(",", 1)[0].removeprefix("t=")
    expected = hmac.new(created.secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert signed == f"t={timestamp},v1={expected}"  # keyed by the secret the 201 showed, as receivers hold it
    event = json.loads(body)
    assert event["type"] == EventType.SESSION_STARTED and event["data"]["session"]["id"] == session.id
