"""Benchmarks for wfe-sqlite: raw commit rate, the worker thread against aiosqlite, and a 1000 x 3 pass load.

Run: ``python packages/wfe-sqlite/bench/bench_sqlite.py [--workflows 1000] [--steps 3] [--aiosqlite]``.
Results on the reference machine are recorded in docs/providers-sqlite.md.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from wfe_core.models import ExecutionPointer, PointerStatus, QueueType, WorkflowInstance, WorkflowStatus
from wfe_sqlite import SqliteLock, SqlitePersistence, SqliteQueue


def raw_commit_rate(path: Path, synchronous: str, seconds: float = 3.0) -> float:
    """Commits per second of one-row transactions on a plain connection (the ceiling a store can reach)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)")
    count, end = 0, time.perf_counter() + seconds
    start = time.perf_counter()
    while time.perf_counter() < end:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (v) VALUES ('x')")
        conn.execute("COMMIT")
        count += 1
    rate = count / (time.perf_counter() - start)
    conn.close()
    return rate


async def worker_small_transactions(path: Path, n: int, concurrency: int) -> float:
    """Small write transactions per second through ``SqliteDatabase`` (one worker thread, group commit)."""
    persistence = SqlitePersistence.from_url(f"sqlite:///{path}")
    database = persistence.database
    await database.run(
        lambda c: c.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)"), write=True
    )

    async def one_task(count: int) -> None:
        for _ in range(count):
            await database.run(lambda c: c.execute("INSERT INTO t (v) VALUES ('x')"), write=True)

    start = time.perf_counter()
    await asyncio.gather(*(one_task(n // concurrency) for _ in range(concurrency)))
    rate = n / (time.perf_counter() - start)
    await persistence.close()
    return rate


async def aiosqlite_small_transactions(path: Path, n: int, concurrency: int) -> float:
    """The same load through aiosqlite (one thread per connection, one commit per transaction)."""
    import aiosqlite  # type: ignore[import-not-found]

    async with aiosqlite.connect(path, isolation_level=None) as db:
        await db.execute("PRAGMA journal_mode = WAL")
        await db.execute("PRAGMA synchronous = FULL")
        await db.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)")
        lock = asyncio.Lock()  # one connection: transactions must not interleave

        async def one_task(count: int) -> None:
            for _ in range(count):
                async with lock:
                    await db.execute("BEGIN IMMEDIATE")
                    await db.execute("INSERT INTO t (v) VALUES ('x')")
                    await db.execute("COMMIT")

        start = time.perf_counter()
        await asyncio.gather(*(one_task(n // concurrency) for _ in range(concurrency)))
        return n / (time.perf_counter() - start)


async def workflow_load(
    path: Path, workflows: int, steps: int, consumers: int, synchronous: str = "FULL"
) -> dict[str, float]:
    """What a host does for ``workflows`` instances of ``steps`` no-op steps, provider calls only.

    Per pass: dequeue, lock, load, persist (instance + the changed pointers), unlock, ack, re-queue.
    """
    url = f"sqlite:///{path}?synchronous={synchronous}"
    persistence, queue, lock = (
        SqlitePersistence.from_url(url),
        SqliteQueue.from_url(url),
        SqliteLock.from_url(url),
    )
    await persistence.ensure_store_exists()
    database = persistence.database
    ttl = timedelta(seconds=30)
    passes = 0
    done = asyncio.Event()
    completed = 0

    async def consumer() -> None:
        nonlocal passes, completed
        while not done.is_set():
            item = await queue.dequeue(QueueType.WORKFLOW, timeout=0.2)
            if item is None:
                continue
            lease = await lock.acquire(item.item_id, ttl)
            if lease is None:
                await queue.enqueue(QueueType.WORKFLOW, item.item_id)
                await queue.ack(item)
                continue
            instance = await persistence.get_workflow(item.item_id)
            now = datetime.now(UTC)
            current = instance.execution_pointers[-1]
            current.status, current.active, current.end_time = PointerStatus.COMPLETE, False, now
            changed = [current]
            if current.step_id + 1 < steps:
                following = ExecutionPointer(step_id=current.step_id + 1, start_time=now)
                instance.execution_pointers.append(following)
                changed.append(following)
            else:
                instance.status, instance.complete_time, instance.next_execution = (
                    WorkflowStatus.COMPLETE,
                    now,
                    None,
                )
            await persistence.persist_workflow(instance, pointers=changed, fence=lease.fence)
            await lock.release(lease)
            await queue.ack(item)
            passes += 1
            if instance.status is WorkflowStatus.COMPLETE:
                completed += 1
                if completed == workflows:
                    done.set()
            else:
                await queue.enqueue(QueueType.WORKFLOW, instance.id)

    async def start_one() -> None:
        instance = WorkflowInstance(
            workflow_definition_id="bench",
            version=1,
            create_time=datetime.now(UTC),
            next_execution=datetime.now(UTC),
            execution_pointers=[ExecutionPointer(step_id=0)],
        )
        await persistence.create_workflow(instance)
        await queue.enqueue(QueueType.WORKFLOW, instance.id)

    before = (database.stats.jobs, database.stats.write_transactions)
    start = time.perf_counter()
    tasks = [asyncio.create_task(consumer()) for _ in range(consumers)]
    await asyncio.gather(*(start_one() for _ in range(workflows)))
    await done.wait()
    elapsed = time.perf_counter() - start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    jobs, writes = database.stats.jobs - before[0], database.stats.write_transactions - before[1]
    await queue.stop()
    await lock.stop()
    await persistence.close()
    return {
        "seconds": elapsed,
        "passes_per_s": passes / elapsed,
        "steps_per_s": workflows * steps / elapsed,
        "calls": jobs,
        "commits": writes,
    }


async def host_load(path: Path, workflows: int, steps: int, synchronous: str = "FULL") -> dict[str, float]:
    """The real thing: a ``WorkflowHost`` on ``sqlite:///...`` running ``workflows`` instances of ``steps`` no-op
    steps, from the first start to the last completion."""
    from wfe import ExecutionResult, StepBody, StepExecutionContext, WorkflowBuilder, WorkflowHostBuilder

    class Noop(StepBody):
        async def run(self, ctx: StepExecutionContext) -> ExecutionResult:
            return ExecutionResult.next()

    builder = WorkflowBuilder().start_with(Noop)
    for _ in range(steps - 1):
        builder = builder.then(Noop)
    definition = builder.build("bench", 1)
    host = WorkflowHostBuilder().use_persistence(f"sqlite:///{path}?synchronous={synchronous}").build()
    host.register_workflow(definition)
    async with host:
        database = host.persistence.database  # type: ignore[attr-defined]
        before = (database.stats.jobs, database.stats.write_transactions)
        start = time.perf_counter()
        ids = await asyncio.gather(*(host.start_workflow("bench", 1, {}) for _ in range(workflows)))
        for workflow_id in ids:
            await host.wait_for_workflow(workflow_id, timeout=timedelta(minutes=5))
        elapsed = time.perf_counter() - start
        jobs, writes = database.stats.jobs - before[0], database.stats.write_transactions - before[1]
    return {
        "seconds": elapsed,
        "workflows_per_s": workflows / elapsed,
        "steps_per_s": workflows * steps / elapsed,
        "calls": jobs,
        "commits": writes,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workflows", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--consumers", type=int, default=8)
    parser.add_argument(
        "--synchronous", default="FULL", help="FULL (default) or NORMAL for the workflow load"
    )
    parser.add_argument(
        "--aiosqlite", action="store_true", help="also measure aiosqlite (must be importable)"
    )
    parser.add_argument(
        "--host", action="store_true", help="also run the load on a real WorkflowHost (needs wfe)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        full = raw_commit_rate(root / "raw-full.db", "FULL")
        normal = raw_commit_rate(root / "raw-normal.db", "NORMAL")
        print(f"raw commits/s: synchronous=FULL {full:.0f}, NORMAL {normal:.0f}")
        for concurrency in (1, 32):
            rate = asyncio.run(
                worker_small_transactions(root / f"worker-{concurrency}.db", 3000, concurrency)
            )
            print(f"worker thread, {concurrency} concurrent: {rate:.0f} transactions/s")
            if args.aiosqlite:
                rate = asyncio.run(
                    aiosqlite_small_transactions(root / f"aio-{concurrency}.db", 3000, concurrency)
                )
                print(f"aiosqlite,     {concurrency} concurrent: {rate:.0f} transactions/s")
        result = asyncio.run(
            workflow_load(root / "load.db", args.workflows, args.steps, args.consumers, args.synchronous)
        )
        print(
            f"{args.workflows} workflows x {args.steps} steps, {args.consumers} consumers, "
            f"synchronous={args.synchronous}: "
            f"{result['seconds']:.2f} s, {result['passes_per_s']:.0f} passes/s, "
            f"{result['steps_per_s']:.0f} steps/s, "
            f"{result['calls']:.0f} provider calls in {result['commits']:.0f} commits; "
            f"{100 * result['passes_per_s'] / full:.0f}% of the raw FULL commit rate"
        )

        if args.host:
            result = asyncio.run(host_load(root / "host.db", args.workflows, args.steps, args.synchronous))
            print(
                f"WorkflowHost, {args.workflows} workflows x {args.steps} no-op steps, "
                f"synchronous={args.synchronous}: {result['seconds']:.2f} s, "
                f"{result['workflows_per_s']:.0f} workflows/s, {result['steps_per_s']:.0f} steps/s, "
                f"{result['calls']:.0f} provider calls in {result['commits']:.0f} commits; steps/s = "
                f"{100 * result['steps_per_s'] / full:.0f}% of the raw FULL commit rate"
            )


if __name__ == "__main__":
    main()
