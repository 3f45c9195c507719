"""The shared queue conformance suite on SQLite (a temporary file and a private in-memory database)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from wfe_core.testing import QueueSuite
from wfe_sqlite import SqliteQueue

from .conftest import DatabaseFactory


class TestSqliteQueue(QueueSuite):
    @pytest.fixture
    async def queue(self, database_factory: DatabaseFactory) -> AsyncIterator[SqliteQueue]:
        provider = SqliteQueue(database_factory(), visibility_timeout=self.visibility_timeout, retained=True)
        await provider.start()
        yield provider
        await provider.stop()
