"""Schedule tick latency: from a schedule's tick to the first step of the run it starts.

Run: python bench/bench_schedules.py [--stores memory,sqlite,postgres] [--samples 20]

One host, a schedule of one tick a second (``overlap="allow"``). Each run's first step records the wall-clock
time it started; the tick time is in the run's id (``{schedule}@{tick}``). Latency = step start - tick, over
``--samples`` ticks after one warm-up tick (p50, p99, max).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from results_file import write
from stores import STORES, host_for, store_url
from wfe import ExecutionResult, StepBody, StepExecutionContext, WorkflowBuilder

STARTED: dict[str, float] = {}
SEEN = asyncio.Event()


class Stamp(StepBody):
    async def run(self, ctx: StepExecutionContext) -> ExecutionResult:
        STARTED.setdefault(ctx.workflow.id, time.time())
        SEEN.set()
        return ExecutionResult.next()


def tick_of(workflow_id: str) -> float:
    return (
        datetime.strptime(workflow_id.split("@", 1)[1], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    )


async def measure(store: str, samples: int) -> dict[str, Any]:
    STARTED.clear()
    async with store_url(store) as url:
        host = host_for(url)
        host.register_workflow(WorkflowBuilder().start_with(Stamp).build("bench-tick", 1))
        async with host:
            await host.add_schedule("bench", "bench-tick", every=timedelta(seconds=1), overlap="allow")
            while len(STARTED) < samples + 1:  # the first tick warms up
                SEEN.clear()
                await asyncio.wait_for(SEEN.wait(), 30)
            await host.remove_schedule("bench")
    ticks = sorted(STARTED.items(), key=lambda item: tick_of(item[0]))[1 : samples + 1]
    latencies = sorted((started - tick_of(workflow_id)) * 1000 for workflow_id, started in ticks)
    return {
        "samples": len(latencies),
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))],
        "max_ms": latencies[-1],
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", default=",".join(STORES))
    parser.add_argument("--samples", type=int, default=20)
    args = parser.parse_args()
    for store in [s for s in args.stores.split(",") if s]:
        write(f"schedules_{store}", await measure(store, args.samples))


if __name__ == "__main__":
    asyncio.run(main())
