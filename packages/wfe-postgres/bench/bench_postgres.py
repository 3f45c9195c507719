"""Micro-benchmarks of the PostgreSQL providers: cost of a pass against history size, queue and lock latency.

    WFE_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test python packages/wfe-postgres/bench/bench_postgres.py

Works in a schema of its own (dropped at the end). Prints one line per measurement: median and p95 in ms.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql

from wfe_core.models import ExecutionPointer, PointerStatus, QueueType, WorkflowInstance
from wfe_postgres import PostgresLock, PostgresPersistence, PostgresQueue

PASSES = 200


async def timed(label: str, runs: int, op: Callable[[int], Awaitable[object]]) -> None:
    samples = []
    for n in range(runs):
        started = time.perf_counter()
        await op(n)
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    p95 = samples[int(len(samples) * 0.95) - 1]
    print(f"{label:<48} median {statistics.median(samples):7.2f} ms   p95 {p95:7.2f} ms   ({runs} runs)")


async def pass_cost(store: PostgresPersistence, history: int) -> None:
    instance = WorkflowInstance(
        workflow_definition_id="bench",
        version=1,
        data={"i": 0},
        create_time=datetime.now(UTC),
        execution_pointers=[
            ExecutionPointer(step_id=i % 7, status=PointerStatus.COMPLETE, scope=["a", "b"])
            for i in range(history)
        ],
    )
    await store.create_workflow(instance)

    async def one_pass(n: int) -> None:
        # what a pass of a loop body writes: the step it finished and the step it starts
        done = instance.execution_pointers[-1]
        done.status = PointerStatus.COMPLETE
        started = ExecutionPointer(step_id=n % 7, status=PointerStatus.RUNNING)
        instance.execution_pointers.append(started)
        instance.data = {"i": n}
        await store.persist_workflow(instance, pointers=[done, started], fence=n)

    await timed(f"persist pass, {history:>6} pointers of history", PASSES, one_pass)
    await timed(f"load instance, {history:>6} pointers", 20, lambda _: store.get_workflow(instance.id))


async def main(url: str) -> None:
    schema = f"wfe_bench_{uuid.uuid4().hex[:8]}"
    store = PostgresPersistence.from_url(url, schema=schema)
    queue = PostgresQueue.from_url(url, schema=schema)
    lock = PostgresLock.from_url(url, schema=schema)
    try:
        await store.ensure_store_exists()
        await queue.start()
        await lock.start()
        for history in (10, 1_000, 10_000):
            await pass_cost(store, history)

        async def enqueue_take_ack(n: int) -> None:
            await queue.enqueue(QueueType.WORKFLOW, f"w{n}")
            item = await queue.dequeue(QueueType.WORKFLOW, timeout=1.0)
            assert item is not None
            await queue.ack(item)

        await timed("queue enqueue + dequeue + ack", PASSES, enqueue_take_ack)

        async def acquire_release(n: int) -> None:
            lease = await lock.acquire(f"r{n % 10}", timedelta(seconds=30))
            assert lease is not None
            await lock.release(lease)

        await timed("lock acquire + release", PASSES, acquire_release)
    finally:
        await store.close()
        await queue.stop()
        await lock.stop()
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            await conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


if __name__ == "__main__":
    target = os.environ.get("WFE_TEST_POSTGRES_URL")
    if not target:
        sys.exit("set WFE_TEST_POSTGRES_URL, e.g. postgresql://postgres@127.0.0.1:5432/test")
    asyncio.run(main(target))
