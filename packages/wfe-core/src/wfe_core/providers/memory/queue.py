"""MemoryQueue: per-QueueType FIFO queues with de-duplication, blocking dequeue and visibility timeouts."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Self

from wfe_core.models import QueueItem, QueueType, new_id
from wfe_core.option_values import seconds_option
from wfe_core.providers.memory.url import check_memory_url


@dataclass(slots=True)
class _Queue:
    waiting: deque[str] = field(default_factory=deque)
    waiting_ids: set[str] = field(default_factory=set)
    in_flight: dict[str, tuple[str, float]] = field(default_factory=dict)
    """receipt -> (item id, monotonic deadline); deadlines grow in insertion order."""
    takers: list[asyncio.Future[None]] = field(default_factory=list)


class MemoryQueue:
    """In-process ``QueueProvider`` with blocking ``dequeue``.

    An item taken and not acked within ``visibility_timeout`` seconds is delivered again (at the head of its
    queue). Each delivery carries a fresh receipt, so acking a stale delivery removes nothing newer.
    """

    def __init__(self, *, visibility_timeout: float = 60.0) -> None:
        visibility_timeout = seconds_option("MemoryQueue", "visibility_timeout", visibility_timeout)
        self.visibility_timeout = visibility_timeout
        self._queues = {queue: _Queue() for queue in QueueType}

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Self:
        """Build from ``memory://``; ``options`` are constructor keywords (``visibility_timeout``)."""
        check_memory_url(url, cls.__name__)
        return cls(**options)

    @property
    def is_dequeue_blocking(self) -> bool:
        return True

    async def start(self) -> None:
        """Nothing to connect; idempotent."""

    async def stop(self) -> None:
        """Nothing to disconnect; items are kept. Idempotent."""

    async def enqueue(self, queue: QueueType, item_id: str) -> None:
        state = self._queues[queue]
        if item_id in state.waiting_ids:
            return
        state.waiting.append(item_id)
        state.waiting_ids.add(item_id)
        self._wake_takers(state)

    # The protocol fixes the ``timeout`` keyword: callers pass it to every provider alike.
    async def dequeue(self, queue: QueueType, *, timeout: float = 1.0) -> QueueItem | None:  # noqa: ASYNC109
        state = self._queues[queue]
        loop = asyncio.get_running_loop()
        end = time.monotonic() + max(0.0, timeout)
        while True:
            now = time.monotonic()
            self._reclaim_expired(state, now)
            if state.waiting:
                item_id = state.waiting.popleft()
                state.waiting_ids.discard(item_id)
                receipt = new_id()
                state.in_flight[receipt] = (item_id, now + self.visibility_timeout)
                return QueueItem(queue=queue, item_id=item_id, receipt=receipt)
            remaining = end - now
            if remaining <= 0:
                return None
            # Wake on an enqueue, or when the oldest in-flight item becomes visible again.
            if state.in_flight:
                first_deadline = next(iter(state.in_flight.values()))[1]
                remaining = min(remaining, max(0.0, first_deadline - now))
            taker: asyncio.Future[None] = loop.create_future()
            state.takers.append(taker)
            try:
                await asyncio.wait([taker], timeout=remaining)
            finally:
                if taker in state.takers:
                    state.takers.remove(taker)
                taker.cancel()

    async def ack(self, item: QueueItem) -> None:
        state = self._queues[item.queue]
        # A delivery whose visibility lapsed is already due again: an ack arriving that late must not stop it.
        self._reclaim_expired(state, time.monotonic())
        state.in_flight.pop(item.receipt, None)

    def _reclaim_expired(self, state: _Queue, now: float) -> None:
        """Put in-flight items whose visibility timeout lapsed back at the head of the queue."""
        expired: list[str] = []
        while state.in_flight:
            receipt, (item_id, deadline) = next(iter(state.in_flight.items()))
            if deadline > now:
                break
            del state.in_flight[receipt]
            expired.append(item_id)
        for item_id in reversed(expired):
            if item_id not in state.waiting_ids:
                state.waiting.appendleft(item_id)
                state.waiting_ids.add(item_id)

    @staticmethod
    def _wake_takers(state: _Queue) -> None:
        # Wake every waiting taker: one takes the item, the others find the queue empty and wait again.
        # Waking only one could strand the item if that taker was cancelled before it ran.
        takers, state.takers = state.takers, []
        for taker in takers:
            if taker.done():
                continue
            taker_loop = taker.get_loop()
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if taker_loop is running:
                taker.set_result(None)
            else:
                taker_loop.call_soon_threadsafe(_resolve, taker)


def _resolve(taker: asyncio.Future[None]) -> None:
    if not taker.done():
        taker.set_result(None)
