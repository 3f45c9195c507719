"""A three-step workflow whose steps count their runs in Valkey, and a host process to run it in.

Run as a script (``python counted_workflow.py PG_URL SCHEMA VALKEY_URL PREFIX START``), it starts a host on
PostgreSQL + Valkey, starts one workflow (START ``local``: run by this host at once; ``queued``: through the
queue), prints its id, and keeps running until it is killed. In that
process the middle step hangs on its first run, so a test can kill the host in the middle of a step.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta
from typing import Any

from redis.asyncio import Redis

from wfe import (
    ExecutionResult,
    StepBody,
    StepExecutionContext,
    WorkflowBuilder,
    WorkflowHost,
    WorkflowHostBuilder,
)
from wfe_core.definition import WorkflowDefinition

DEFINITION_ID = "counted"

#: Set in the host process a test kills: the middle step then hangs on its first run.
hang_on_first_run = False


async def count_run(ctx: StepExecutionContext, step: str) -> int:
    """Record one run of ``step`` for this workflow; returns how many runs there have been."""
    data: dict[str, Any] = ctx.data
    client = Redis.from_url(data["valkey"])
    try:
        return int(await client.incr(runs_key(data["prefix"], ctx.workflow.id, step)))
    finally:
        await client.aclose()


def runs_key(prefix: str, workflow_id: str, step: str) -> str:
    return f"{prefix}:test-runs:{workflow_id}:{step}"


class First(StepBody):
    async def run(self, ctx: StepExecutionContext) -> ExecutionResult:
        await count_run(ctx, "first")
        return ExecutionResult.next()


class Middle(StepBody):
    async def run(self, ctx: StepExecutionContext) -> ExecutionResult:
        if await count_run(ctx, "middle") == 1 and hang_on_first_run:
            await asyncio.sleep(3600)
        return ExecutionResult.next()


class Last(StepBody):
    async def run(self, ctx: StepExecutionContext) -> ExecutionResult:
        await count_run(ctx, "last")
        return ExecutionResult.next()


def definition() -> WorkflowDefinition:
    return WorkflowBuilder().start_with(First).then(Middle).then(Last).build(DEFINITION_ID, 1)


def build_host(pg_url: str, schema: str, valkey_url: str, prefix: str, **options: Any) -> WorkflowHost:
    """A host on PostgreSQL (persistence) and Valkey (lock, queue, lifecycle hub) with short leases."""
    host = (
        WorkflowHostBuilder()
        .use_persistence(pg_url, schema=schema)
        .use_lock(valkey_url, prefix=prefix)
        .use_queue(valkey_url, prefix=prefix, visibility_timeout=options.pop("visibility_timeout", 3.0))
        .use_lifecycle_hub(valkey_url, prefix=prefix)
        .with_options(lock_ttl=timedelta(seconds=1), **options)
        .build()
    )
    host.register_workflow(definition())
    return host


async def run_until_killed(pg_url: str, schema: str, valkey_url: str, prefix: str, start: str) -> None:
    global hang_on_first_run
    hang_on_first_run = True
    host = build_host(pg_url, schema, valkey_url, prefix, start_locally=start == "local")
    await host.start()
    workflow_id = await host.start_workflow(DEFINITION_ID, 1, {"valkey": valkey_url, "prefix": prefix})
    print(workflow_id, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(run_until_killed(*sys.argv[1:6]))
