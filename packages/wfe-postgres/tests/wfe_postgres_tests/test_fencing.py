"""Fences from PostgresLock guard PostgresPersistence writes: a stale lease's pass writes nothing."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from wfe_core.errors import LeaseLostError
from wfe_core.models import PointerStatus, WorkflowStatus
from wfe_postgres import PostgresLock, PostgresPersistence

from .instances import make_instance

pytestmark = pytest.mark.postgres


async def test_a_lapsed_lease_cannot_overwrite_the_next_owners_pass(pg_url: str, schema: str) -> None:
    store = PostgresPersistence.from_url(pg_url, schema=schema)
    lock = PostgresLock.from_url(pg_url, schema=schema)
    try:
        await store.ensure_store_exists()
        await lock.start()
        instance = make_instance(pointers=2)
        await store.create_workflow(instance)

        old = await lock.acquire(instance.id, timedelta(seconds=0.2))
        assert old is not None
        await store.persist_workflow(instance, pointers=[], fence=old.fence)
        await asyncio.sleep(0.4)
        new = await lock.acquire(instance.id, timedelta(seconds=30))
        assert new is not None and new.fence > old.fence

        newer = await store.get_workflow(instance.id)
        newer.execution_pointers[0].status = PointerStatus.COMPLETE
        await store.persist_workflow(newer, pointers=newer.execution_pointers[:1], fence=new.fence)

        stale = await store.get_workflow(instance.id)
        stale.status = WorkflowStatus.TERMINATED
        stale.execution_pointers[0].status = PointerStatus.FAILED
        stale.execution_pointers[1].status = PointerStatus.FAILED
        with pytest.raises(LeaseLostError):
            await store.persist_workflow(stale, fence=old.fence)

        stored = await store.get_workflow(instance.id)
        assert stored.status is WorkflowStatus.RUNNABLE
        assert [p.status for p in stored.execution_pointers] == [
            PointerStatus.COMPLETE,
            PointerStatus.PENDING,
        ]
        # the current owner keeps writing, also with the same fence again
        await store.persist_workflow(stored, fence=new.fence)
        await store.persist_workflow(stored)
    finally:
        await store.close()
        await lock.stop()


async def test_fences_keep_growing_across_lock_provider_restarts(pg_url: str, schema: str) -> None:
    first = PostgresLock.from_url(pg_url, schema=schema)
    await first.start()
    lease = await first.acquire("res", timedelta(seconds=30))
    assert lease is not None
    await first.release(lease)
    await first.stop()

    second = PostgresLock.from_url(pg_url, schema=schema)
    try:
        await second.start()
        again = await second.acquire("res", timedelta(seconds=30))
        other = await second.acquire("other-res", timedelta(seconds=30))
        assert again is not None and other is not None
        assert lease.fence < again.fence < other.fence
    finally:
        await second.stop()


async def test_a_held_lease_is_not_taken_by_another_host(pg_url: str, schema: str) -> None:
    host_a = PostgresLock.from_url(pg_url, schema=schema)
    host_b = PostgresLock.from_url(
        f"{pg_url}{'&' if '?' in pg_url else '?'}application_name=host_b", schema=schema
    )
    try:
        await host_a.start()
        await host_b.start()
        lease = await host_a.acquire("wf-1", timedelta(seconds=30))
        assert lease is not None
        assert await host_b.acquire("wf-1", timedelta(seconds=30)) is None
        await host_b.release(lease)  # a release with the right token works from anywhere
        assert await host_b.acquire("wf-1", timedelta(seconds=30)) is not None
    finally:
        await host_a.stop()
        await host_b.stop()
