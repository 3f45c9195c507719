"""PersistenceSuite: the conformance tests every ``PersistenceProvider`` runs against itself."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from wfe_core.errors import (
    WorkflowNotFoundError,
)
from wfe_core.models import (
    ExecutionError,
    PointerStatus,
    WorkflowInstance,
    WorkflowStatus,
    new_id,
)
from wfe_core.protocols import PersistenceProvider
from wfe_core.testing.create_once_suite import CreateOnceSuite
from wfe_core.testing.delivery_suite import DeliverySuite
from wfe_core.testing.events_suite import SubscriptionsEventsAndErrorsSuite
from wfe_core.testing.fencing_suite import FencedWritesSuite
from wfe_core.testing.persistence_helpers import PersistenceHelpers, SuiteData, is_utc, utc_now


class PersistenceSuite(
    SubscriptionsEventsAndErrorsSuite, DeliverySuite, CreateOnceSuite, FencedWritesSuite, PersistenceHelpers
):
    """Conformance tests for a ``PersistenceProvider``.

    Subclass it in a class whose name starts with ``Test`` and provide an async fixture ``persistence`` that
    yields a provider on an empty, isolated store (its own schema, database file or key prefix) on which
    ``ensure_store_exists`` has run, and closes it (and drops the store) afterwards. Times used by the suite
    have millisecond precision; the store must keep at least that and return timezone-aware UTC datetimes.

    Example::

        class TestMyPersistence(PersistenceSuite):
            @pytest.fixture
            async def persistence(self):
                provider = MyPersistence(schema=unique_schema())
                await provider.ensure_store_exists()
                yield provider
                await provider.close()
    """

    pytestmark = pytest.mark.asyncio

    # -- workflows ---------------------------------------------------------------------------------------

    async def test_create_assigns_id_and_name(self, persistence: PersistenceProvider) -> None:
        instance = self.instance()
        workflow_id = await persistence.create_workflow(instance)
        assert workflow_id
        assert instance.id == workflow_id
        assert instance.name == f"{instance.workflow_definition_id}-1"

    async def test_create_keeps_a_given_id(self, persistence: PersistenceProvider) -> None:
        wanted = new_id()
        instance = self.instance(id=wanted)
        assert await persistence.create_workflow(instance) == wanted
        assert (await persistence.get_workflow(wanted)).id == wanted

    async def test_get_workflow_round_trips_deep_equal_keeping_scope_order(
        self, persistence: PersistenceProvider
    ) -> None:
        instance = self.instance(
            description="a description",
            reference="a reference",
            data={"value1": 7, "nested": {"list": [1, "two", None, True]}},
            next_execution=utc_now(),
            execution_pointers=[
                self.pointer(
                    0,
                    sleep_until=datetime(2000, 1, 1, tzinfo=UTC),
                    scope=["4", "3", "2", "1"],
                    status=PointerStatus.SLEEPING,
                )
            ],
        )
        await persistence.create_workflow(instance)
        loaded = await persistence.get_workflow(instance.id)
        assert loaded == instance
        assert loaded.execution_pointers[0].scope == ["4", "3", "2", "1"]

    async def test_every_pointer_field_round_trips(self, persistence: PersistenceProvider) -> None:
        now = utc_now()
        pointer = self.pointer(
            3,
            step_name="Build",
            active=False,
            status=PointerStatus.WAITING_FOR_EVENT,
            sleep_until=now + timedelta(hours=1),
            persistence_data={"counter": 2, "items": ["a", "b"]},
            start_time=now - timedelta(seconds=5),
            end_time=now,
            event_name="approval",
            event_key="order-7",
            event_published=True,
            event_data={"ok": True, "by": "alice"},
            retry_count=4,
            children=["c3", "c1", "c2"],
            scope=["s2", "s1"],
            context_item={"item": 5},
            predecessor_id=new_id(),
            outcome="yes",
            extension_attributes={"attempt": 1, "labels": {"x": "y"}},
        )
        instance = self.instance(execution_pointers=[pointer, self.pointer(4)])
        await persistence.create_workflow(instance)
        loaded = (await persistence.get_workflow(instance.id)).pointer(pointer.id)
        assert loaded == pointer
        assert loaded.children == ["c3", "c1", "c2"]

    async def test_model_data_comes_back_as_json(self, persistence: PersistenceProvider) -> None:
        data = SuiteData(
            value1=7, label="seven", when=datetime(2020, 5, 17, 12, 0, tzinfo=UTC), tags=["a", "b"]
        )
        instance = self.instance(data=data)
        await persistence.create_workflow(instance)
        loaded = await persistence.get_workflow(instance.id)
        assert loaded.data == data.model_dump(mode="json")
        assert SuiteData.model_validate(loaded.data) == data

    async def test_returned_and_given_objects_are_not_shared_with_the_store(
        self, persistence: PersistenceProvider
    ) -> None:
        instance = self.instance(data={"items": [1]}, execution_pointers=[self.pointer(0, scope=["a"])])
        await persistence.create_workflow(instance)
        instance.data["items"].append(2)
        instance.execution_pointers[0].scope.append("b")
        loaded = await persistence.get_workflow(instance.id)
        loaded.data["items"].append(3)
        loaded.execution_pointers[0].persistence_data = {"changed": True}
        again = await persistence.get_workflow(instance.id)
        assert again.data == {"items": [1]}
        assert again.execution_pointers[0].scope == ["a"]
        assert again.execution_pointers[0].persistence_data is None

    async def test_get_workflows_fetches_several_and_drops_unknown_ids(
        self, persistence: PersistenceProvider
    ) -> None:
        instances = [self.instance(execution_pointers=[self.pointer(0, scope=["2", "1"])]) for _ in range(3)]
        for instance in instances:
            await persistence.create_workflow(instance)
        loaded = await persistence.get_workflows([i.id for i in instances] + [new_id()])
        assert len(loaded) == 3
        by_id = {i.id: i for i in loaded}
        for instance in instances:
            assert by_id[instance.id] == instance
            assert by_id[instance.id].execution_pointers[0].scope == ["2", "1"]
        assert await persistence.get_workflows([]) == []

    async def test_get_workflow_by_human_name(self, persistence: PersistenceProvider) -> None:
        definition_id = self.definition_id()
        first = self.instance(definition_id)
        second = self.instance(definition_id)
        await persistence.create_workflow(first)
        await persistence.create_workflow(second)
        assert (await persistence.get_workflow(f"{definition_id}-2")).id == second.id
        assert (await persistence.get_workflow(first.name)).id == first.id

    async def test_missing_workflow_raises_not_found(self, persistence: PersistenceProvider) -> None:
        with pytest.raises(WorkflowNotFoundError):
            await persistence.get_workflow(new_id())
        with pytest.raises(WorkflowNotFoundError):
            await persistence.get_workflow(f"{self.definition_id()}-42")

    async def test_names_count_per_definition(self, persistence: PersistenceProvider) -> None:
        first_definition, second_definition = self.definition_id(), self.definition_id()
        names = []
        for definition_id in [first_definition] * 3 + [second_definition] * 2 + [first_definition]:
            instance = self.instance(definition_id)
            await persistence.create_workflow(instance)
            names.append(instance.name)
        assert names == [
            f"{first_definition}-1",
            f"{first_definition}-2",
            f"{first_definition}-3",
            f"{second_definition}-1",
            f"{second_definition}-2",
            f"{first_definition}-4",
        ]

    async def test_root_and_parent_ids_persist(self, persistence: PersistenceProvider) -> None:
        root, parent = new_id(), new_id()
        instance = self.instance(root_workflow_id=root, parent_workflow_id=parent)
        await persistence.create_workflow(instance)
        loaded = await persistence.get_workflow(instance.id)
        assert (loaded.root_workflow_id, loaded.parent_workflow_id) == (root, parent)
        loaded.root_workflow_id = new_id()
        await persistence.persist_workflow(loaded)
        assert (await persistence.get_workflow(instance.id)).root_workflow_id == loaded.root_workflow_id

    async def test_forked_from_persists(self, persistence: PersistenceProvider) -> None:
        original = new_id()
        instance = self.instance(forked_from=original)
        await persistence.create_workflow(instance)
        loaded = await persistence.get_workflow(instance.id)
        assert loaded.forked_from == original
        loaded.status = WorkflowStatus.COMPLETE
        await persistence.persist_workflow(loaded)
        assert (await persistence.get_workflow(instance.id)).forked_from == original
        plain = self.instance()
        await persistence.create_workflow(plain)
        assert (await persistence.get_workflow(plain.id)).forked_from is None

    async def test_persist_updates_fields_and_adds_pointers(self, persistence: PersistenceProvider) -> None:
        instance = self.instance(execution_pointers=[self.pointer(0)])
        await persistence.create_workflow(instance)
        changed = instance.model_copy(deep=True)
        changed.next_execution = utc_now() + timedelta(seconds=7)
        changed.description = "changed"
        changed.status = WorkflowStatus.SUSPENDED
        changed.data = {"after": True}
        changed.execution_pointers[0].status = PointerStatus.COMPLETE
        changed.execution_pointers.append(self.pointer(1, scope=["x"]))
        await persistence.persist_workflow(changed)
        assert await persistence.get_workflow(instance.id) == changed

    async def test_persist_writes_only_the_given_pointers(self, persistence: PersistenceProvider) -> None:
        first, second = self.pointer(0, retry_count=0), self.pointer(1, retry_count=0)
        instance = self.instance(execution_pointers=[first, second])
        await persistence.create_workflow(instance)
        first.retry_count = 1
        second.retry_count = 2
        added = self.pointer(2)
        instance.execution_pointers.append(added)
        await persistence.persist_workflow(instance, pointers=[first, added])
        loaded = await persistence.get_workflow(instance.id)
        assert loaded.pointer(first.id).retry_count == 1
        assert loaded.pointer(second.id).retry_count == 0
        assert loaded.pointer(added.id) == added
        await persistence.persist_workflow(instance, pointers=[])
        assert (await persistence.get_workflow(instance.id)).pointer(second.id).retry_count == 0

    async def test_persist_never_deletes_pointers(self, persistence: PersistenceProvider) -> None:
        keep, drop = self.pointer(0), self.pointer(1)
        instance = self.instance(execution_pointers=[keep, drop])
        await persistence.create_workflow(instance)
        instance.execution_pointers = [keep]
        await persistence.persist_workflow(instance)
        loaded = await persistence.get_workflow(instance.id)
        assert {p.id for p in loaded.execution_pointers} == {keep.id, drop.id}

    async def test_persist_of_a_missing_workflow_raises_not_found(
        self, persistence: PersistenceProvider
    ) -> None:
        instance = self.instance(id=new_id(), name="never-created-1")
        with pytest.raises(WorkflowNotFoundError):
            await persistence.persist_workflow(instance)

    async def test_persist_with_subscriptions(self, persistence: PersistenceProvider) -> None:
        now = utc_now()
        first = self.pointer(0, event_name="Event1", status=PointerStatus.WAITING_FOR_EVENT)
        second = self.pointer(1, event_name="Event2", status=PointerStatus.WAITING_FOR_EVENT)
        instance = self.instance(execution_pointers=[first, second])
        await persistence.create_workflow(instance)
        subscriptions = [
            self.subscription(
                instance.id, pointer.event_name or "", instance.id, now, step_id=pointer.step_id
            )
            for pointer in (first, second)
        ]
        await persistence.persist_workflow(instance, subscriptions=subscriptions)
        assert await persistence.get_workflow(instance.id) == instance
        for subscription in subscriptions:
            found = await persistence.get_subscriptions(subscription.event_name, instance.id, now)
            assert [s.id for s in found] == [subscription.id]
            assert found[0] == subscription

    async def test_runnable_instances_filter_by_time_and_status(
        self, persistence: PersistenceProvider
    ) -> None:
        now = utc_now()
        due = self.instance(next_execution=now - timedelta(seconds=1))
        due_exactly = self.instance(next_execution=now)
        later = self.instance(next_execution=now + timedelta(days=3650))
        suspended = self.instance(status=WorkflowStatus.SUSPENDED, next_execution=now - timedelta(seconds=1))
        complete = self.instance(status=WorkflowStatus.COMPLETE, next_execution=now - timedelta(seconds=1))
        unscheduled = self.instance(next_execution=None)
        for instance in (due, due_exactly, later, suspended, complete, unscheduled):
            await persistence.create_workflow(instance)
        runnable = set(await persistence.get_runnable_instances(now))
        assert {due.id, due_exactly.id} <= runnable
        assert not runnable & {later.id, suspended.id, complete.id, unscheduled.id}

        due.next_execution = None
        await persistence.persist_workflow(due)
        suspended.status = WorkflowStatus.RUNNABLE
        await persistence.persist_workflow(suspended)
        runnable = set(await persistence.get_runnable_instances(now))
        assert suspended.id in runnable
        assert due.id not in runnable

    async def test_list_workflows_newest_first_with_filters_and_paging(
        self, persistence: PersistenceProvider
    ) -> None:
        definition_id = self.definition_id()
        base = utc_now() - timedelta(hours=1)
        created = []
        for minute in range(4):
            status = WorkflowStatus.COMPLETE if minute % 2 else WorkflowStatus.RUNNABLE
            instance = self.instance(
                definition_id, create_time=base + timedelta(minutes=minute), status=status
            )
            await persistence.create_workflow(instance)
            created.append(instance.id)
        newest_first = list(reversed(created))
        listed = await persistence.list_workflows(definition_id=definition_id)
        assert [i.id for i in listed] == newest_first
        paged = await persistence.list_workflows(definition_id=definition_id, skip=1, take=2)
        assert [i.id for i in paged] == newest_first[1:3]
        complete = await persistence.list_workflows(
            definition_id=definition_id, status=WorkflowStatus.COMPLETE
        )
        assert [i.id for i in complete] == [created[3], created[1]]

    async def test_purge_removes_old_instances_of_the_status_with_their_records(
        self, persistence: PersistenceProvider
    ) -> None:
        now = utc_now()
        old = self.instance(status=WorkflowStatus.COMPLETE, complete_time=now - timedelta(days=10))
        recent = self.instance(status=WorkflowStatus.COMPLETE, complete_time=now - timedelta(minutes=1))
        terminated = self.instance(status=WorkflowStatus.TERMINATED, complete_time=now - timedelta(days=10))
        running = self.instance()
        for instance in (old, recent, terminated, running):
            await persistence.create_workflow(instance)
        await persistence.persist_errors([ExecutionError(workflow_id=old.id, error_time=now, message="boom")])
        subscription = self.subscription(old.id, "purge-event", old.id, now)
        await persistence.create_subscription(subscription)

        removed = await persistence.purge_workflows(WorkflowStatus.COMPLETE, now - timedelta(days=1))

        assert removed == 1
        with pytest.raises(WorkflowNotFoundError):
            await persistence.get_workflow(old.id)
        with pytest.raises(WorkflowNotFoundError):
            await persistence.get_workflow(old.name)
        assert await persistence.get_errors(old.id) == []
        assert await persistence.get_subscriptions("purge-event", old.id, now) == []
        for kept in (recent, terminated, running):
            assert (await persistence.get_workflow(kept.id)).id == kept.id

    async def test_concurrent_creates_get_unique_ids_and_names(
        self, persistence: PersistenceProvider
    ) -> None:
        definition_id = self.definition_id()

        async def create_and_persist() -> WorkflowInstance:
            instance = self.instance(definition_id, execution_pointers=[self.pointer(0)])
            await persistence.create_workflow(instance)
            instance.execution_pointers.append(self.pointer(1))
            await persistence.persist_workflow(instance)
            return instance

        instances = await asyncio.gather(*(create_and_persist() for _ in range(30)))
        assert len({i.id for i in instances}) == 30
        assert {i.name for i in instances} == {f"{definition_id}-{n}" for n in range(1, 31)}
        loaded = await persistence.get_workflows([i.id for i in instances])
        assert len(loaded) == 30
        assert all(len(i.execution_pointers) == 2 for i in loaded)

    async def test_ensure_store_exists_is_idempotent(self, persistence: PersistenceProvider) -> None:
        instance = self.instance()
        await persistence.create_workflow(instance)
        await persistence.ensure_store_exists()
        await persistence.ensure_store_exists()
        assert (await persistence.get_workflow(instance.id)).id == instance.id

    async def test_datetimes_come_back_timezone_aware_utc(self, persistence: PersistenceProvider) -> None:
        now = utc_now()
        pointer = self.pointer(0, start_time=now, end_time=now, sleep_until=now)
        instance = self.instance(next_execution=now, complete_time=now, execution_pointers=[pointer])
        await persistence.create_workflow(instance)
        loaded = await persistence.get_workflow(instance.id)
        loaded_pointer = loaded.execution_pointers[0]
        for value in (
            loaded.create_time,
            loaded.next_execution,
            loaded.complete_time,
            loaded_pointer.start_time,
            loaded_pointer.end_time,
            loaded_pointer.sleep_until,
        ):
            assert is_utc(value), value
        subscription = self.subscription(instance.id, "tz", "k", now, external_token_expiry=now)
        await persistence.create_subscription(subscription)
        assert is_utc((await persistence.get_subscription(subscription.id)).subscribe_as_of)
        assert is_utc((await persistence.get_subscription(subscription.id)).external_token_expiry)
        event = self.event("tz", "k", now)
        await persistence.create_event(event)
        assert is_utc((await persistence.get_event(event.id)).event_time)
        await persistence.persist_errors(
            [ExecutionError(workflow_id=instance.id, error_time=now, message="m")]
        )
        assert is_utc((await persistence.get_errors(instance.id))[0].error_time)
