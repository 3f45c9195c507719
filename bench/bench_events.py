"""Event publish -> resumed step latency, alone and among many idle instances waiting on events.

Run: python bench/bench_events.py [--stores memory,sqlite,postgres] [--samples 100] [--idle 100000]
       [--idle-stores memory,sqlite]

Latency: a workflow waits for event "go" with its own key; the clock starts before ``publish_event`` and stops
when the step after the wait starts running (p50 and p99 over the samples).

Idle scale: ``--idle`` instances are parked in the wait. The first one is driven there by the host; the others
are copies of its stored state (instance and subscription, with new ids and keys) written through the
persistence API, concurrently in chunks, which is what the host itself writes for a waiting instance. Then the
process RSS is read and one of them, picked at random, is resumed, timed as above.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import statistics
import time
import uuid
from typing import Any

from results_file import write
from stores import STORES, host_for, store_url
from wfe import ExecutionResult, StepBody, StepExecutionContext, WorkflowBuilder
from wfe_core.models import WaitingForEvent

RESUMED: dict[str, asyncio.Future[float]] = {}


class NoOp(StepBody):
    async def run(self, ctx: StepExecutionContext) -> ExecutionResult:
        return ExecutionResult.next()


class Stamp(StepBody):
    async def run(self, ctx: StepExecutionContext) -> ExecutionResult:
        future = RESUMED.get(ctx.workflow.data["key"])
        if future is not None and not future.done():
            future.set_result(time.perf_counter())
        return ExecutionResult.next()


def definition() -> Any:
    return (
        WorkflowBuilder()
        .start_with(NoOp)
        .wait_for("go", lambda data, ctx: data["key"])
        .then(Stamp)
        .build("bench-wait", 1)
    )


def rss_mb() -> float:
    with open("/proc/self/statm") as file:
        pages = int(file.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


async def park(host: Any, key: str) -> str:
    """Start a workflow and return once its subscription is stored."""
    waiting = asyncio.get_running_loop().create_future()

    def seen(event: Any) -> None:
        if isinstance(event, WaitingForEvent) and event.workflow_id == workflow_id and not waiting.done():
            waiting.set_result(None)

    host.on_lifecycle_event(seen, kinds=[WaitingForEvent])
    try:
        workflow_id = await host.start_workflow("bench-wait", 1, {"key": key})
        await asyncio.wait_for(waiting, 30)
    finally:
        host._dispatcher.remove_callback(seen)
    return str(workflow_id)


async def resume_latency(host: Any, key: str) -> float:
    RESUMED[key] = asyncio.get_running_loop().create_future()
    started = time.perf_counter()
    await host.publish_event("go", key, {"ok": True})
    resumed = await asyncio.wait_for(RESUMED[key], 30)
    del RESUMED[key]
    return resumed - started


def summary(samples: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples)
    return {
        "p50_ms": statistics.median(ms),
        "p99_ms": ms[min(len(ms) - 1, int(len(ms) * 0.99))],
        "mean_ms": statistics.fmean(ms),
        "samples": len(ms),
    }


async def latency(store: str, samples: int) -> dict[str, Any]:
    async with store_url(store) as url:
        host = host_for(url)
        host.register_workflow(definition())
        async with host:
            results = []
            for i in range(samples + 3):
                key = f"k{i}"
                await park(host, key)
                measured = await resume_latency(host, key)
                if i >= 3:  # the first ones warm connections and statements
                    results.append(measured)
    return {"store": store, **summary(results)}


async def clone_waiting(host: Any, template_id: str, count: int) -> None:
    """``count`` copies of the parked instance ``template_id`` and its subscription, new ids and keys."""
    persistence = host.persistence
    template = await persistence.get_workflow(template_id)
    key = template.data["key"]
    [subscription] = await persistence.get_subscriptions("go", key, template.create_time)
    chunk = 1000
    for start in range(0, count, chunk):
        writes = []
        for n in range(start, min(start + chunk, count)):
            copy_key = f"idle-{n}"
            pointers = [p.model_copy(update={"id": uuid.uuid4().hex}) for p in template.execution_pointers]
            waiting = pointers[-1]
            waiting.event_key = copy_key
            instance = template.model_copy(
                update={
                    "id": str(uuid.uuid4()),
                    "name": f"bench-wait-idle-{n}",
                    "data": {"key": copy_key},
                    "execution_pointers": pointers,
                }
            )
            sub = subscription.model_copy(
                update={
                    "id": str(uuid.uuid4()),
                    "workflow_id": instance.id,
                    "execution_pointer_id": waiting.id,
                    "event_key": copy_key,
                }
            )
            writes.append(persistence.create_workflow(instance))
            writes.append(persistence.create_subscription(sub))
        await asyncio.gather(*writes)


async def idle(store: str, count: int, samples: int) -> dict[str, Any]:
    async with store_url(store) as url:
        host = host_for(url)
        host.register_workflow(definition())
        async with host:
            gc.collect()
            rss_before = rss_mb()
            template = await park(host, "template")
            one = []
            for i in range(samples + 3):
                await park(host, f"one-{i}")
                measured = await resume_latency(host, f"one-{i}")
                if i >= 3:
                    one.append(measured)
            created = time.perf_counter()
            await clone_waiting(host, template, count - 1)
            create_seconds = time.perf_counter() - created
            gc.collect()
            rss_after = rss_mb()
            many = [await resume_latency(host, f"idle-{random.randrange(count - 1)}") for _ in range(samples)]
    one_ms, many_ms = summary(one), summary(many)
    return {
        "store": store,
        "instances": count,
        "create_seconds": create_seconds,
        "rss_before_mb": rss_before,
        "rss_after_mb": rss_after,
        "one_p50_ms": one_ms["p50_ms"],
        "many_p50_ms": many_ms["p50_ms"],
        "many_p99_ms": many_ms["p99_ms"],
        "ratio": many_ms["p50_ms"] / one_ms["p50_ms"],
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", default=",".join(STORES))
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--idle", type=int, default=100_000)
    parser.add_argument("--idle-stores", default="memory,sqlite")
    parser.add_argument("--idle-samples", type=int, default=50)
    args = parser.parse_args()
    for store in filter(None, args.stores.split(",")):
        write(f"events_{store}", await latency(store, args.samples))
    for store in filter(None, args.idle_stores.split(",")):
        write(f"idle_{store}", await idle(store, args.idle, args.idle_samples))


if __name__ == "__main__":
    asyncio.run(main())
