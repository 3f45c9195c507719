"""A task waiting in ``dequeue`` always ends when cancelled, whatever it was doing at that moment.

On Python 3.11 redis-py loses a cancellation that arrives just as it finishes sending a command (its
``asyncio.wait_for`` swallows it); a host's consumer loop then ran on for ever and ``host.stop()`` hung. Each
cancellation here also drops the connection, so the next take reconnects: the handshake is where most sends, and
most lost cancellations, happen.
"""

from __future__ import annotations

import asyncio
import random

import pytest

from wfe_core.models import QueueType
from wfe_valkey import ValkeyQueue

pytestmark = pytest.mark.valkey


async def test_a_consumer_taking_work_always_stops_when_cancelled(valkey_url: str, prefix: str) -> None:
    queue = ValkeyQueue(valkey_url, prefix=prefix)
    await queue.start()

    async def consume() -> None:
        while True:  # what a host's consumer does: take, and take again
            await queue.dequeue(QueueType.WORKFLOW, timeout=0.02)

    rng = random.Random(7)
    try:
        for attempt in range(300):
            task = asyncio.create_task(consume())
            await asyncio.sleep(rng.uniform(0, 0.01))
            task.cancel()
            done, _ = await asyncio.wait([task], timeout=5)
            if not done:
                task.cancel()  # a second request does get through; leave no task behind
                await asyncio.wait([task], timeout=5)
            assert done, f"attempt {attempt}: the consumer ignored its cancellation"
            assert task.cancelled()
    finally:
        await queue.stop()
