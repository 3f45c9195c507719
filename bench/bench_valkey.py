"""Valkey provider rates against raw commands: queue enqueue + dequeue + ack, lock acquire + release.

Run: python bench/bench_valkey.py [--seconds 3]
One asyncio client, one operation at a time, so each figure is round trips per second; the raw baseline
(bench_raw.py) is the same sequence of bare commands on one redis-py connection.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

from results_file import write
from stores import VALKEY_URL
from wfe_core.models import QueueType
from wfe_valkey import ValkeyLock, ValkeyQueue


async def rate(seconds: float, once: Callable[[], Awaitable[object]]) -> float:
    for _ in range(50):
        await once()
    count, end = 0, time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < end:
        await once()
        count += 1
    return count / (time.perf_counter() - started)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    prefix = f"wfe-bench-{uuid.uuid4().hex[:8]}"
    url = f"{VALKEY_URL}?prefix={prefix}"
    queue, lock = ValkeyQueue.from_url(url), ValkeyLock.from_url(url)
    await queue.start()
    await lock.start()
    try:

        async def queue_hop() -> None:
            await queue.enqueue(QueueType.WORKFLOW, "item")
            item = await queue.dequeue(QueueType.WORKFLOW, timeout=1.0)
            assert item is not None
            await queue.ack(item)

        async def lock_cycle() -> None:
            lease = await lock.acquire("resource", timedelta(seconds=30))
            assert lease is not None
            await lock.release(lease)

        queue_rate = await rate(args.seconds, queue_hop)
        lock_rate = await rate(args.seconds, lock_cycle)
    finally:
        await queue.stop()
        await lock.stop()
        import redis

        client = redis.Redis.from_url(VALKEY_URL)
        keys = list(client.scan_iter(f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()
    write("valkey", {"queue_roundtrips_per_s": queue_rate, "lock_cycles_per_s": lock_rate})


if __name__ == "__main__":
    asyncio.run(main())
