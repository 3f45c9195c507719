"""The shared lock conformance suite on SQLite (a temporary file and a private in-memory database)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from wfe_core.testing import LeaseTakeoverSuite, LockSuite
from wfe_sqlite import SqliteLock

from .conftest import DatabaseFactory


@pytest.fixture
async def lock(database_factory: DatabaseFactory) -> AsyncIterator[SqliteLock]:
    """A started lock on the test's database, for both lock suites; stopped after the test."""
    provider = SqliteLock(database_factory(), retained=True)
    await provider.start()
    yield provider
    await provider.stop()


class TestSqliteLock(LockSuite):
    """On the module's ``lock`` fixture."""


class TestSqliteLeaseTakeover(LeaseTakeoverSuite):
    """On the module's ``lock`` fixture."""
