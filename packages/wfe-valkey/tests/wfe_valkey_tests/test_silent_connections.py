"""Connections that go silent without an error (dropped NAT entries, failovers behind one address)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from wfe_core.models import LifecycleEvent, QueueType, WorkflowStarted
from wfe_valkey import ValkeyLifecycleHub, ValkeyLock, ValkeyQueue
from wfe_valkey_tests.blackhole import BlackholeProxy

pytestmark = pytest.mark.valkey

REPLY_TIMEOUT = 0.5


@pytest.fixture
async def proxy(valkey_url: str) -> AsyncIterator[BlackholeProxy]:
    proxy = BlackholeProxy(valkey_url)
    await proxy.start()
    yield proxy
    await proxy.stop()


async def test_a_queue_call_on_a_silent_connection_is_retried_on_a_new_one(
    proxy: BlackholeProxy, prefix: str
) -> None:
    queue = ValkeyQueue.from_url(proxy.url, prefix=prefix, reply_timeout=REPLY_TIMEOUT)
    try:
        await queue.enqueue(QueueType.WORKFLOW, "wf-1")
        assert proxy.blackhole_open_connections() >= 1
        started = time.monotonic()
        await queue.enqueue(QueueType.WORKFLOW, "wf-2")
        assert REPLY_TIMEOUT <= time.monotonic() - started < REPLY_TIMEOUT + 2
        items = [await queue.dequeue(QueueType.WORKFLOW, timeout=1.0) for _ in range(2)]
        assert [item.item_id for item in items if item is not None] == ["wf-1", "wf-2"]
    finally:
        await queue.stop()


async def test_a_blocked_dequeue_on_a_silent_connection_recovers(proxy: BlackholeProxy, prefix: str) -> None:
    queue = ValkeyQueue.from_url(proxy.url, prefix=prefix, reply_timeout=REPLY_TIMEOUT)
    try:
        taker = asyncio.create_task(queue.dequeue(QueueType.WORKFLOW, timeout=3.0))
        await asyncio.sleep(0.2)
        proxy.blackhole_open_connections()
        await queue.enqueue(QueueType.WORKFLOW, "wf-1")  # on a fresh connection
        started = time.monotonic()
        item = await asyncio.wait_for(taker, timeout=10)
        assert item is not None and item.item_id == "wf-1"
        # Bounded by the wait plus the reply timeout: the broken wait is abandoned, not retried.
        assert time.monotonic() - started < 3.0 + REPLY_TIMEOUT + 1.0
    finally:
        await queue.stop()


async def test_a_renewal_that_gets_no_answer_reports_the_lease_lost(
    proxy: BlackholeProxy, prefix: str
) -> None:
    lock = ValkeyLock.from_url(proxy.url, prefix=prefix, reply_timeout=5.0, retry_timeout=5.0)
    try:
        lease = await lock.acquire("wf-1", timedelta(seconds=30))
        assert lease is not None
        proxy.blackhole_open_connections()
        started = time.monotonic()
        assert await lock.renew(lease, timedelta(seconds=1)) is None
        # Half the ttl, not the 5 s budgets: an answer after that could come when the lease already lapsed.
        assert time.monotonic() - started < 2.0
    finally:
        await lock.stop()


async def test_a_silent_subscription_is_noticed_by_ping_and_resubscribed(
    proxy: BlackholeProxy, valkey_url: str, prefix: str
) -> None:
    listener = ValkeyLifecycleHub.from_url(
        proxy.url, prefix=prefix, reply_timeout=REPLY_TIMEOUT, health_check_interval=0.3
    )
    publisher = ValkeyLifecycleHub.from_url(valkey_url, prefix=prefix)
    received: list[LifecycleEvent] = []
    listener.subscribe(received.append)
    await listener.start()
    await publisher.start()
    try:
        assert proxy.blackhole_open_connections() >= 1
        async with asyncio.timeout(10):
            while not received:
                await publisher.publish(
                    WorkflowStarted(workflow_id="after", definition_id="d", version=1, time=datetime.now(UTC))
                )
                await asyncio.sleep(0.1)
        assert received[0].workflow_id == "after"
    finally:
        await listener.stop()
        await publisher.stop()
