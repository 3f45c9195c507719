"""The wfe-core conformance suites, run against PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from wfe_core.testing import (
    LeasedCreateSuite,
    LeaseTakeoverSuite,
    LockSuite,
    PersistenceSuite,
    QueueSlotSuite,
    QueueSuite,
    ReleasingPersistSuite,
    ScheduledCommandSuite,
    ScheduleSuite,
)
from wfe_postgres import PostgresLock, PostgresPersistence, PostgresQueue

pytestmark = pytest.mark.postgres


@pytest.fixture
async def lock(pg_url: str, schema: str) -> AsyncIterator[PostgresLock]:
    """A started lock in the test's schema, for both lock suites; stopped after the test."""
    provider = PostgresLock.from_url(pg_url, schema=schema, table_prefix="wfe_")
    await provider.start()
    yield provider
    await provider.stop()


@pytest.fixture
async def persistence(pg_url: str, schema: str) -> AsyncIterator[PostgresPersistence]:
    """A store with its tables made in the test's schema; closed after the test."""
    provider = PostgresPersistence.from_url(pg_url, schema=schema, table_prefix="wfe_")
    await provider.ensure_store_exists()
    yield provider
    await provider.close()


@pytest.fixture
def queue_slots(persistence: PostgresPersistence) -> PostgresPersistence:
    """The queue slot suite runs on the store itself."""
    return persistence


class TestPostgresLock(LockSuite):
    """On the module's ``lock`` fixture."""


class TestPostgresLeaseTakeover(LeaseTakeoverSuite):
    """On the module's ``lock`` fixture."""


class TestPostgresQueue(QueueSuite):
    @pytest.fixture
    async def queue(self, pg_url: str, schema: str) -> AsyncIterator[PostgresQueue]:
        provider = PostgresQueue.from_url(
            pg_url, schema=schema, table_prefix="wfe_", visibility_timeout=self.visibility_timeout
        )
        await provider.start()
        yield provider
        await provider.stop()


class TestPostgresQueueSlots(QueueSlotSuite):
    """On the module's ``queue_slots`` fixture."""


class TestPostgresPersistence(PersistenceSuite, ScheduledCommandSuite, ScheduleSuite):
    """On the module's ``persistence`` fixture."""


class TestPostgresLeasedCreate(LeasedCreateSuite, ReleasingPersistSuite):
    """On the module's ``persistence`` and ``lock`` fixtures (one schema)."""

    async def test_a_lock_in_another_schema_does_not_qualify(
        self, persistence: PostgresPersistence, pg_url: str, schema: str
    ) -> None:
        other = PostgresLock.from_url(pg_url, schema=schema, table_prefix="other_")
        try:
            assert persistence.leases_with(other) is False
        finally:
            await other.stop()
