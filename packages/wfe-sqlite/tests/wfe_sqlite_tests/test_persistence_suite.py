"""The shared persistence conformance suite on SQLite (a temporary file and a private in-memory database)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from wfe_core.models import WorkflowInstance
from wfe_core.testing import (
    LeasedCreateSuite,
    PersistenceSuite,
    QueueSlotSuite,
    ReleasingPersistSuite,
    ScheduledCommandSuite,
    ScheduleSuite,
)
from wfe_sqlite import SqliteLock, SqlitePersistence


@pytest.fixture
def queue_slots(persistence: SqlitePersistence) -> SqlitePersistence:
    """The queue slot suite runs on the store itself."""
    return persistence


class TestSqliteQueueSlots(QueueSlotSuite):
    """On the module's ``queue_slots`` fixture."""


class TestSqlitePersistence(PersistenceSuite, ScheduledCommandSuite, ScheduleSuite):
    """On the module's ``persistence`` fixture."""


class TestSqliteLeasedCreate(LeasedCreateSuite, ReleasingPersistSuite):
    """On the module's ``persistence`` fixture, with a lock on its database."""

    @pytest.fixture
    async def lock(self, persistence: SqlitePersistence) -> AsyncIterator[SqliteLock]:
        provider = SqliteLock(persistence.database)
        await provider.start()
        yield provider
        await provider.stop()

    async def test_a_lock_on_another_database_does_not_qualify(
        self, persistence: SqlitePersistence, tmp_path: Path
    ) -> None:
        other = SqliteLock.from_url(f"sqlite:///{tmp_path}/other.db")
        try:
            assert persistence.leases_with(other) is False
            with pytest.raises(ValueError, match="leases_with"):
                await persistence.create_workflow_leased(
                    WorkflowInstance(
                        workflow_definition_id="d", version=1, id="x", create_time=datetime.now(UTC)
                    ),
                    other,
                    self.ttl,
                )
        finally:
            await other.stop()
