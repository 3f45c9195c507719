"""ValkeyQueue: the conformance suite plus reliability against lost takers and lost connections."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from wfe_core.errors import QueueError
from wfe_core.models import QueueType
from wfe_core.testing import QueueSlotSuite, QueueSuite
from wfe_valkey import ValkeyQueue
from wfe_valkey_tests.server import kill_connections

pytestmark = pytest.mark.valkey

VISIBILITY = 0.5


class TestValkeyQueueConformance(QueueSuite):
    @pytest.fixture
    async def queue(self, valkey_url: str, prefix: str) -> AsyncIterator[ValkeyQueue]:
        provider = ValkeyQueue.from_url(valkey_url, prefix=prefix, visibility_timeout=self.visibility_timeout)
        await provider.start()
        yield provider
        await provider.stop()


class TestValkeyQueueSlots(QueueSlotSuite):
    @pytest.fixture
    async def queue_slots(self, valkey_url: str, prefix: str) -> AsyncIterator[ValkeyQueue]:
        provider = ValkeyQueue.from_url(valkey_url, prefix=prefix)
        await provider.start()
        yield provider
        await provider.stop()


@pytest.fixture
async def queue(valkey_url: str, prefix: str) -> AsyncIterator[ValkeyQueue]:
    provider = ValkeyQueue.from_url(valkey_url, prefix=prefix, visibility_timeout=VISIBILITY)
    await provider.start()
    yield provider
    await provider.stop()


async def test_an_item_taken_by_a_host_that_died_goes_to_another_host(valkey_url: str, prefix: str) -> None:
    dead = ValkeyQueue.from_url(valkey_url, prefix=prefix, visibility_timeout=VISIBILITY)
    alive = ValkeyQueue.from_url(valkey_url, prefix=prefix, visibility_timeout=VISIBILITY)
    try:
        await dead.enqueue(QueueType.WORKFLOW, "wf-1")
        taken = await dead.dequeue(QueueType.WORKFLOW, timeout=1.0)
        assert taken is not None
        await dead.stop()  # dies without acking
        started = time.monotonic()
        again = await alive.dequeue(QueueType.WORKFLOW, timeout=10.0)
        assert again is not None and again.item_id == "wf-1"
        assert again.receipt != taken.receipt
        # The blocked taker wakes when the delivery's deadline passes, not at the end of its timeout.
        assert time.monotonic() - started < VISIBILITY + 2.0
        await alive.ack(again)
        assert await alive.dequeue(QueueType.WORKFLOW, timeout=VISIBILITY * 2) is None
    finally:
        await dead.stop()
        await alive.stop()


async def test_a_redelivered_item_is_not_doubled_by_a_waiting_enqueue(queue: ValkeyQueue) -> None:
    await queue.enqueue(QueueType.WORKFLOW, "wf-1")
    assert await queue.dequeue(QueueType.WORKFLOW, timeout=1.0) is not None
    await queue.enqueue(QueueType.WORKFLOW, "wf-1")  # waiting again while the first delivery lapses
    await asyncio.sleep(VISIBILITY + 0.1)
    again = await queue.dequeue(QueueType.WORKFLOW, timeout=1.0)
    assert again is not None and again.item_id == "wf-1"
    await queue.ack(again)
    assert await queue.dequeue(QueueType.WORKFLOW, timeout=0.2) is None


async def test_redelivered_items_come_before_newer_ones(queue: ValkeyQueue) -> None:
    await queue.enqueue(QueueType.WORKFLOW, "old")
    assert await queue.dequeue(QueueType.WORKFLOW, timeout=1.0) is not None
    await queue.enqueue(QueueType.WORKFLOW, "new")
    await asyncio.sleep(VISIBILITY + 0.1)
    first = await queue.dequeue(QueueType.WORKFLOW, timeout=1.0)
    second = await queue.dequeue(QueueType.WORKFLOW, timeout=1.0)
    assert first is not None and second is not None
    assert (first.item_id, second.item_id) == ("old", "new")


async def test_dequeue_with_zero_timeout_does_not_block(queue: ValkeyQueue) -> None:
    started = time.monotonic()
    assert await queue.dequeue(QueueType.EVENT, timeout=0) is None
    assert time.monotonic() - started < 1.0


async def test_many_blocked_takers_each_get_one_of_many_items(queue: ValkeyQueue) -> None:
    takers = [asyncio.create_task(queue.dequeue(QueueType.WORKFLOW, timeout=5.0)) for _ in range(5)]
    await asyncio.sleep(0.1)
    for n in range(5):
        await queue.enqueue(QueueType.WORKFLOW, f"wf-{n}")
    items = await asyncio.wait_for(asyncio.gather(*takers), timeout=5.0)
    assert sorted(item.item_id for item in items if item is not None) == [f"wf-{n}" for n in range(5)]


async def test_keys_live_under_the_prefix_per_queue_type(
    queue: ValkeyQueue, admin: Redis, prefix: str
) -> None:
    await queue.enqueue(QueueType.INDEX, "wf-1")
    assert await admin.lrange(f"{prefix}:queue:index:ready", 0, -1) == ["wf-1"]
    assert await admin.smembers(f"{prefix}:queue:index:waiting") == {"wf-1"}
    item = await queue.dequeue(QueueType.INDEX, timeout=1.0)
    assert item is not None
    assert await admin.zscore(f"{prefix}:queue:index:inflight", item.receipt) is not None
    await queue.ack(item)
    assert await admin.zcard(f"{prefix}:queue:index:inflight") == 0


async def test_operations_survive_a_dropped_connection(valkey_url: str, prefix: str, admin: Redis) -> None:
    name = f"{prefix}-client"
    queue = ValkeyQueue.from_url(f"{valkey_url}?client_name={name}", prefix=prefix, visibility_timeout=30)
    try:
        await queue.enqueue(QueueType.WORKFLOW, "wf-1")
        killed = await kill_connections(admin, name)
        assert killed >= 1
        await queue.enqueue(QueueType.WORKFLOW, "wf-2")
        await kill_connections(admin, name)
        first = await queue.dequeue(QueueType.WORKFLOW, timeout=1.0)
        await kill_connections(admin, name)
        second = await queue.dequeue(QueueType.WORKFLOW, timeout=1.0)
        assert first is not None and second is not None
        assert [first.item_id, second.item_id] == ["wf-1", "wf-2"]
    finally:
        await queue.stop()


async def test_enqueue_raises_queue_error_when_the_server_stays_away(prefix: str) -> None:
    queue = ValkeyQueue.from_url("valkey://127.0.0.1:1/0", prefix=prefix, retry_timeout=0.3)
    try:
        with pytest.raises(QueueError, match="unreachable") as raised:
            await queue.enqueue(QueueType.WORKFLOW, "wf-1")
        assert raised.value.__cause__ is not None
        with pytest.raises(QueueError):
            await queue.dequeue(QueueType.WORKFLOW, timeout=0.1)
    finally:
        await queue.stop()


async def test_visibility_timeout_must_be_positive() -> None:
    with pytest.raises(ValueError, match="visibility_timeout"):
        ValkeyQueue(visibility_timeout=0)


async def test_a_client_without_decoded_responses_works_too(valkey_url: str, prefix: str) -> None:
    client = Redis.from_url(valkey_url)
    queue = ValkeyQueue(client=client, prefix=prefix, visibility_timeout=VISIBILITY)
    try:
        await queue.enqueue(QueueType.WORKFLOW, "wf-1")
        item = await queue.dequeue(QueueType.WORKFLOW, timeout=1.0)
        assert item is not None and item.item_id == "wf-1"
        await queue.ack(item)
        await queue.stop()
        assert await client.ping()  # a client handed in is not closed by stop()
    finally:
        await client.aclose()
