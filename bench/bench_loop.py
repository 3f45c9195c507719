"""Cost growth with history: per-iteration time of a 10,000-iteration ``while_do``, first vs last 1,000.

Run: python bench/bench_loop.py [--stores memory,sqlite,postgres] [--iterations 10000] [--window 1000] [--runs 3]

Each iteration runs one step that counts; the step stamps the time, so the per-iteration time includes the
container's passes and the persistence of each. A ratio of 1.0 means the cost does not grow with history.
Both the mean and the median per-iteration time of each window are recorded, and the process's CPU time per
iteration. Each store runs the loop ``--runs`` times on fresh stores; the run whose median ratio is the median
of the runs is the one recorded, with every run's ratios beside it: the speed of a shared machine drifts
within the seconds between the two windows of one run, and a drift is not a cost that grows with history.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

from results_file import write
from stores import host_for, store_url
from wfe import ExecutionResult, StepBody, StepExecutionContext, WorkflowBuilder, WorkflowCompleted

STAMPS: list[float] = []
CPU_STAMPS: list[float] = []


class Count(StepBody):
    async def run(self, ctx: StepExecutionContext) -> ExecutionResult:
        STAMPS.append(time.perf_counter())
        CPU_STAMPS.append(time.process_time())
        ctx.workflow.data["i"] += 1
        return ExecutionResult.next()


def definition(iterations: int) -> Any:
    return (
        WorkflowBuilder()
        .start_with(lambda: Count())
        .while_do(lambda data: data["i"] < iterations, lambda b: b.start_with(Count))
        .build("bench-loop", 1)
    )


async def run(store: str, iterations: int, window: int) -> dict[str, Any]:
    STAMPS.clear()
    CPU_STAMPS.clear()
    async with store_url(store) as url:
        host = host_for(url)
        host.register_workflow(definition(iterations))
        async with host:
            done = asyncio.get_running_loop().create_future()
            host.on_lifecycle_event(
                lambda event: (
                    done.set_result(None)
                    if isinstance(event, WorkflowCompleted) and not done.done()
                    else None
                )
            )
            started = time.perf_counter()
            workflow_id = await host.start_workflow("bench-loop", 1, {"i": 0})
            await asyncio.wait_for(done, timeout=3600)
            elapsed = time.perf_counter() - started
            instance = await host.get_workflow(workflow_id)
    gaps = [b - a for a, b in zip(STAMPS, STAMPS[1:], strict=False)]
    first = sum(gaps[:window]) / window
    last = sum(gaps[-window:]) / window
    # medians too: a stall of the shared machine inflates a mean, while the engine's cost moves the median
    first_median = statistics.median(gaps[:window])
    last_median = statistics.median(gaps[-window:])
    # and the process's CPU time per iteration (the SQLite worker thread included): what the engine and the
    # store's client side spend, whatever the disk and the other processes on the machine do
    cpu_first = (CPU_STAMPS[window] - CPU_STAMPS[0]) / window
    cpu_last = (CPU_STAMPS[-1] - CPU_STAMPS[-1 - window]) / window
    return {
        "store": store,
        "iterations": iterations,
        "pointers": len(instance.execution_pointers),
        "seconds": elapsed,
        "first_ms": first * 1000,
        "last_ms": last * 1000,
        "ratio": last / first,
        "first_median_ms": first_median * 1000,
        "last_median_ms": last_median * 1000,
        "median_ratio": last_median / first_median,
        "cpu_first_ms": cpu_first * 1000,
        "cpu_last_ms": cpu_last * 1000,
        "cpu_ratio": cpu_last / cpu_first,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", default="memory,sqlite,postgres")
    parser.add_argument("--iterations", type=int, default=10_000)
    parser.add_argument("--window", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for store in args.stores.split(","):
        runs = [await run(store, args.iterations, args.window) for _ in range(args.runs)]
        for number, result in enumerate(runs, 1):
            print(f"[loop {store} run {number}] median ratio {result['median_ratio']:.3f}", flush=True)
        recorded = sorted(runs, key=lambda result: result["median_ratio"])[(len(runs) - 1) // 2]
        recorded["runs"] = [
            {key: result[key] for key in ("median_ratio", "ratio", "cpu_ratio")} for result in runs
        ]
        write(f"loop_{store}", recorded)


if __name__ == "__main__":
    asyncio.run(main())
