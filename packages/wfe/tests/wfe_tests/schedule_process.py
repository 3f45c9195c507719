"""A host process for the multi-process tests of idempotent starts and schedules.

``python schedule_process.py MODE URL SCHEMA LOG GO_AT [SECONDS]``: a host on the store at URL (SCHEMA "-" for
none) that waits until the wall-clock time GO_AT, then either starts the workflow with id ``race-1``
(MODE ``start``) or adds the schedule ``tick`` (every second, catch_up "all") and serves SECONDS (MODE
``schedule``). Each step run appends ``run <pid> <workflow id>`` to LOG.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from datetime import timedelta
from typing import Any

from wfe import WorkflowBuilder, WorkflowHostBuilder


def record(log: str) -> Any:
    def step(ctx: Any) -> None:
        with open(log, "a") as out:
            out.write(f"run {os.getpid()} {ctx.workflow.id}\n")

    return step


async def main(mode: str, url: str, schema: str, log: str, go_at: float, seconds: float) -> None:
    builder = WorkflowHostBuilder().with_options(
        poll_interval=timedelta(seconds=1), lock_ttl=timedelta(seconds=5)
    )
    if schema == "-":
        builder.use_persistence(url)
    else:
        builder.use_persistence(url, schema=schema)
    host = builder.build()
    host.register_workflow(WorkflowBuilder().then_fn(record(log)).build("raced", 1))
    host.register_workflow(WorkflowBuilder().then_fn(record(log)).build("ticked", 1))
    async with host:
        await asyncio.sleep(max(0.0, go_at - time.time()))
        if mode == "start":
            workflow_id = await host.start_workflow("raced", workflow_id="race-1")
            await host.wait_for_workflow(workflow_id, timeout=60)
        else:
            await host.add_schedule(
                "tick", "ticked", every=timedelta(seconds=1), overlap="allow", catch_up="all"
            )
            await asyncio.sleep(seconds)


if __name__ == "__main__":
    mode, url, schema, log, go_at = sys.argv[1:6]
    seconds = float(sys.argv[6]) if len(sys.argv) > 6 else 0.0
    asyncio.run(main(mode, url, schema, log, float(go_at), seconds))
