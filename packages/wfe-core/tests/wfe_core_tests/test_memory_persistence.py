"""The persistence conformance suite against MemoryPersistence, plus what only it promises."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from wfe_core.models import ExecutionPointer, PointerStatus, WorkflowInstance, WorkflowStatus
from wfe_core.protocols import ScheduledCommandStore
from wfe_core.providers.memory import MemoryPersistence, copies
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


def test_records_name_every_field_of_the_models_in_their_order() -> None:
    assert copies._POINTER_NAMES == tuple(ExecutionPointer.model_fields)
    assert copies._INSTANCE_NAMES + ("execution_pointers", "errors") == tuple(WorkflowInstance.model_fields)


def _everything_set() -> tuple[WorkflowInstance, ExecutionPointer]:
    """An instance and a pointer with every field away from its default."""
    now = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    pointer = ExecutionPointer(
        step_id=3,
        step_name="charge",
        active=False,
        status=PointerStatus.WAITING_FOR_EVENT,
        sleep_until=now + timedelta(seconds=1),
        persistence_data={"attempt": [1, {"n": 2}]},
        start_time=now,
        end_time=now + timedelta(seconds=2),
        event_name="paid",
        event_key="order-1",
        event_published=True,
        event_data={"amount": 3.5},
        retry_count=4,
        children=["c1", "c2"],
        scope=["inner", "outer"],
        context_item={"item": ["x"]},
        predecessor_id="p0",
        outcome=[True, None],
        extension_attributes={"k": {"v": [1]}},
    )
    instance = WorkflowInstance(
        id="wf-1",
        name="orders-7",
        workflow_definition_id="orders",
        version=2,
        description="an order",
        reference="ref-1",
        status=WorkflowStatus.SUSPENDED,
        data={"order": {"lines": [1, 2]}},
        next_execution=now,
        create_time=now,
        complete_time=now + timedelta(seconds=3),
        parent_workflow_id="parent",
        root_workflow_id="root",
        forked_from="origin",
        queue="billing",
        priority=5,
        execution_pointers=[pointer],
    )
    return instance, pointer


async def test_every_field_round_trips_and_stays_apart_from_the_callers_objects() -> None:
    store = MemoryPersistence()
    instance, pointer = _everything_set()
    expected = instance.model_copy(deep=True)
    await store.create_workflow(instance)
    await store.persist_workflow(instance, pointers=[pointer])
    # what the caller changes afterwards does not reach the store
    pointer.persistence_data["attempt"][1]["n"] = 99
    pointer.children.append("c3")
    pointer.extension_attributes["k"]["v"].append(2)
    instance.data["order"]["lines"].append(3)
    loaded = await store.get_workflow(instance.id)
    assert loaded == expected
    assert loaded.model_fields_set == expected.model_fields_set
    assert loaded.execution_pointers[0].model_fields_set == expected.execution_pointers[0].model_fields_set
    assert (
        type(loaded.status) is WorkflowStatus and type(loaded.execution_pointers[0].status) is PointerStatus
    )
    # nor does what the reader changes
    loaded.execution_pointers[0].scope.append("more")
    loaded.execution_pointers[0].context_item["item"].append("y")
    loaded.data["order"]["lines"].clear()
    assert await store.get_workflow(instance.id) == expected


async def test_stored_instances_and_pointers_are_left_to_the_garbage_collector_to_forget() -> None:
    """A store keeps every instance it is given: its records of plain values must not stay tracked by the
    cyclic garbage collector, whose full collections cost in proportion to what is tracked."""
    store = MemoryPersistence()
    instance = WorkflowInstance(
        workflow_definition_id="d", version=1, create_time=datetime.now(UTC), data={"n": 1}
    )
    plain = ExecutionPointer(step_id=0, step_name="first", start_time=datetime.now(UTC))
    inside = ExecutionPointer(step_id=1, children=["a"], scope=["b"])
    instance.execution_pointers += [plain, inside]
    await store.create_workflow(instance)
    await store.persist_workflow(instance, pointers=[plain])
    stored = store._workflows[instance.id]
    records = stored.pointers
    # the tuples a record holds (children, scope) are forgotten by the first collection, the record itself by
    # the next; the names of the fields given are a tuple shared by every record with the same names
    gc.collect()
    gc.collect()
    assert not gc.is_tracked(records[plain.id]) and not gc.is_tracked(records[inside.id])
    # the instance's record too: its data, a dict, is kept beside it
    assert not gc.is_tracked(stored.instance)
    twin = ExecutionPointer(step_id=2, step_name="twin", start_time=datetime.now(UTC))
    await store.persist_workflow(instance, pointers=[twin])
    assert records[twin.id][-1] is records[plain.id][-1]


async def test_an_instance_read_back_has_its_fields_in_the_models_order() -> None:
    store = MemoryPersistence()
    instance, _ = _everything_set()
    await store.create_workflow(instance)
    loaded = await store.get_workflow(instance.id)
    assert list(loaded.__dict__) == list(WorkflowInstance.model_fields)
    assert list(loaded.execution_pointers[0].__dict__) == list(ExecutionPointer.model_fields)
