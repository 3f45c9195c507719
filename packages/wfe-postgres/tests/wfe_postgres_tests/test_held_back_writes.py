"""A fenced write held back by group commit is checked against its lease as it is sent, not only when asked for.

A claim or pass asked for while a batch is in flight waits for the next batch. A host frozen meanwhile (SIGSTOP
past its lease) sent it once thawed, with the fence of a lease that had lapsed: nobody had claimed a newer fence
yet, so fencing let it land. The writes here are held back the same way (the batch ahead of them waits on a row
lock the test holds) while their lease "lapses"; the store must then refuse them and write nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
import pytest
from psycopg import sql

from wfe_core.errors import LeaseLostError
from wfe_core.write_guard import guarded_writes
from wfe_postgres import PostgresPersistence

from .instances import make_instance

pytestmark = pytest.mark.postgres


async def _blocked_behind_row_lock(
    pg_url: str, schema: str, blocker_id: str, ahead: Callable[[], Awaitable[Any]]
) -> tuple[psycopg.AsyncConnection[Any], asyncio.Task[Any]]:
    """Start ``ahead`` (a write of ``blocker_id``) while another transaction holds that row: its batch is in
    flight and waits. Returns the connection holding the row (roll it back to let the batch go) and the task."""
    holder = await psycopg.AsyncConnection.connect(pg_url)
    await holder.execute(
        sql.SQL("SELECT id FROM {} WHERE id = %s FOR UPDATE").format(sql.Identifier(schema, "workflows")),
        (blocker_id,),
    )
    task = asyncio.create_task(ahead())
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as watcher:
        for _ in range(500):
            cur = await watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock' AND query LIKE %s",
                (f"%{schema}%",),
            )
            row = await cur.fetchone()
            if row is not None and row[0] > 0:
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("the batch ahead never waited on the row lock")
    return holder, task


@pytest.mark.parametrize("kind", ["claim", "pass"])
async def test_a_write_held_back_past_its_lease_is_not_sent(pg_url: str, schema: str, kind: str) -> None:
    store = PostgresPersistence.from_url(pg_url, schema=schema)
    try:
        await store.ensure_store_exists()
        blocker, held_back = make_instance(), make_instance()
        await store.create_workflow(blocker)
        await store.create_workflow(held_back)
        await store.persist_workflow(held_back, fence=1)

        async def ahead() -> None:
            if kind == "claim":
                await store.claim_workflow(blocker.id, 1)
            else:
                await store.persist_workflow(blocker, fence=1)

        holder, ahead_task = await _blocked_behind_row_lock(pg_url, schema, blocker.id, ahead)
        lease_held = True

        def check() -> None:
            if not lease_held:
                raise LeaseLostError(held_back.id, "lapsed while the write was held back")

        try:
            with guarded_writes(check):  # the host's check passes now, as the write is asked for
                if kind == "claim":
                    write = asyncio.create_task(store.claim_workflow(held_back.id, 2))
                else:
                    held_back.description = "written after the lease lapsed"
                    write = asyncio.create_task(store.persist_workflow(held_back, fence=1))
            await asyncio.sleep(0.1)
            assert not write.done(), "the write was not held back behind the batch in flight"
            lease_held = False  # the host froze here, past its lease
        finally:
            await holder.rollback()
            await holder.close()
        await ahead_task
        with pytest.raises(LeaseLostError, match="lapsed while the write was held back"):
            await write

        async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
            cur = await conn.execute(
                sql.SQL("SELECT fence, description FROM {} WHERE id = %s").format(
                    sql.Identifier(schema, "workflows")
                ),
                (held_back.id,),
            )
            assert await cur.fetchone() == (1, None)
    finally:
        await store.close()
