"""The shared persistence conformance suite on SQLite (a temporary file and a private in-memory database)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from wfe_core.testing import PersistenceSuite, QueueSlotSuite, ScheduledCommandSuite, ScheduleSuite
from wfe_sqlite import SqlitePersistence

from .conftest import DatabaseFactory


@pytest.fixture
async def persistence(database_factory: DatabaseFactory) -> AsyncIterator[SqlitePersistence]:
    """A store with its tables made on the test's database; closed after the test."""
    provider = SqlitePersistence(database_factory(), retained=True)
    await provider.ensure_store_exists()
    yield provider
    await provider.close()


@pytest.fixture
def queue_slots(persistence: SqlitePersistence) -> SqlitePersistence:
    """The queue slot suite runs on the store itself."""
    return persistence


class TestSqliteQueueSlots(QueueSlotSuite):
    """On the module's ``queue_slots`` fixture."""


class TestSqlitePersistence(PersistenceSuite, ScheduledCommandSuite, ScheduleSuite):
    """On the module's ``persistence`` fixture."""
