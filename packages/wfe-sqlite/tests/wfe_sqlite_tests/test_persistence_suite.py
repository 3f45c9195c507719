"""The shared persistence conformance suite on SQLite (a temporary file and a private in-memory database)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from wfe_core.testing import PersistenceSuite, QueueSlotSuite, ScheduledCommandSuite, ScheduleSuite
from wfe_sqlite import SqlitePersistence

from .conftest import DatabaseFactory


class TestSqliteQueueSlots(QueueSlotSuite):
    @pytest.fixture
    async def queue_slots(self, database_factory: DatabaseFactory) -> AsyncIterator[SqlitePersistence]:
        provider = SqlitePersistence(database_factory(), retained=True)
        await provider.ensure_store_exists()
        yield provider
        await provider.close()


class TestSqlitePersistence(PersistenceSuite, ScheduledCommandSuite, ScheduleSuite):
    @pytest.fixture
    async def persistence(self, database_factory: DatabaseFactory) -> AsyncIterator[SqlitePersistence]:
        provider = SqlitePersistence(database_factory(), retained=True)
        await provider.ensure_store_exists()
        yield provider
        await provider.close()
