"""A host process for the crash-recovery test: starts workflows, runs them, and is killed mid-step.

Run as a script: ``python crash_worker.py URL SCHEMA COUNT``. Each step records (workflow id, pointer id, host)
in ``<schema>.runs`` before it sleeps, so the test sees which steps had begun when the process died.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta

import psycopg
from psycopg import sql

from wfe import (
    ExecutionResult,
    StepBody,
    StepExecutionContext,
    WorkflowBuilder,
    WorkflowHost,
    WorkflowHostBuilder,
)
from wfe_core.definition import WorkflowDefinition

STEPS = 3
STEP_SECONDS = 0.4


def crash_definition(url: str, schema: str, host_name: str) -> WorkflowDefinition:
    class Record(StepBody):
        async def run(self, ctx: StepExecutionContext) -> ExecutionResult:
            async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                await conn.execute(
                    sql.SQL("INSERT INTO {} (workflow_id, pointer_id, host) VALUES (%s, %s, %s)").format(
                        sql.Identifier(schema, "runs")
                    ),
                    (ctx.workflow.id, ctx.pointer.id, host_name),
                )
            await asyncio.sleep(STEP_SECONDS)
            return ExecutionResult.next()

    builder = WorkflowBuilder().start_with(Record)
    for _ in range(STEPS - 1):
        builder = builder.then(Record)
    return builder.build("crash", 1)


def crash_host(url: str, schema: str, host_name: str) -> WorkflowHost:
    sep = "&" if "?" in url else "?"
    host = (
        WorkflowHostBuilder()
        .use_persistence(f"{url}{sep}application_name={host_name}&visibility_timeout=2", schema=schema)
        .with_options(poll_interval=timedelta(seconds=1), lock_ttl=timedelta(seconds=2))
        .build()
    )
    host.register_workflow(crash_definition(url, schema, host_name))
    return host


async def main(url: str, schema: str, count: int) -> None:
    host = crash_host(url, schema, "doomed")
    await host.start()
    for _ in range(count):
        await host.start_workflow("crash", 1, {})
    await asyncio.Event().wait()  # run until killed


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
