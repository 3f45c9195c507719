"""PersistenceSuite: the conformance tests every ``PersistenceProvider`` runs against itself."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel

from wfe_core.errors import (
    EventNotFoundError,
    LeaseLostError,
    SubscriptionNotFoundError,
    WorkflowNotFoundError,
)
from wfe_core.models import (
    Event,
    EventSubscription,
    ExecutionError,
    ExecutionPointer,
    PointerStatus,
    WorkflowInstance,
    WorkflowStatus,
    new_id,
)
from wfe_core.protocols import PersistenceProvider
from wfe_core.testing.create_once_suite import CreateOnceSuite
from wfe_core.testing.delivery_suite import DeliverySuite
from wfe_core.write_guard import guarded_writes


class SuiteData(BaseModel):
    """Typed workflow data used by the suite's data round trip."""

    value1: int = 0
    label: str = ""
    when: datetime | None = None
    tags: list[str] = []


def utc_now() -> datetime:
    """Now, in UTC, cut to whole milliseconds (the precision the suite asks of a store)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def is_utc(value: datetime | None) -> bool:
    return value is not None and value.tzinfo is not None and value.utcoffset() == timedelta(0)


class PersistenceSuite(DeliverySuite, CreateOnceSuite):
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

    # -- helpers -----------------------------------------------------------------------------------------

    @staticmethod
    def definition_id() -> str:
        """A definition id no other test uses (names count per definition)."""
        return f"def-{new_id()[-8:]}"

    def instance(self, definition_id: str | None = None, **fields: Any) -> WorkflowInstance:
        values: dict[str, Any] = {
            "workflow_definition_id": definition_id or self.definition_id(),
            "version": 1,
            "create_time": utc_now(),
        }
        values.update(fields)
        return WorkflowInstance(**values)

    @staticmethod
    def pointer(step_id: int = 0, **fields: Any) -> ExecutionPointer:
        return ExecutionPointer(step_id=step_id, **fields)

    @staticmethod
    def subscription(
        workflow_id: str, name: str, key: str, as_of: datetime, **fields: Any
    ) -> EventSubscription:
        values: dict[str, Any] = {"step_id": 1, "execution_pointer_id": new_id()}
        values.update(fields)
        return EventSubscription(
            workflow_id=workflow_id, event_name=name, event_key=key, subscribe_as_of=as_of, **values
        )

    @staticmethod
    def event(name: str, key: str, time: datetime, **fields: Any) -> Event:
        return Event(event_name=name, event_key=key, event_time=time, **fields)

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

    async def test_an_older_fence_is_refused_and_nothing_is_written(
        self, persistence: PersistenceProvider
    ) -> None:
        pointer = self.pointer(0)
        instance = self.instance(description="v0", execution_pointers=[pointer])
        await persistence.create_workflow(instance)
        instance.description = "v5"
        await persistence.persist_workflow(instance, fence=5)
        instance.description = "v5 again"
        await persistence.persist_workflow(instance, fence=5)
        instance.description = "v7"
        await persistence.persist_workflow(instance, fence=7)

        stale = instance.model_copy(deep=True)
        stale.description = "stale"
        stale.execution_pointers[0].retry_count = 9
        late_subscription = self.subscription(instance.id, "stale-event", instance.id, utc_now())
        with pytest.raises(LeaseLostError):
            await persistence.persist_workflow(stale, subscriptions=[late_subscription], fence=6)

        loaded = await persistence.get_workflow(instance.id)
        assert loaded.description == "v7"
        assert loaded.pointer(pointer.id).retry_count == 0
        assert await persistence.get_subscriptions("stale-event", instance.id, utc_now()) == []
        with pytest.raises(SubscriptionNotFoundError):
            await persistence.get_subscription(late_subscription.id)
        instance.description = "v8"
        await persistence.persist_workflow(instance, fence=8)
        assert (await persistence.get_workflow(instance.id)).description == "v8"

    async def test_a_claimed_fence_refuses_older_writes_before_the_claimer_wrote(
        self, persistence: PersistenceProvider
    ) -> None:
        instance = self.instance(description="v0", execution_pointers=[self.pointer(0)])
        await persistence.create_workflow(instance)
        await persistence.persist_workflow(instance, fence=3)
        await persistence.claim_workflow(instance.id, 4)
        await persistence.claim_workflow(instance.id, 4)  # claiming again with the same fence is fine
        stale = instance.model_copy(deep=True)
        stale.description = "written by the holder of fence 3 after fence 4 was claimed"
        with pytest.raises(LeaseLostError):
            await persistence.persist_workflow(stale, fence=3)
        with pytest.raises(LeaseLostError):
            await persistence.claim_workflow(instance.id, 2)
        assert (await persistence.get_workflow(instance.id)).description == "v0"
        instance.description = "v4"
        await persistence.persist_workflow(instance, fence=4)
        assert (await persistence.get_workflow(instance.id)).description == "v4"
        with pytest.raises(WorkflowNotFoundError):
            await persistence.claim_workflow(new_id(), 1)

    async def test_a_fenced_write_is_refused_when_its_guard_fails_as_it_is_written(
        self, persistence: PersistenceProvider
    ) -> None:
        """The host's lease check (``wfe_core.write_guard``) is run again as the store writes: a write asked for
        while the lease was held, but sent after it lapsed (the host froze meanwhile), writes nothing."""
        instance = self.instance(description="v0", execution_pointers=[self.pointer(0)])
        await persistence.create_workflow(instance)
        await persistence.persist_workflow(instance, fence=3)
        held = True

        def check() -> None:
            if not held:
                raise LeaseLostError(instance.id, "lapsed")

        with guarded_writes(check):
            await persistence.claim_workflow(instance.id, 4)
            held = False
            stale = instance.model_copy(deep=True)
            stale.description = "written after the lease lapsed"
            stale.execution_pointers[0].retry_count = 9
            with pytest.raises(LeaseLostError):
                await persistence.claim_workflow(instance.id, 5)
            with pytest.raises(LeaseLostError):
                await persistence.persist_workflow(stale, fence=4)
            late_subscription = self.subscription(instance.id, "late-event", instance.id, utc_now())
            with pytest.raises(LeaseLostError):
                await persistence.persist_workflow(
                    stale, subscriptions=[late_subscription], now=utc_now(), fence=4
                )
        loaded = await persistence.get_workflow(instance.id)
        assert loaded.description == "v0"
        assert loaded.pointer(instance.execution_pointers[0].id).retry_count == 0
        assert await persistence.get_subscriptions("late-event", instance.id, utc_now()) == []
        # unfenced writes and writes outside the block are not the guard's business
        await persistence.persist_workflow(instance, fence=5)
        assert (await persistence.get_workflow(instance.id)).description == "v0"

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

    # -- subscriptions ---------------------------------------------------------------------------------

    async def test_create_and_get_subscription(self, persistence: PersistenceProvider) -> None:
        subscription = self.subscription(
            new_id(), "approval", "order-1", utc_now(), subscription_data={"p": 1}
        )
        assert await persistence.create_subscription(subscription) == subscription.id
        assert await persistence.get_subscription(subscription.id) == subscription
        with pytest.raises(SubscriptionNotFoundError):
            await persistence.get_subscription(new_id())

    async def test_get_subscriptions_matches_name_key_and_as_of_oldest_first(
        self, persistence: PersistenceProvider
    ) -> None:
        now = utc_now()
        name, key = f"evt-{new_id()[-8:]}", new_id()
        newer = self.subscription(new_id(), name, key, now)
        older = self.subscription(new_id(), name, key, now - timedelta(minutes=5))
        other_key = self.subscription(new_id(), name, new_id(), now)
        other_name = self.subscription(new_id(), f"{name}-x", key, now)
        future = self.subscription(new_id(), name, key, now + timedelta(hours=1))
        for subscription in (newer, older, other_key, other_name, future):
            await persistence.create_subscription(subscription)
        found = await persistence.get_subscriptions(name, key, now + timedelta(seconds=1))
        assert [s.id for s in found] == [older.id, newer.id]
        assert [s.id for s in await persistence.get_subscriptions(name, key, now)] == [older.id, newer.id]

    async def test_terminated_subscriptions_drop_out_of_queries(
        self, persistence: PersistenceProvider
    ) -> None:
        now = utc_now()
        name, key = f"evt-{new_id()[-8:]}", new_id()
        subscription = self.subscription(new_id(), name, key, now)
        await persistence.create_subscription(subscription)
        await persistence.terminate_subscription(subscription.id)
        assert await persistence.get_subscriptions(name, key, now) == []
        assert await persistence.get_first_open_subscription(name, key, now) is None
        assert (await persistence.get_subscription(subscription.id)).id == subscription.id
        await persistence.terminate_subscription(subscription.id)
        await persistence.terminate_subscription(new_id())

    async def test_terminate_records_the_consumed_event_once(self, persistence: PersistenceProvider) -> None:
        now = utc_now()
        workflow_id, name, key = new_id(), f"evt-{new_id()[-8:]}", new_id()
        first = self.subscription(workflow_id, name, key, now)
        second = self.subscription(workflow_id, name, key, now)
        unrelated = self.subscription(new_id(), name, key, now)
        for subscription in (first, second, unrelated):
            await persistence.create_subscription(subscription)
        assert await persistence.get_consumed_event_ids(workflow_id, name, key) == set()
        event_a, event_b, event_c = new_id(), new_id(), new_id()
        await persistence.terminate_subscription(first.id, event_id=event_a)
        await persistence.terminate_subscription(first.id, event_id=event_b)
        await persistence.terminate_subscription(second.id, event_id=event_c)
        await persistence.terminate_subscription(unrelated.id, event_id=new_id())
        assert await persistence.get_consumed_event_ids(workflow_id, name, key) == {event_a, event_c}
        assert await persistence.get_consumed_event_ids(workflow_id, name, new_id()) == set()
        assert await persistence.get_consumed_event_ids(new_id(), name, key) == set()

    async def test_first_open_subscription_skips_leased_ones(self, persistence: PersistenceProvider) -> None:
        now = utc_now()
        name, key = f"evt-{new_id()[-8:]}", new_id()
        oldest = self.subscription(new_id(), name, key, now - timedelta(minutes=2))
        younger = self.subscription(new_id(), name, key, now - timedelta(minutes=1))
        await persistence.create_subscription(oldest)
        await persistence.create_subscription(younger)
        first = await persistence.get_first_open_subscription(name, key, now)
        assert first is not None and first.id == oldest.id
        assert await persistence.set_subscription_token(
            oldest.id, "token-1", "worker-1", now + timedelta(minutes=1), now=now
        )
        first = await persistence.get_first_open_subscription(name, key, now)
        assert first is not None and first.id == younger.id
        after_expiry = await persistence.get_first_open_subscription(name, key, now + timedelta(minutes=2))
        assert after_expiry is not None and after_expiry.id == oldest.id
        assert await persistence.get_first_open_subscription(name, key, now - timedelta(minutes=3)) is None

    async def test_subscription_token_lease_is_compare_and_set(
        self, persistence: PersistenceProvider
    ) -> None:
        now = utc_now()
        subscription = self.subscription(new_id(), "activity", "resize", now)
        await persistence.create_subscription(subscription)
        expiry = now + timedelta(minutes=5)
        assert await persistence.set_subscription_token(subscription.id, "t1", "w1", expiry, now=now)
        stored = await persistence.get_subscription(subscription.id)
        assert (stored.external_token, stored.external_worker_id, stored.external_token_expiry) == (
            "t1",
            "w1",
            expiry,
        )
        assert not await persistence.set_subscription_token(subscription.id, "t2", "w2", expiry, now=now)
        with pytest.raises(SubscriptionNotFoundError):
            await persistence.clear_subscription_token(subscription.id, "t2")
        await persistence.clear_subscription_token(subscription.id, "t1")
        assert (await persistence.get_subscription(subscription.id)).external_token is None
        assert await persistence.set_subscription_token(subscription.id, "t2", "w2", expiry, now=now)
        # An expired lease may be taken over.
        assert await persistence.set_subscription_token(
            subscription.id, "t3", "w3", expiry + timedelta(minutes=5), now=expiry + timedelta(seconds=1)
        )
        assert (await persistence.get_subscription(subscription.id)).external_token == "t3"
        with pytest.raises(SubscriptionNotFoundError):
            await persistence.clear_subscription_token(new_id(), "t3")

    async def test_concurrent_token_leases_have_one_winner(self, persistence: PersistenceProvider) -> None:
        now = utc_now()
        subscription = self.subscription(new_id(), "activity", "race", now)
        await persistence.create_subscription(subscription)
        results = await asyncio.gather(
            *(
                persistence.set_subscription_token(
                    subscription.id, f"t{n}", f"w{n}", now + timedelta(minutes=1), now=now
                )
                for n in range(10)
            )
        )
        assert results.count(True) == 1

    async def test_terminated_or_unknown_subscriptions_cannot_be_leased(
        self, persistence: PersistenceProvider
    ) -> None:
        now = utc_now()
        subscription = self.subscription(new_id(), "activity", "done", now)
        await persistence.create_subscription(subscription)
        await persistence.terminate_subscription(subscription.id)
        expiry = now + timedelta(minutes=1)
        assert not await persistence.set_subscription_token(subscription.id, "t", "w", expiry, now=now)
        assert not await persistence.set_subscription_token(new_id(), "t", "w", expiry, now=now)

    # -- events ------------------------------------------------------------------------------------------

    async def test_create_and_get_event(self, persistence: PersistenceProvider) -> None:
        event = self.event("order-paid", "order-1", utc_now(), event_data={"amount": 12.5, "lines": [1, 2]})
        assert await persistence.create_event(event) == event.id
        assert await persistence.get_event(event.id) == event
        with pytest.raises(EventNotFoundError):
            await persistence.get_event(new_id())

    async def test_runnable_events_are_unprocessed_and_due_oldest_first(
        self, persistence: PersistenceProvider
    ) -> None:
        now = utc_now()
        newer = self.event("e", new_id(), now)
        older = self.event("e", new_id(), now - timedelta(minutes=1))
        future = self.event("e", new_id(), now + timedelta(hours=1))
        processed = self.event("e", new_id(), now - timedelta(minutes=2), is_processed=True)
        for event in (newer, older, future, processed):
            await persistence.create_event(event)
        runnable = await persistence.get_runnable_events(now + timedelta(seconds=1))
        mine = [
            event_id for event_id in runnable if event_id in {newer.id, older.id, future.id, processed.id}
        ]
        assert mine == [older.id, newer.id]

    async def test_processed_flag_round_trips(self, persistence: PersistenceProvider) -> None:
        now = utc_now()
        event = self.event("e", new_id(), now)
        await persistence.create_event(event)
        await persistence.mark_event_processed(event.id)
        await persistence.mark_event_processed(event.id)
        assert (await persistence.get_event(event.id)).is_processed
        assert event.id not in await persistence.get_runnable_events(now + timedelta(seconds=1))
        await persistence.mark_event_unprocessed(event.id)
        await persistence.mark_event_unprocessed(event.id)
        assert not (await persistence.get_event(event.id)).is_processed
        assert event.id in await persistence.get_runnable_events(now + timedelta(seconds=1))

    async def test_get_events_matches_name_key_and_time_oldest_first(
        self, persistence: PersistenceProvider
    ) -> None:
        now = utc_now()
        name, key = f"evt-{new_id()[-8:]}", new_id()
        late = self.event(name, key, now + timedelta(seconds=10), is_processed=True)
        first_at_now = self.event(name, key, now)
        second_at_now = self.event(name, key, now)
        too_old = self.event(name, key, now - timedelta(seconds=10))
        other_key = self.event(name, new_id(), now)
        other_name = self.event(f"{name}-x", key, now)
        for event in (late, first_at_now, second_at_now, too_old, other_key, other_name):
            await persistence.create_event(event)
        assert await persistence.get_events(name, key, now) == [first_at_now.id, second_at_now.id, late.id]

    async def test_purge_events_removes_old_processed_ones(self, persistence: PersistenceProvider) -> None:
        now = utc_now()
        name, key = f"evt-{new_id()[-8:]}", new_id()
        old_processed = self.event(name, key, now - timedelta(days=10), is_processed=True)
        old_unprocessed = self.event(name, key, now - timedelta(days=10))
        recent_processed = self.event(name, key, now, is_processed=True)
        for event in (old_processed, old_unprocessed, recent_processed):
            await persistence.create_event(event)
        assert await persistence.purge_events(now - timedelta(days=1)) == 1
        with pytest.raises(EventNotFoundError):
            await persistence.get_event(old_processed.id)
        remaining = await persistence.get_events(name, key, now - timedelta(days=30))
        assert remaining == [old_unprocessed.id, recent_processed.id]

    # -- errors --------------------------------------------------------------------------------------------

    async def test_errors_are_stored_per_instance_oldest_first(
        self, persistence: PersistenceProvider
    ) -> None:
        now = utc_now()
        workflow_id = new_id()
        later = ExecutionError(
            workflow_id=workflow_id, execution_pointer_id=new_id(), error_time=now, message="B"
        )
        earlier = ExecutionError(workflow_id=workflow_id, error_time=now - timedelta(seconds=1), message="A")
        other = ExecutionError(workflow_id=new_id(), error_time=now, message="other")
        await persistence.persist_errors([later, other])
        await persistence.persist_errors([earlier])
        await persistence.persist_errors([])
        assert await persistence.get_errors(workflow_id) == [earlier, later]
        assert await persistence.get_errors(new_id()) == []

    async def test_errors_keep_their_step_and_exception(self, persistence: PersistenceProvider) -> None:
        workflow_id = new_id()
        error = ExecutionError(
            workflow_id=workflow_id,
            execution_pointer_id=new_id(),
            error_time=utc_now(),
            message="RuntimeError: payment gateway returned 502",
            step_id=3,
            step_name="Take payment",
            exception_type="RuntimeError",
            traceback='Traceback (most recent call last):\n  File "shop.py", line 7, in run\n'
            "RuntimeError: payment gateway returned 502\n",
        )
        bare = ExecutionError(workflow_id=workflow_id, error_time=error.error_time, message="no step")
        await persistence.persist_errors([error, bare])
        assert await persistence.get_errors(workflow_id) == [error, bare]

    async def test_an_instances_errors_are_never_written_with_it(
        self, persistence: PersistenceProvider
    ) -> None:
        workflow_id = new_id()

        def error(message: str) -> ExecutionError:
            return ExecutionError(workflow_id=workflow_id, error_time=utc_now(), message=message)

        instance = self.instance(
            id=workflow_id, execution_pointers=[self.pointer()], errors=[error("at create")]
        )
        await persistence.create_workflow(instance)
        assert (await persistence.get_workflow(instance.id)).errors == []
        instance.errors.append(error("at persist"))
        instance.description = "persisted"
        await persistence.persist_workflow(instance)
        loaded = await persistence.get_workflow(instance.id)
        assert (loaded.description, loaded.errors) == ("persisted", [])
        assert [i.errors for i in await persistence.get_workflows([instance.id])] == [[]]
        assert await persistence.get_errors(instance.id) == []
