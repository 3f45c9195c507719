"""Durable steps/s and workflows/s of one WorkflowHost: N workflows x M no-op async steps.

Run: python bench/bench_throughput.py [--stores memory,sqlite,postgres] [--workflows 1000] [--steps 3]

All workflows are started first (concurrently), then the clock runs until the last one completes; the time
includes starting them, as DBOS's side does. SQLite runs on a fresh file with synchronous=FULL (the default),
PostgreSQL in a fresh schema of $WFE_BENCH_POSTGRES_URL.

Sequential starts are measured in the same run (``--sequential``, on by default): the same load started one
``await start_workflow`` at a time, as most applications call an engine, then the clock runs until the last one
completes; ``sequential_<store>.json`` has the best of those runs.

The cost of a queue slot is measured in the same run (``--queue``, on by default): each round runs the load
once as is and once with every workflow in a queue whose concurrency no run reaches (1,000,000), so each run
takes and frees a slot in the store; ``queue_<store>.json`` has the best of each and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from results_file import write
from stores import STORES, host_for, store_url
from wfe import ExecutionResult, StepBody, StepExecutionContext, WorkflowBuilder, WorkflowCompleted


class NoOp(StepBody):
    async def run(self, ctx: StepExecutionContext) -> ExecutionResult:
        return ExecutionResult.next()


def definition(steps: int) -> Any:
    builder = WorkflowBuilder().start_with(NoOp)
    for _ in range(steps - 1):
        builder = builder.then(NoOp)
    return builder.build("bench-noop", 1)


QUEUE = "bench"
UNREACHED = 1_000_000
"""The queue's concurrency: a bound no run reaches, so the slot is always granted, and its cost measured."""


async def run_once(
    store: str, workflows: int, steps: int, queued: bool = False, sequential: bool = False
) -> dict[str, float]:
    queue = QUEUE if queued else None
    async with store_url(store) as url:
        host = host_for(url, (lambda b: b.add_queue(QUEUE, concurrency=UNREACHED)) if queued else None)
        host.register_workflow(definition(steps))
        done = asyncio.Event()
        completed = 0

        def count(event: Any) -> None:
            nonlocal completed
            if isinstance(event, WorkflowCompleted):
                completed += 1
                if completed == workflows:
                    done.set()

        host.on_lifecycle_event(count, kinds=[WorkflowCompleted])
        async with host:
            # a warm-up workflow: connections, statements and imports are not part of the measurement
            warm = await host.start_workflow("bench-noop", 1, {}, queue=queue)
            await host.wait_for_workflow(warm, timeout=60)
            completed = 0
            started, cpu_started = time.perf_counter(), time.process_time()
            if sequential:  # as most applications call an engine: each start awaited before the next
                for _ in range(workflows):
                    await host.start_workflow("bench-noop", 1, {}, queue=queue)
            else:  # 100 starts in flight at a time
                for chunk in range(0, workflows, 100):
                    await asyncio.gather(
                        *(
                            host.start_workflow("bench-noop", 1, {}, queue=queue)
                            for _ in range(min(100, workflows - chunk))
                        )
                    )
            await asyncio.wait_for(done.wait(), timeout=600)
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
    return {
        "seconds": elapsed,
        "workflows_per_s": workflows / elapsed,
        "steps_per_s": workflows * steps / elapsed,
        "cpu_seconds": cpu,
        "steps_per_cpu_s": workflows * steps / cpu,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", default=",".join(STORES))
    parser.add_argument("--workflows", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--runs", type=int, default=1, help="best of N runs")
    parser.add_argument(
        "--queue",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run each round in a queue with limits (the cost of a queue slot)",
    )
    parser.add_argument(
        "--sequential",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run each round with one start at a time",
    )
    args = parser.parse_args()
    for store in args.stores.split(","):
        runs, queued, sequential = [], [], []
        for _ in range(args.runs):  # alternated, so both see the same moments of a shared machine
            runs.append(await run_once(store, args.workflows, args.steps))
            if args.queue:
                queued.append(await run_once(store, args.workflows, args.steps, queued=True))
            if args.sequential:
                sequential.append(await run_once(store, args.workflows, args.steps, sequential=True))
        best = max(runs, key=lambda r: r["steps_per_s"])
        write(
            f"throughput_wfe_{store}",
            {"store": store, "workflows": args.workflows, "steps": args.steps, "runs": len(runs), **best},
        )
        if queued:
            best_queued = max(queued, key=lambda r: r["steps_per_s"])
            write(
                f"queue_{store}",
                {
                    "store": store,
                    "workflows": args.workflows,
                    "steps": args.steps,
                    "runs": len(queued),
                    "concurrency": UNREACHED,
                    "steps_per_s": best["steps_per_s"],
                    "queued_steps_per_s": best_queued["steps_per_s"],
                    "ratio": best_queued["steps_per_s"] / best["steps_per_s"],
                },
            )

        if sequential:
            write(
                f"sequential_wfe_{store}",
                {
                    "store": store,
                    "workflows": args.workflows,
                    "steps": args.steps,
                    "runs": len(sequential),
                    **max(sequential, key=lambda r: r["steps_per_s"]),
                },
            )


if __name__ == "__main__":
    asyncio.run(main())
