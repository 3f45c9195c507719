"""The shared lock conformance suite on SQLite (a temporary file and a private in-memory database)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from wfe_core.testing import LeaseTakeoverSuite, LockSuite
from wfe_sqlite import SqliteLock

from .conftest import DatabaseFactory


class TestSqliteLock(LockSuite):
    @pytest.fixture
    async def lock(self, database_factory: DatabaseFactory) -> AsyncIterator[SqliteLock]:
        provider = SqliteLock(database_factory(), retained=True)
        await provider.start()
        yield provider
        await provider.stop()


class TestSqliteLeaseTakeover(LeaseTakeoverSuite):
    @pytest.fixture
    async def lock(self, database_factory: DatabaseFactory) -> AsyncIterator[SqliteLock]:
        provider = SqliteLock(database_factory(), retained=True)
        await provider.start()
        yield provider
        await provider.stop()
