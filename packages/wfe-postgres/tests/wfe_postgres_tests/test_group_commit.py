"""Group commit: writes asked for together share statements, yet each keeps its own outcome."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from psycopg import sql

from wfe_core.errors import LeaseLostError, PersistenceError, WorkflowNotFoundError
from wfe_core.models import EventSubscription, PointerStatus, WorkflowInstance, WorkflowStatus
from wfe_postgres import PostgresLock, PostgresPersistence
from wfe_postgres._group_commit import GroupCommit

from .instances import make_instance, now

pytestmark = pytest.mark.postgres


async def test_concurrent_starts_are_numbered_without_gaps_or_duplicates(store: PostgresPersistence) -> None:
    named = make_instance("pizza")
    named.name = "my-own-name"
    instances = [make_instance("pizza" if n % 2 else "salad", pointers=2) for n in range(60)] + [named]
    await asyncio.gather(*(store.create_workflow(i) for i in instances))
    await asyncio.gather(*(store.create_workflow(make_instance("pizza")) for _ in range(5)))
    pizzas = sorted(
        int(i.name.rsplit("-", 1)[1])
        for i in await store.list_workflows(definition_id="pizza", take=1000)
        if i.name != "my-own-name"
    )
    salads = sorted(int(i.name.rsplit("-", 1)[1]) for i in await store.list_workflows(definition_id="salad"))
    assert pizzas == list(range(1, 36))
    assert salads == list(range(1, 31))
    for instance in instances:
        stored = await store.get_workflow(instance.id)
        assert stored.name == instance.name
        assert [p.id for p in stored.execution_pointers] == [p.id for p in instance.execution_pointers]


async def test_a_refused_write_fails_only_its_own_caller(store: PostgresPersistence) -> None:
    instances = [make_instance() for _ in range(20)]
    await asyncio.gather(*(store.create_workflow(i) for i in instances))
    stale, missing = instances[3], make_instance()
    missing.id = "never-created"
    await store.claim_workflow(stale.id, 50)
    for instance in instances:
        instance.status = WorkflowStatus.COMPLETE
        instance.execution_pointers[0].status = PointerStatus.COMPLETE
    outcomes = await asyncio.gather(
        *(store.persist_workflow(i, fence=10) for i in instances),
        store.persist_workflow(missing, fence=10),
        return_exceptions=True,
    )
    assert isinstance(outcomes[3], LeaseLostError)
    assert isinstance(outcomes[-1], WorkflowNotFoundError)
    assert [o for n, o in enumerate(outcomes[:-1]) if n != 3] == [[]] * 19
    for n, instance in enumerate(instances):
        stored = await store.get_workflow(instance.id)
        expected = WorkflowStatus.RUNNABLE if n == 3 else WorkflowStatus.COMPLETE
        assert stored.status is expected
        assert stored.execution_pointers[0].status is (
            PointerStatus.PENDING if n == 3 else PointerStatus.COMPLETE
        )


async def test_data_the_database_rejects_fails_only_that_instance(store: PostgresPersistence) -> None:
    instances = [make_instance() for _ in range(10)]
    await asyncio.gather(*(store.create_workflow(i) for i in instances))
    for instance in instances:
        instance.data = {"value": 8}
    instances[5].data = {"text": "a NUL \u0000 jsonb cannot hold"}
    outcomes = await asyncio.gather(*(store.persist_workflow(i) for i in instances), return_exceptions=True)
    assert isinstance(outcomes[5], PersistenceError)
    assert [o for n, o in enumerate(outcomes) if n != 5] == [[]] * 9
    assert (await store.get_workflow(instances[5].id)).data == {"value": 7}
    assert (await store.get_workflow(instances[4].id)).data == {"value": 8}


async def test_subscriptions_of_many_passes_are_written_together(store: PostgresPersistence) -> None:
    instances: list[WorkflowInstance] = [make_instance() for _ in range(8)]
    await asyncio.gather(*(store.create_workflow(i) for i in instances))
    subscriptions = [
        EventSubscription(
            workflow_id=i.id,
            step_id=0,
            execution_pointer_id=i.execution_pointers[0].id,
            event_name="paid",
            event_key=str(n),
            subscribe_as_of=now(),
            subscription_data={"n": n},
        )
        for n, i in enumerate(instances)
    ]
    await asyncio.gather(
        *(
            store.persist_workflow(i, pointers=[], subscriptions=[s])
            for i, s in zip(instances, subscriptions, strict=True)
        )
    )
    for n, subscription in enumerate(subscriptions):
        [found] = await store.get_subscriptions("paid", str(n), now() + timedelta(seconds=1))
        assert found == subscription


async def test_concurrent_acquires_each_get_a_fence_and_one_holder(pg_url: str, schema: str) -> None:
    lock = PostgresLock.from_url(pg_url, schema=schema)
    await lock.start()
    try:
        leases = await asyncio.gather(*(lock.acquire(f"r{n % 10}", timedelta(seconds=30)) for n in range(40)))
        held = [lease for lease in leases if lease is not None]
        assert sorted(lease.resource for lease in held) == [f"r{n}" for n in range(10)]
        assert len({lease.fence for lease in held}) == 10
        await asyncio.gather(*(lock.release(lease) for lease in held))
        again = await asyncio.gather(*(lock.acquire(f"r{n}", timedelta(seconds=30)) for n in range(10)))
        assert all(lease is not None for lease in again)
        assert min(lease.fence for lease in again if lease) > max(lease.fence for lease in held)
    finally:
        await lock.stop()


async def test_group_commit_batches_under_load_and_keeps_order_per_key() -> None:
    batches: list[list[tuple[str, int]]] = []
    release = asyncio.Event()

    async def write_batch(items: Sequence[tuple[str, int]]) -> list[int | BaseException]:
        batches.append(list(items))
        await release.wait()
        return [value for _, value in items]

    commit: GroupCommit[tuple[str, int], int] = GroupCommit(write_batch)
    first = asyncio.ensure_future(commit.write(("a", 0), "a"))
    await asyncio.sleep(0)
    later = [asyncio.ensure_future(commit.write((key, n), key)) for n, key in enumerate("abcab", start=1)]
    await asyncio.sleep(0)
    release.set()
    assert await first == 0
    assert await asyncio.gather(*later) == [1, 2, 3, 4, 5]
    # the first item went alone; the next batch took one item per key, the rest waited for the one after
    assert batches == [[("a", 0)], [("a", 1), ("b", 2), ("c", 3)], [("a", 4), ("b", 5)]]


def test_a_group_commit_left_behind_by_another_loop_works_in_the_next() -> None:
    stuck = asyncio.Event()

    async def write_batch(items: Sequence[int]) -> list[int | BaseException]:
        if items == [1]:
            await stuck.wait()  # never set: this batch stays in flight in the first loop
        return [item * 2 for item in items]

    commit: GroupCommit[int, int] = GroupCommit(write_batch)
    first = asyncio.new_event_loop()
    left = first.create_task(commit.write(1, 1))
    first.run_until_complete(asyncio.sleep(0.01))  # the first loop stops with its batch in flight
    try:
        assert asyncio.run(asyncio.wait_for(commit.write(2, 2), timeout=5)) == 4
    finally:
        leftovers = asyncio.all_tasks(first) | {left}
        for task in leftovers:
            task.cancel()
        first.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
        first.close()


def held_back() -> tuple[GroupCommit[int, int], list[int], asyncio.Event]:
    """A group commit whose batches wait for the event before they are written (to the list)."""
    written: list[int] = []
    release = asyncio.Event()

    async def write_batch(items: Sequence[int]) -> list[int | BaseException]:
        await release.wait()
        written.extend(items)
        return list(items)

    return GroupCommit(write_batch), written, release


async def test_a_cancelled_caller_leaves_its_item_in_the_batch() -> None:
    commit, written, release = held_back()
    in_flight = asyncio.ensure_future(commit.write(1, 1))
    await asyncio.sleep(0)
    waiting = asyncio.ensure_future(commit.write(2, 2))  # waits for the next batch
    await asyncio.sleep(0)
    in_flight.cancel()
    waiting.cancel()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await in_flight
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert await commit.write(3, 3) == 3
    assert written == [1, 2, 3]


async def test_settle_returns_once_every_item_handed_over_is_written() -> None:
    commit, written, release = held_back()
    assert await commit.settle()  # nothing handed over: at once
    callers = [asyncio.ensure_future(commit.write(n, n)) for n in (1, 2)]
    await asyncio.sleep(0)
    for caller in callers:
        caller.cancel()  # the items stay in their batches
    assert not await commit.settle(timeout=0.05)  # bounded: the writes are still in flight, and go on
    settling = asyncio.ensure_future(commit.settle())
    await asyncio.sleep(0.05)
    assert not settling.done()
    release.set()
    assert await asyncio.wait_for(settling, timeout=5)
    assert written == [1, 2]


async def test_a_stopped_lock_has_written_the_acquire_of_a_cancelled_caller(pg_url: str, schema: str) -> None:
    """A host's poller cancelled by ``stop()`` while its acquire waits in a batch: the acquire is written all
    the same, and ``stop()`` returns only after it, so no statement of the provider runs on after it."""
    lock = PostgresLock.from_url(pg_url, schema=schema)
    await lock.start()
    entered, release = asyncio.Event(), asyncio.Event()
    commit = lock._acquires
    write_batch = commit._write_batch

    async def held_back(items: Sequence[Any]) -> list[int | None | BaseException]:
        entered.set()
        await release.wait()
        return await write_batch(items)

    commit._write_batch = held_back
    caller = asyncio.ensure_future(lock.acquire("held", timedelta(seconds=30)))
    await asyncio.wait_for(entered.wait(), timeout=5)
    caller.cancel()
    stopping = asyncio.ensure_future(lock.stop())
    await asyncio.sleep(0.1)
    assert not stopping.done()
    release.set()
    await asyncio.wait_for(stopping, timeout=10)
    async with await psycopg.AsyncConnection.connect(pg_url) as conn:
        cursor = await conn.execute(sql.SQL("SELECT resource FROM {}.locks").format(sql.Identifier(schema)))
        assert [row[0] for row in await cursor.fetchall()] == ["held"]
