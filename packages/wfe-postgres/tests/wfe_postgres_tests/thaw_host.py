"""A host process for the thawed-host test: a workflow whose first step holds the lease for a while.

Run as a script (``python thaw_host.py CONFIG_JSON``): it starts a host named ``config["name"]`` on PostgreSQL
(lease TTL 2 s), starts ``config["start"]`` ``thaw`` workflows, prints ``{"started": id}`` for each and then
``{"ready": name}`` as JSON lines, and runs until SIGTERM. The ``hold`` step records a row in
``{schema}.step_runs`` and sleeps; the ``next`` step records a row and ends.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
import time
from datetime import timedelta
from typing import Any

import psycopg
from psycopg import sql

from wfe import ExecutionResult, StepBody, StepExecutionContext, WorkflowBuilder, WorkflowHostBuilder
from wfe_core.definition import WorkflowDefinition

HOLD_SECONDS = 1.0
LOCK_TTL = timedelta(seconds=2)


def runs_table(schema: str) -> sql.Composable:
    return sql.Identifier(schema, "step_runs")


def thaw_definition(url: str, schema: str, host_name: str) -> WorkflowDefinition:
    async def record(ctx: StepExecutionContext, step: str) -> None:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            await conn.execute(
                sql.SQL(
                    "INSERT INTO {} (idempotency_key, workflow_id, step, host, phase, began, at)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s)"
                ).format(runs_table(schema)),
                (
                    ctx.idempotency_key,
                    ctx.workflow.id,
                    step,
                    host_name,
                    "start",
                    time.monotonic(),
                    time.monotonic(),
                ),
            )

    class Hold(StepBody):
        async def run(self, ctx: StepExecutionContext) -> ExecutionResult:
            await record(ctx, "hold")
            await asyncio.sleep(HOLD_SECONDS)  # nothing after the sleep: the pass ends as soon as it wakes
            return ExecutionResult.next()

    class Next(StepBody):
        async def run(self, ctx: StepExecutionContext) -> ExecutionResult:
            await record(ctx, "next")
            return ExecutionResult.next()

    return WorkflowBuilder().start_with(Hold).then(Next).build("thaw", 1)


async def serve(config: dict[str, Any]) -> None:
    logging.basicConfig(filename=config["log"], level=logging.INFO)
    url = f"{config['pg_url']}{'&' if '?' in config['pg_url'] else '?'}application_name={config['name']}"
    host = (
        WorkflowHostBuilder()
        .use_persistence(url, schema=config["schema"])
        .with_options(
            poll_interval=timedelta(seconds=1), lock_ttl=LOCK_TTL, stop_timeout=timedelta(seconds=2)
        )
        .build()
    )
    host.register_workflow(thaw_definition(config["pg_url"], config["schema"], config["name"]))
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    await host.start()
    try:
        for _ in range(config["start"]):
            print(json.dumps({"started": await host.start_workflow("thaw", 1, {})}), flush=True)
        print(json.dumps({"ready": config["name"]}), flush=True)
        await stopping.wait()
    finally:
        await host.stop()


if __name__ == "__main__":
    asyncio.run(serve(json.loads(sys.argv[1])))
