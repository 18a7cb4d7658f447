"""Event retention (runtime/scheduler.py event_retention_job): events older than the retention period
are deleted, never the newest one (ids only grow), and resuming from a deleted one is 410
EVENTS_EXPIRED (services/events.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio

from garage.config import load_settings
from garage.errors import EventsExpired, ValidationFailed
from garage.repositories.events import event_id
from garage.repositories.unit_of_work import Database, connected
from garage.runtime.scheduler import event_retention_job
from garage.services.events import EventService
from tests.database import apply_migrations
from tests.repositories.builders import make_garage

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def database(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    path: Path = tmp_path_factory.mktemp("retention") / "garage.db"
    apply_migrations(path)
    async with connected(load_settings(DATABASE_URL=f"file:{path}", GARAGE_ENV="test")) as opened:
        yield opened


async def test_old_events_go_the_newest_stays_and_resuming_from_a_deleted_one_is_410(database: Database) -> None:
    await make_garage(database._db, spots=3)  # 3 spot.changed + 1 occupancy.changed
    events = EventService(database)
    first = (await events.after(None, garage_id=None, types=None, limit=100)).items
    assert len(first) == 4
    await event_retention_job(database, keep=timedelta(days=7)).run()  # nothing is that old
    assert len((await events.after(None, garage_id=None, types=None, limit=100)).items) == 4

    await event_retention_job(database, keep=timedelta(0)).run()  # everything is older than now

    kept = (await events.after(None, garage_id=None, types=None, limit=100)).items
    assert [event.seq for event in kept] == [first[-1].seq]
    with pytest.raises(EventsExpired):
        await events.after(event_id(first[0].seq), garage_id=None, types=None, limit=100)
    # resuming from the last deleted event (what a client saw last) loses nothing
    assert (await events.after(event_id(first[-2].seq), garage_id=None, types=None, limit=100)).items == kept
    # a new event after the pruning gets a larger id than any before
    await make_garage(database._db, spots=1)
    newest = (await events.after(event_id(first[-1].seq), garage_id=None, types=None, limit=100)).items
    assert newest and min(event.seq for event in newest) > first[-1].seq


async def test_after_must_be_an_event_id(database: Database) -> None:
    with pytest.raises(ValidationFailed):
        await EventService(database).after("12", garage_id=None, types=None, limit=10)
