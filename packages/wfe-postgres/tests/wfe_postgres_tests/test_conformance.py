"""The wfe-core conformance suites, run against PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from wfe_core.testing import (
    LeaseTakeoverSuite,
    LockSuite,
    PersistenceSuite,
    QueueSlotSuite,
    QueueSuite,
    ScheduledCommandSuite,
    ScheduleSuite,
)
from wfe_postgres import PostgresLock, PostgresPersistence, PostgresQueue

pytestmark = pytest.mark.postgres


class TestPostgresLock(LockSuite):
    @pytest.fixture
    async def lock(self, pg_url: str, schema: str) -> AsyncIterator[PostgresLock]:
        provider = PostgresLock.from_url(pg_url, schema=schema, table_prefix="wfe_")
        await provider.start()
        yield provider
        await provider.stop()


class TestPostgresLeaseTakeover(LeaseTakeoverSuite):
    @pytest.fixture
    async def lock(self, pg_url: str, schema: str) -> AsyncIterator[PostgresLock]:
        provider = PostgresLock.from_url(pg_url, schema=schema, table_prefix="wfe_")
        await provider.start()
        yield provider
        await provider.stop()


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
    @pytest.fixture
    async def queue_slots(self, pg_url: str, schema: str) -> AsyncIterator[PostgresPersistence]:
        provider = PostgresPersistence.from_url(pg_url, schema=schema, table_prefix="wfe_")
        await provider.ensure_store_exists()
        yield provider
        await provider.close()


class TestPostgresPersistence(PersistenceSuite, ScheduledCommandSuite, ScheduleSuite):
    @pytest.fixture
    async def persistence(self, pg_url: str, schema: str) -> AsyncIterator[PostgresPersistence]:
        provider = PostgresPersistence.from_url(pg_url, schema=schema, table_prefix="wfe_")
        await provider.ensure_store_exists()
        yield provider
        await provider.close()
