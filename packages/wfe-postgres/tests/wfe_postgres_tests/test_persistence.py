"""PostgresPersistence: round trips, pointer rows, events, subscriptions, errors and commands."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg import sql

from wfe_core.errors import EventNotFoundError, SubscriptionNotFoundError, WorkflowNotFoundError
from wfe_core.models import (
    CommandName,
    Event,
    EventSubscription,
    ExecutionError,
    ExecutionPointer,
    PointerStatus,
    ScheduledCommand,
    WorkflowStatus,
)
from wfe_core.protocols import ScheduledCommandStore
from wfe_postgres import PostgresPersistence

from .instances import make_instance, now

pytestmark = pytest.mark.postgres


async def pointer_row_versions(pg_url: str, schema: str, workflow_id: str) -> dict[str, str]:
    """Each pointer row's ``xmin``: it changes exactly when the row is written."""
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
        cur = await conn.execute(
            sql.SQL("SELECT id, xmin::text FROM {} WHERE workflow_id = %s").format(
                sql.Identifier(schema, "execution_pointers")
            ),
            (workflow_id,),
        )
        return {row[0]: row[1] for row in await cur.fetchall()}


async def test_create_assigns_id_and_per_definition_names(store: PostgresPersistence) -> None:
    first, second, other = make_instance("ci"), make_instance("ci"), make_instance("deploy")
    for instance in (first, second, other):
        await store.create_workflow(instance)
    assert first.id and second.id and first.id != second.id
    assert (first.name, second.name, other.name) == ("ci-1", "ci-2", "deploy-1")
    assert (await store.get_workflow("ci-2")).id == second.id


async def test_instance_and_pointers_round_trip_exactly(store: PostgresPersistence) -> None:
    instance = make_instance(pointers=0, data={"nested": {"list": [1, 2.5, "x"]}, "flag": True})
    instance.description, instance.reference = "desc", "ref-1"
    instance.root_workflow_id = "root-1"
    instance.execution_pointers = [
        ExecutionPointer(
            step_id=3,
            step_name="wait",
            status=PointerStatus.WAITING_FOR_EVENT,
            sleep_until=datetime(2000, 1, 1, tzinfo=UTC),
            persistence_data={"i": 2},
            event_name="approved",
            event_key="k",
            retry_count=2,
            scope=["4", "3", "2", "1"],
            children=["c2", "c1"],
            extension_attributes={"a": [1]},
        ),
        ExecutionPointer(step_id=4, status=PointerStatus.SLEEPING),
    ]
    await store.create_workflow(instance)
    loaded = await store.get_workflow(instance.id)
    assert loaded == instance


async def test_persist_writes_only_the_given_pointers(
    store: PostgresPersistence, pg_url: str, schema: str
) -> None:
    instance = make_instance(pointers=50)
    await store.create_workflow(instance)
    before = await pointer_row_versions(pg_url, schema, instance.id)
    changed = instance.execution_pointers[7]
    changed.status = PointerStatus.COMPLETE
    added = ExecutionPointer(step_id=99)
    instance.execution_pointers.append(added)
    instance.status = WorkflowStatus.SUSPENDED
    await store.persist_workflow(instance, pointers=[changed, added])
    after = await pointer_row_versions(pg_url, schema, instance.id)
    assert {pid for pid, version in after.items() if before.get(pid) != version} == {changed.id, added.id}
    loaded = await store.get_workflow(instance.id)
    assert loaded.status is WorkflowStatus.SUSPENDED
    assert [p.id for p in loaded.execution_pointers] == [p.id for p in instance.execution_pointers]
    assert loaded.pointer(changed.id).status is PointerStatus.COMPLETE


async def test_persist_of_a_missing_instance_is_workflow_not_found(store: PostgresPersistence) -> None:
    instance = make_instance()
    instance.id = "missing"
    with pytest.raises(WorkflowNotFoundError):
        await store.persist_workflow(instance)
    with pytest.raises(WorkflowNotFoundError):
        await store.get_workflow("missing")


async def test_get_workflows_drops_unknown_ids(store: PostgresPersistence) -> None:
    instances = [make_instance() for _ in range(3)]
    for instance in instances:
        await store.create_workflow(instance)
    loaded = await store.get_workflows([i.id for i in instances] + ["nope"])
    assert sorted(i.id for i in loaded) == sorted(i.id for i in instances)


async def test_runnable_instances_filter_on_status_and_time(store: PostgresPersistence) -> None:
    due, later, suspended, unscheduled = (make_instance() for _ in range(4))
    later.next_execution = now() + timedelta(hours=1)
    suspended.status = WorkflowStatus.SUSPENDED
    unscheduled.next_execution = None
    for instance in (due, later, suspended, unscheduled):
        await store.create_workflow(instance)
    assert await store.get_runnable_instances(now()) == [due.id]


async def test_concurrent_creates_give_unique_ids_and_names(store: PostgresPersistence) -> None:
    instances = [make_instance("many") for _ in range(30)]
    ids = await asyncio.gather(*(store.create_workflow(i) for i in instances))
    assert len(set(ids)) == 30
    assert sorted(int(i.name.split("-")[1]) for i in instances) == list(range(1, 31))
    assert len(await store.get_workflows(ids)) == 30


async def test_list_and_purge_workflows(store: PostgresPersistence) -> None:
    old, recent, running = make_instance("a"), make_instance("a"), make_instance("b")
    for instance in (old, recent, running):
        await store.create_workflow(instance)
    for instance, ended in ((old, now() - timedelta(days=10)), (recent, now())):
        instance.status, instance.complete_time = WorkflowStatus.COMPLETE, ended
        await store.persist_workflow(instance)
    await store.persist_errors([ExecutionError(workflow_id=old.id, error_time=now(), message="boom")])
    assert [i.id for i in await store.list_workflows(definition_id="a")] == [recent.id, old.id]
    assert [i.id for i in await store.list_workflows(status=WorkflowStatus.RUNNABLE)] == [running.id]
    assert await store.purge_workflows(WorkflowStatus.COMPLETE, now() - timedelta(days=1)) == 1
    assert await store.get_workflows([old.id, recent.id]) == [await store.get_workflow(recent.id)]
    assert await store.get_errors(old.id) == []


def subscription(workflow_id: str, name: str = "approved", key: str = "k", **kw: object) -> EventSubscription:
    return EventSubscription(
        workflow_id=workflow_id,
        step_id=1,
        execution_pointer_id="p1",
        event_name=name,
        event_key=key,
        subscribe_as_of=kw.pop("as_of", now()),
        **kw,
    )


async def test_subscriptions_match_on_name_key_and_time(store: PostgresPersistence) -> None:
    a = subscription("w1")
    b = subscription("w2", as_of=now() - timedelta(minutes=1))
    other_key = subscription("w3", key="other")
    future = subscription("w4", as_of=now() + timedelta(hours=1))
    for sub in (a, b, other_key, future):
        await store.create_subscription(sub)
    found = await store.get_subscriptions("approved", "k", now() + timedelta(seconds=1))
    assert [s.id for s in found] == [b.id, a.id]
    assert await store.get_subscription(a.id) == a


async def test_terminated_subscription_keeps_the_first_consumed_event(store: PostgresPersistence) -> None:
    sub = subscription("w1")
    await store.create_subscription(sub)
    await store.terminate_subscription(sub.id, event_id="e1")
    await store.terminate_subscription(sub.id, event_id="e2")
    await store.terminate_subscription("unknown")
    assert await store.get_subscriptions("approved", "k", now()) == []
    assert (await store.get_subscription(sub.id)).id == sub.id
    assert await store.get_consumed_event_ids("w1", "approved", "k") == {"e1"}
    with pytest.raises(SubscriptionNotFoundError):
        await store.get_subscription("unknown")


async def test_subscription_token_is_a_compare_and_set(store: PostgresPersistence) -> None:
    first, second = subscription("w1", as_of=now() - timedelta(seconds=2)), subscription("w2")
    await store.create_subscription(first)
    await store.create_subscription(second)
    t = now()
    assert await store.set_subscription_token(first.id, "tok-a", "worker-a", t + timedelta(minutes=1), now=t)
    assert not await store.set_subscription_token(
        first.id, "tok-b", "worker-b", t + timedelta(minutes=1), now=t
    )
    open_one = await store.get_first_open_subscription("approved", "k", t)
    assert open_one is not None and open_one.id == second.id
    later = t + timedelta(minutes=2)
    expired = await store.get_first_open_subscription("approved", "k", later)
    assert expired is not None and expired.id == first.id
    with pytest.raises(SubscriptionNotFoundError):
        await store.clear_subscription_token(first.id, "tok-b")
    await store.clear_subscription_token(first.id, "tok-a")
    assert await store.set_subscription_token(first.id, "tok-b", "worker-b", t + timedelta(minutes=1), now=t)


async def test_persist_workflow_creates_subscriptions_in_the_same_transaction(
    store: PostgresPersistence,
) -> None:
    instance = make_instance()
    await store.create_workflow(instance)
    subs = [subscription(instance.id, name="e1", key=instance.id), subscription(instance.id, name="e2")]
    await store.persist_workflow(instance, pointers=[], subscriptions=subs)
    assert [s.id for s in await store.get_subscriptions("e1", instance.id, now())] == [subs[0].id]
    assert [s.id for s in await store.get_subscriptions("e2", "k", now())] == [subs[1].id]


async def test_events_round_trip_and_processing(store: PostgresPersistence) -> None:
    t = now()
    older = Event(
        event_name="paid", event_key="o1", event_data={"sum": 3}, event_time=t - timedelta(minutes=1)
    )
    newer = Event(event_name="paid", event_key="o1", event_time=t)
    other = Event(event_name="paid", event_key="o2", event_time=t)
    future = Event(event_name="paid", event_key="o1", event_time=t + timedelta(hours=1))
    for event in (newer, older, other, future):
        await store.create_event(event)
    assert await store.get_event(older.id) == older
    assert await store.get_runnable_events(t) == [older.id, newer.id, other.id]
    assert await store.get_events("paid", "o1", t - timedelta(minutes=5)) == [older.id, newer.id, future.id]
    await store.mark_event_processed(older.id)
    await store.mark_event_processed(older.id)
    assert (await store.get_event(older.id)).is_processed
    assert await store.get_runnable_events(t) == [newer.id, other.id]
    await store.mark_event_unprocessed(older.id)
    assert older.id in await store.get_runnable_events(t)
    await store.mark_event_processed(older.id)
    assert await store.purge_events(t) == 1
    with pytest.raises(EventNotFoundError):
        await store.get_event(older.id)


async def test_errors_come_back_oldest_first(store: PostgresPersistence) -> None:
    errors = [
        ExecutionError(workflow_id="w", execution_pointer_id="p", error_time=now(), message=f"e{i}")
        for i in range(3)
    ]
    await store.persist_errors(errors[:2])
    await store.persist_errors(errors[2:])
    assert await store.get_errors("w") == errors


async def test_scheduled_commands_keep_one_per_name_and_data(store: PostgresPersistence) -> None:
    t = now()
    assert isinstance(store, ScheduledCommandStore)
    await store.schedule_command(
        ScheduledCommand(command_name=CommandName.PROCESS_WORKFLOW, data="w1", execute_time=t)
    )
    await store.schedule_command(
        ScheduledCommand(
            command_name=CommandName.PROCESS_WORKFLOW, data="w1", execute_time=t + timedelta(minutes=1)
        )
    )
    await store.schedule_command(
        ScheduledCommand(
            command_name=CommandName.PROCESS_EVENT, data="e1", execute_time=t + timedelta(hours=1)
        )
    )
    seen: list[ScheduledCommand] = []

    async def handler(command: ScheduledCommand) -> None:
        seen.append(command)

    await store.process_commands(t, handler)
    assert [(c.command_name, c.data, c.execute_time) for c in seen] == [
        (CommandName.PROCESS_WORKFLOW, "w1", t)
    ]
    await store.process_commands(t, handler)
    assert len(seen) == 1


async def test_a_failing_command_handler_leaves_the_command(store: PostgresPersistence) -> None:
    t = now()
    await store.schedule_command(
        ScheduledCommand(command_name=CommandName.PROCESS_EVENT, data="e", execute_time=t)
    )

    async def failing(command: ScheduledCommand) -> None:
        raise RuntimeError("queue down")

    await store.process_commands(t, failing)
    seen: list[str] = []

    async def handler(command: ScheduledCommand) -> None:
        seen.append(command.data)

    await store.process_commands(t, handler)
    assert seen == ["e"]


async def test_times_come_back_in_utc_whatever_the_session_time_zone(pg_url: str, schema: str) -> None:
    sep = "&" if "?" in pg_url else "?"
    tokyo = f"{pg_url}{sep}options=-c%20timezone%3DAsia%2FTokyo"
    store = PostgresPersistence.from_url(tokyo, schema=schema)
    try:
        await store.ensure_store_exists()
        instance = make_instance()
        await store.create_workflow(instance)
        loaded = await store.get_workflow(instance.id)
        assert loaded.create_time == instance.create_time
        assert loaded.create_time.utcoffset() == timedelta(0)
        assert loaded.next_execution is not None and loaded.next_execution.utcoffset() == timedelta(0)
    finally:
        await store.close()


async def test_the_lock_family_is_recorded_once_even_when_hosts_start_together(
    store: PostgresPersistence,
) -> None:
    recorded = await asyncio.gather(*(store.record_lock_family(f"family-{n}") for n in range(5)))
    assert len(set(recorded)) == 1
    assert await store.record_lock_family("another") == recorded[0]
