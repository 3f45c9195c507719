"""LISTEN/NOTIFY: an enqueue on another host wakes an idle dequeue long before the poll fallback."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from psycopg_pool import AsyncConnectionPool

from wfe_core.models import QueueType
from wfe_postgres import PostgresQueue

pytestmark = pytest.mark.postgres

POLL_FALLBACK = 10.0


async def test_enqueue_from_another_provider_wakes_a_blocked_dequeue(pg_url: str, schema: str) -> None:
    taker_queue = PostgresQueue.from_url(pg_url, schema=schema, poll_interval=POLL_FALLBACK)
    # the enqueuer has a pool of its own, as another host would
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(pg_url, min_size=1, max_size=1, open=False)
    await pool.open()
    enqueuer = PostgresQueue.from_pool(pool, schema=schema)
    try:
        await taker_queue.start()
        await enqueuer.start()
        latencies = []
        for n in range(3):
            taker = asyncio.create_task(taker_queue.dequeue(QueueType.WORKFLOW, timeout=POLL_FALLBACK * 2))
            await asyncio.sleep(0.3)
            assert not taker.done()
            started = time.monotonic()
            await enqueuer.enqueue(QueueType.WORKFLOW, f"w{n}")
            item = await asyncio.wait_for(taker, timeout=POLL_FALLBACK * 3)
            latencies.append(time.monotonic() - started)
            assert item is not None and item.item_id == f"w{n}"
            await taker_queue.ack(item)
        assert max(latencies) < 0.5, latencies
    finally:
        await taker_queue.stop()
        await enqueuer.stop()
        await pool.close()


async def test_a_notify_for_another_queue_does_not_hand_out_its_item(pg_url: str, schema: str) -> None:
    queue = PostgresQueue.from_url(pg_url, schema=schema, poll_interval=POLL_FALLBACK)
    try:
        await queue.start()
        taker = asyncio.create_task(queue.dequeue(QueueType.EVENT, timeout=0.8))
        await asyncio.sleep(0.1)
        await queue.enqueue(QueueType.INDEX, "i1")
        assert await taker is None
        item = await queue.dequeue(QueueType.INDEX, timeout=1.0)
        assert item is not None and item.item_id == "i1"
    finally:
        await queue.stop()


async def test_an_empty_dequeue_waits_its_timeout_not_the_poll_interval(pg_url: str, schema: str) -> None:
    queue = PostgresQueue.from_url(pg_url, schema=schema, poll_interval=POLL_FALLBACK)
    try:
        await queue.start()
        started = time.monotonic()
        assert await queue.dequeue(QueueType.WORKFLOW, timeout=0.3) is None
        assert 0.25 < time.monotonic() - started < 1.5
    finally:
        await queue.stop()


async def test_stop_ends_a_waiting_dequeue_and_closes_the_pool(pg_url: str, schema: str) -> None:
    queue = PostgresQueue.from_url(pg_url, schema=schema, poll_interval=POLL_FALLBACK)
    await queue.start()
    entry = await queue._pool.entry()
    taker = asyncio.create_task(queue.dequeue(QueueType.WORKFLOW, timeout=POLL_FALLBACK * 2))
    await asyncio.sleep(0.2)
    await queue.stop()
    assert await asyncio.wait_for(taker, timeout=2.0) is None
    assert entry.pool.closed
