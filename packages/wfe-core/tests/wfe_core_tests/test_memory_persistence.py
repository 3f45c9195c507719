"""The persistence conformance suite against MemoryPersistence, plus what only it promises."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from wfe_core.models import ExecutionPointer, WorkflowInstance
from wfe_core.protocols import ScheduledCommandStore
from wfe_core.providers.memory import MemoryPersistence
from wfe_core.testing import PersistenceSuite, QueueSlotSuite, ScheduledCommandSuite, ScheduleSuite


class TestMemoryQueueSlots(QueueSlotSuite):
    @pytest.fixture
    async def queue_slots(self) -> AsyncIterator[MemoryPersistence]:
        provider = MemoryPersistence.from_url("memory://")
        await provider.ensure_store_exists()
        yield provider
        await provider.close()


class TestMemoryPersistence(PersistenceSuite, ScheduledCommandSuite, ScheduleSuite):
    @pytest.fixture
    async def persistence(self) -> AsyncIterator[MemoryPersistence]:
        provider = MemoryPersistence.from_url("memory://")
        await provider.ensure_store_exists()
        yield provider
        await provider.close()


async def test_persisting_a_pointer_copies_it() -> None:
    store = MemoryPersistence()
    pointer = ExecutionPointer(step_id=0, extension_attributes={"k": ["v"]})
    instance = WorkflowInstance(workflow_definition_id="d", version=1, create_time=datetime.now(UTC))
    await store.create_workflow(instance)
    await store.persist_workflow(instance, pointers=[pointer])
    pointer.extension_attributes["k"].append("changed")
    loaded = await store.get_workflow(instance.id)
    assert loaded.pointer(pointer.id).extension_attributes == {"k": ["v"]}


async def test_store_offers_scheduled_commands() -> None:
    assert isinstance(MemoryPersistence(), ScheduledCommandStore)
