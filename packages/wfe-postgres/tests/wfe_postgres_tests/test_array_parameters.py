"""Ids, tokens and fences travel to the batched statements as array literals: any text survives them."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from wfe_core.models import PointerStatus, QueueType, WorkflowStatus
from wfe_postgres._arrays import number_array, text_array

from .conftest import open_providers
from .instances import make_instance

pytestmark = pytest.mark.postgres

AWKWARD = [
    "plain",
    'quote"d',
    "back\\slash",
    "comma,and space",
    "{braces}",
    "NULL",
    "",
    "ünï©ødé",
    "it's",
    "a\nb",
]


async def test_literals_read_back_as_the_values_given(pg_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT %s::text[], %s::bigint[], %s::float8[]",
            (text_array(AWKWARD), number_array([0, -1, 2**63 - 1]), number_array([60.0, 0.25, 1e-06])),
        )
        assert await cur.fetchone() == (AWKWARD, [0, -1, 2**63 - 1], [60.0, 0.25, 1e-06])
        cur = await conn.execute("SELECT %s::text[]", (text_array([]),))
        assert await cur.fetchone() == ([],)


async def test_awkward_ids_go_through_every_batched_statement(pg_url: str, schema: str) -> None:
    persistence, lock, queue = await open_providers(pg_url, schema)
    try:
        for n, awkward in enumerate(AWKWARD):
            instance = make_instance("awkward")
            instance.id = f"{awkward}-{n}"
            await persistence.create_workflow(instance)
            lease = await lock.acquire(instance.id, timedelta(minutes=1))
            assert lease is not None
            await persistence.claim_workflow(instance.id, lease.fence)
            loaded = await persistence.get_workflow(instance.id)
            assert loaded.id == instance.id
            assert [i.id for i in await persistence.get_workflows([instance.id])] == [instance.id]
            loaded.execution_pointers[0].status = PointerStatus.COMPLETE
            loaded.status = WorkflowStatus.COMPLETE
            await persistence.persist_workflow_released(loaded, lock, lease, fence=lease.fence)
            assert (await persistence.get_workflow(instance.id)).status is WorkflowStatus.COMPLETE
            assert await lock.acquire(instance.id, timedelta(minutes=1)) is not None  # released with the pass
            await queue.enqueue(QueueType.WORKFLOW, instance.id)
            item = await queue.dequeue(QueueType.WORKFLOW, timeout=5)
            assert item is not None and item.item_id == instance.id
            await queue.ack(item)
            assert await queue.pending(QueueType.WORKFLOW) == 0
            started = make_instance("awkward")
            started.id = f"{awkward}-started-{n}"
            created, leased = await persistence.create_workflow_leased(started, lock, timedelta(minutes=1))
            assert created and leased is not None and leased.resource == started.id
            await lock.release(leased)
            assert await lock.acquire(started.id, timedelta(minutes=1)) is not None
    finally:
        await queue.stop()
        await lock.stop()
        await persistence.close()
