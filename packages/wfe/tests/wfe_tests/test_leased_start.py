"""A start the host runs at once writes its instance and its lease in one transaction when the persistence and
the lock share a store (``LeasedCreate``): the instance is durable before ``start_workflow`` returns and before
its run begins, so nothing the run writes can reach the store first; otherwise the host makes two writes. The
pass that completes a run releases its lease with it (``ReleasingPersist``)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from wfe import WorkflowBuilder, WorkflowHost, WorkflowHostBuilder, WorkflowStatus
from wfe_core.testing.services import service_url
from wfe_sqlite import SqliteLock

Durable = Callable[[str], Awaitable[bool]]
"""Whether the instance with this id is committed, as another connection to the store sees it."""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[str, Durable]]:
    """A persistence URL (lock and queue follow it) and a check of durability through a connection of its own."""
    if request.param == "sqlite":
        path = tmp_path / "wfe.db"

        async def sqlite_durable(workflow_id: str) -> bool:
            with contextlib.closing(sqlite3.connect(path)) as conn, conn:
                return (
                    conn.execute("SELECT 1 FROM workflows WHERE id = ?", (workflow_id,)).fetchone()
                    is not None
                )

        yield f"sqlite:///{path}", sqlite_durable
        return
    import psycopg

    url = service_url("WFE_TEST_POSTGRES_URL")
    schema = f"wfe_t_{uuid.uuid4().hex[:10]}"

    async def postgres_durable(workflow_id: str) -> bool:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            cur = await conn.execute(f'SELECT 1 FROM "{schema}".workflows WHERE id = %s', (workflow_id,))
            return await cur.fetchone() is not None

    yield f"{url}?schema={schema}", postgres_durable
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def seen_by_steps(durable: Durable, seen: dict[str, bool]) -> Any:
    async def first(ctx: Any) -> None:
        seen[ctx.workflow.id] = await durable(ctx.workflow.id)

    return WorkflowBuilder().then_fn(first).then_fn(lambda ctx: None).build("seen", 1)


def releases_apart(host: WorkflowHost) -> list[str]:
    """The resources of the leases the host's lock releases from now on by a call of their own (not with a
    run's last write), in order."""
    lock: Any = host._runner.leases.lock
    release, apart = lock.release, []

    async def counted_release(lease: Any) -> None:
        apart.append(lease.resource)
        await release(lease)

    lock.release = counted_release
    return apart


async def test_the_instance_is_durable_before_start_returns_and_before_its_run_begins(
    store: tuple[str, Durable],
) -> None:
    url, durable = store
    seen: dict[str, bool] = {}
    host = WorkflowHostBuilder().use_persistence(url).build()
    host.register_workflow(seen_by_steps(durable, seen))
    async with host:
        assert host._runner.creator is not None  # the one-write path is the one under test
        apart = releases_apart(host)
        ids = []
        for _ in range(20):
            workflow_id = await host.start_workflow("seen", 1, {})
            assert await durable(workflow_id)
            ids.append(workflow_id)
        ids.append(await host.start_workflow("seen", 1, {}, workflow_id=f"once-{uuid.uuid4().hex[:8]}"))
        for workflow_id in ids:
            done = await host.wait_for_workflow(workflow_id, timeout=30)
            assert done.status is WorkflowStatus.COMPLETE
        # each run's last pass released its lease in the same commit (ReleasingPersist), none apart
        assert host._runner.releaser is not None
        await asyncio.sleep(0.1)  # a release apart would come as the run ends, after its last write
        assert apart == []
        lock: Any = host._runner.leases.lock
        assert all([await lock.acquire(workflow_id, timedelta(seconds=5)) for workflow_id in ids])
    assert seen == dict.fromkeys(ids, True)


async def test_a_poll_that_reads_a_new_instance_before_its_start_resumes_leaves_it_to_the_run(
    store: tuple[str, Durable],
) -> None:
    """The instance is runnable in the store from its commit, before the start registers the run that holds
    its lease: a poll in between must not queue it (the run would be asked to go round again, and release and
    take the lease once more, for nothing)."""
    url, _ = store
    host: WorkflowHost = WorkflowHostBuilder().use_persistence(url).build()
    host.register_workflow(
        WorkflowBuilder().then_fn(lambda ctx: None).then_fn(lambda ctx: None).build("w", 1)
    )
    async with host:
        consumers: Any = host._consumers
        poll = consumers.poll_once
        consumers.poll_once = _nothing  # the polls are the test's own from here on
        persistence: Any = host._runner.creator
        assert persistence is not None
        write, read = persistence.create_workflow_leased, persistence.get_runnable_instances
        found: list[str] = []

        async def reading(*args: Any, **kwargs: Any) -> Any:
            ids = await read(*args, **kwargs)
            found.extend(ids)
            return ids

        async def then_poll(*args: Any, **kwargs: Any) -> Any:
            written = await write(*args, **kwargs)
            # the poller's lease (the host's own first poll may hold it), so that this poll scans
            await consumers.release_held()
            await poll()  # committed: a poll may read it before this start resumes
            return written

        persistence.get_runnable_instances = reading
        persistence.create_workflow_leased = then_poll
        apart = releases_apart(host)
        queued: list[str] = []
        enqueue = host.queue.enqueue

        async def counting(queue_type: Any, item_id: str) -> None:
            queued.append(item_id)
            await enqueue(queue_type, item_id)

        host.queue.enqueue = counting  # type: ignore[method-assign]
        ids = [await host.start_workflow("w", 1, {}) for _ in range(3)]
        for workflow_id in ids:
            done = await host.wait_for_workflow(workflow_id, timeout=30)
            assert done.status is WorkflowStatus.COMPLETE
        await asyncio.sleep(0.1)
    assert set(ids) <= set(found)  # each poll saw the instance it ran after
    assert queued == []
    assert [resource for resource in apart if resource in ids] == []


async def _nothing() -> None:
    return None


async def test_a_lock_on_another_store_makes_two_writes(tmp_path: Path) -> None:
    seen: dict[str, bool] = {}
    path = tmp_path / "wfe.db"

    async def durable(workflow_id: str) -> bool:
        with contextlib.closing(sqlite3.connect(path)) as conn, conn:
            return conn.execute("SELECT 1 FROM workflows WHERE id = ?", (workflow_id,)).fetchone() is not None

    lock = SqliteLock.from_url(f"sqlite:///{tmp_path}/locks.db")
    host = WorkflowHostBuilder().use_persistence(f"sqlite:///{path}").use_lock(lock).build()
    host.register_workflow(seen_by_steps(durable, seen))
    async with host:
        assert host._runner.creator is None
        workflow_id = await host.start_workflow("seen", 1, {})
        done = await host.wait_for_workflow(workflow_id, timeout=30)
    assert done.status is WorkflowStatus.COMPLETE
    assert seen == {workflow_id: True}


async def test_a_start_cancelled_during_its_write_still_runs_the_instance_at_once(tmp_path: Path) -> None:
    host: WorkflowHost = WorkflowHostBuilder().use_persistence(f"sqlite:///{tmp_path}/wfe.db").build()
    ran: list[str] = []
    host.register_workflow(WorkflowBuilder().then_fn(lambda ctx: ran.append(ctx.workflow.id)).build("w", 1))
    async with host:
        persistence: Any = host.persistence
        write = persistence.create_workflow_leased
        writing, go, written = asyncio.Event(), asyncio.Event(), asyncio.Event()

        async def held_back(*args: Any, **kwargs: Any) -> Any:
            writing.set()
            await go.wait()
            try:
                return await write(*args, **kwargs)
            finally:
                written.set()

        persistence.create_workflow_leased = held_back
        start = asyncio.create_task(host.start_workflow("w", 1, {}, workflow_id="cancelled-1"))
        await writing.wait()
        start.cancel()
        with pytest.raises(asyncio.CancelledError):
            await start
        go.set()
        await written.wait()
        # stored all the same, and run promptly: its lease was released and it was queued, so nothing waits
        # for the lease (30 s) to lapse
        done = await host.wait_for_workflow("cancelled-1", timeout=10)
        assert done.status is WorkflowStatus.COMPLETE
        assert ran == ["cancelled-1"]
