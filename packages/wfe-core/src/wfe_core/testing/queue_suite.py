"""QueueSuite: the conformance tests every ``QueueProvider`` runs against itself."""

from __future__ import annotations

import asyncio
import time

import pytest

from wfe_core.models import QueueItem, QueueType, new_id
from wfe_core.protocols import QueueProvider


class QueueSuite:
    """Conformance tests for a ``QueueProvider``.

    Subclass it in a class whose name starts with ``Test`` and provide an async fixture ``queue`` that yields
    a started provider built with ``visibility_timeout=self.visibility_timeout`` (0.5 s) whose queues no
    other test sees (its own key prefix, schema, ...), and stops it afterwards. Works for blocking and
    non-blocking providers: the suite polls non-blocking ones.

    Example::

        class TestMyQueue(QueueSuite):
            @pytest.fixture
            async def queue(self):
                provider = MyQueue(prefix=unique_prefix(), visibility_timeout=self.visibility_timeout)
                await provider.start()
                yield provider
                await provider.stop()
    """

    pytestmark = pytest.mark.asyncio

    visibility_timeout: float = 0.5
    empty_wait: float = 0.2
    """How long the suite waits before concluding that a queue is empty."""

    @staticmethod
    def item() -> str:
        return f"item-{new_id()}"

    async def take(self, queue: QueueProvider, queue_type: QueueType, within: float) -> QueueItem | None:
        """Dequeue, waiting up to ``within`` seconds (polling when the provider does not block)."""
        end = time.monotonic() + within
        while True:
            remaining = end - time.monotonic()
            item = await queue.dequeue(queue_type, timeout=max(0.0, min(remaining, 1.0)))
            if item is not None or remaining <= 0:
                return item
            if not queue.is_dequeue_blocking:
                await asyncio.sleep(0.02)

    async def drain_ids(self, queue: QueueProvider, queue_type: QueueType) -> list[str]:
        ids: list[str] = []
        while (item := await self.take(queue, queue_type, self.empty_wait)) is not None:
            ids.append(item.item_id)
            await queue.ack(item)
        return ids

    async def test_items_come_out_in_fifo_order(self, queue: QueueProvider) -> None:
        ids = [self.item() for _ in range(3)]
        for item_id in ids:
            await queue.enqueue(QueueType.WORKFLOW, item_id)
        assert await self.drain_ids(queue, QueueType.WORKFLOW) == ids

    async def test_empty_queue_returns_none_within_the_timeout(self, queue: QueueProvider) -> None:
        started = time.monotonic()
        assert await queue.dequeue(QueueType.WORKFLOW, timeout=self.empty_wait) is None
        assert time.monotonic() - started < self.empty_wait + 1.0

    async def test_dequeue_returns_the_item_with_its_queue(self, queue: QueueProvider) -> None:
        item_id = self.item()
        await queue.enqueue(QueueType.EVENT, item_id)
        item = await self.take(queue, QueueType.EVENT, 2.0)
        assert item is not None
        assert (item.queue, item.item_id) == (QueueType.EVENT, item_id)
        assert item.receipt
        await queue.ack(item)

    async def test_queues_are_independent(self, queue: QueueProvider) -> None:
        ids = {queue_type: self.item() for queue_type in QueueType}
        for queue_type, item_id in ids.items():
            await queue.enqueue(queue_type, item_id)
        for queue_type in reversed(list(QueueType)):
            assert await self.drain_ids(queue, queue_type) == [ids[queue_type]]

    async def test_index_queue_is_isolated(self, queue: QueueProvider) -> None:
        item_id = self.item()
        await queue.enqueue(QueueType.INDEX, item_id)
        assert await self.take(queue, QueueType.WORKFLOW, self.empty_wait) is None
        assert await self.take(queue, QueueType.EVENT, self.empty_wait) is None
        assert await self.drain_ids(queue, QueueType.INDEX) == [item_id]

    async def test_an_id_already_waiting_is_not_added_again(self, queue: QueueProvider) -> None:
        a, b = self.item(), self.item()
        await queue.enqueue(QueueType.WORKFLOW, a)
        await queue.enqueue(QueueType.WORKFLOW, b)
        await queue.enqueue(QueueType.WORKFLOW, a)
        assert await self.drain_ids(queue, QueueType.WORKFLOW) == [a, b]

    async def test_a_taken_id_may_be_enqueued_again(self, queue: QueueProvider) -> None:
        item_id = self.item()
        await queue.enqueue(QueueType.WORKFLOW, item_id)
        first = await self.take(queue, QueueType.WORKFLOW, 2.0)
        assert first is not None
        await queue.enqueue(QueueType.WORKFLOW, item_id)
        second = await self.take(queue, QueueType.WORKFLOW, 2.0)
        assert second is not None and second.item_id == item_id
        await queue.ack(first)
        await queue.ack(second)

    async def test_an_unacked_item_is_delivered_again_after_the_visibility_timeout(
        self, queue: QueueProvider
    ) -> None:
        item_id = self.item()
        await queue.enqueue(QueueType.WORKFLOW, item_id)
        first = await self.take(queue, QueueType.WORKFLOW, 2.0)
        assert first is not None
        assert await self.take(queue, QueueType.WORKFLOW, self.visibility_timeout / 4) is None
        again = await self.take(queue, QueueType.WORKFLOW, self.visibility_timeout * 4)
        assert again is not None and again.item_id == item_id
        await queue.ack(again)
        assert await self.take(queue, QueueType.WORKFLOW, self.visibility_timeout * 2) is None

    async def test_an_acked_item_is_not_delivered_again(self, queue: QueueProvider) -> None:
        await queue.enqueue(QueueType.WORKFLOW, self.item())
        item = await self.take(queue, QueueType.WORKFLOW, 2.0)
        assert item is not None
        await queue.ack(item)
        await queue.ack(item)
        assert await self.take(queue, QueueType.WORKFLOW, self.visibility_timeout * 2) is None

    async def test_a_late_ack_does_not_remove_the_redelivery(self, queue: QueueProvider) -> None:
        item_id = self.item()
        await queue.enqueue(QueueType.WORKFLOW, item_id)
        stale = await self.take(queue, QueueType.WORKFLOW, 2.0)
        assert stale is not None
        await asyncio.sleep(self.visibility_timeout + 0.2)
        await queue.ack(stale)
        again = await self.take(queue, QueueType.WORKFLOW, self.visibility_timeout * 4)
        assert again is not None and again.item_id == item_id
        await queue.ack(again)

    async def test_acking_a_taken_item_keeps_its_newer_enqueue(self, queue: QueueProvider) -> None:
        item_id = self.item()
        await queue.enqueue(QueueType.WORKFLOW, item_id)
        taken = await self.take(queue, QueueType.WORKFLOW, 2.0)
        assert taken is not None
        await queue.enqueue(QueueType.WORKFLOW, item_id)
        await queue.ack(taken)
        assert await self.drain_ids(queue, QueueType.WORKFLOW) == [item_id]

    async def test_twenty_items_drain_in_order(self, queue: QueueProvider) -> None:
        ids = [self.item() for _ in range(20)]
        for item_id in ids:
            await queue.enqueue(QueueType.EVENT, item_id)
        assert await self.drain_ids(queue, QueueType.EVENT) == ids
        assert await queue.dequeue(QueueType.EVENT, timeout=0.05) is None

    async def test_blocking_dequeue_wakes_promptly_on_enqueue(self, queue: QueueProvider) -> None:
        if not queue.is_dequeue_blocking:
            pytest.skip("the provider's dequeue does not block")
        item_id = self.item()
        taker = asyncio.create_task(queue.dequeue(QueueType.WORKFLOW, timeout=10.0))
        await asyncio.sleep(0.1)
        assert not taker.done()
        started = time.monotonic()
        await queue.enqueue(QueueType.WORKFLOW, item_id)
        item = await asyncio.wait_for(taker, timeout=5.0)
        assert item is not None and item.item_id == item_id
        assert time.monotonic() - started < 1.0
        await queue.ack(item)

    async def test_concurrent_takers_never_share_a_waiting_item(self, queue: QueueProvider) -> None:
        ids = [self.item() for _ in range(20)]
        for item_id in ids:
            await queue.enqueue(QueueType.WORKFLOW, item_id)

        async def taker() -> list[str]:
            return await self.drain_ids(queue, QueueType.WORKFLOW)

        taken = await asyncio.gather(*(taker() for _ in range(5)))
        flat = [item_id for ids_of_one in taken for item_id in ids_of_one]
        assert sorted(flat) == sorted(ids)

    async def test_is_dequeue_blocking_is_stable(self, queue: QueueProvider) -> None:
        first = queue.is_dequeue_blocking
        assert isinstance(first, bool)
        assert queue.is_dequeue_blocking == first

    async def test_start_and_stop_are_idempotent_and_keep_items(self, queue: QueueProvider) -> None:
        item_id = self.item()
        await queue.start()
        await queue.enqueue(QueueType.WORKFLOW, item_id)
        await queue.stop()
        await queue.stop()
        await queue.start()
        await queue.start()
        assert await self.drain_ids(queue, QueueType.WORKFLOW) == [item_id]
