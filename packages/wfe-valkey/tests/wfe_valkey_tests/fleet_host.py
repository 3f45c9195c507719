"""A workflow with steps, a parallel branch, a delay and an event wait, and a host process to run it in.

Every step run is recorded as a row of ``{schema}.step_runs`` (workflow, step, host), in PostgreSQL rather than
Valkey, so the record survives a Valkey server that loses its data.

Run as a script (``python fleet_host.py CONFIG_JSON``), it starts one host on PostgreSQL + Valkey and writes JSON
lines to stdout: ``{"started": id}`` for each workflow it was asked to start (``"start": N``), then
``{"ready": name}``, then (with ``"print_events": true``) ``{"kind": ..., "workflow_id": ...}`` for every
lifecycle event its host receives. SIGTERM stops the host cleanly; SIGKILL is what the tests use for a crash.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from wfe import (
    ExecutionResult,
    LifecycleEvent,
    StepBody,
    StepExecutionContext,
    WorkflowBuilder,
    WorkflowHost,
    WorkflowHostBuilder,
)
from wfe_core.builder import BranchBuilder
from wfe_core.definition import WorkflowDefinition

DEFINITION_ID = "fleet"
EVENT_NAME = "go"
#: The steps that record their runs, in the order a workflow reaches them (the two branches interleave).
RECORDED_STEPS = ("begin", "left-1", "left-2", "right-1", "right-2", "finish")


@dataclass
class Recorder:
    """Writes one row per step run; set in the host process only (the test process never runs steps)."""

    pool: AsyncConnectionPool
    table: sql.Composable
    host: str

    async def record(self, workflow_id: str, step: str) -> None:
        query = sql.SQL("INSERT INTO {} (workflow_id, step, host) VALUES (%s, %s, %s)").format(self.table)
        async with self.pool.connection() as conn:
            await conn.execute(query, (workflow_id, step, self.host))


recorder: Recorder | None = None


def runs_table(schema: str) -> sql.Composable:
    return sql.Identifier(schema, "step_runs")


def create_runs_table(schema: str) -> sql.Composed:
    """The statement creating the schema's run record (the test runs it before any host starts)."""
    return sql.SQL(
        "CREATE SCHEMA IF NOT EXISTS {schema}; CREATE TABLE {table} (id bigserial PRIMARY KEY,"
        " workflow_id text NOT NULL, step text NOT NULL, host text NOT NULL)"
    ).format(schema=sql.Identifier(schema), table=runs_table(schema))


class Record(StepBody):
    """Records that step ``step`` ran for this workflow on this host, then proceeds."""

    step = ""

    async def run(self, ctx: StepExecutionContext) -> ExecutionResult:
        if recorder is None:
            raise RuntimeError("steps of this workflow run only in a fleet_host.py process")
        await recorder.record(ctx.workflow.id, self.step)
        return ExecutionResult.next()


def _left(branch: BranchBuilder) -> None:
    branch.start_with(Record(step="left-1")).then(Record(step="left-2"))


def _right(branch: BranchBuilder) -> None:
    branch.start_with(Record(step="right-1")).delay(timedelta(milliseconds=300)).then(Record(step="right-2"))


def definition() -> WorkflowDefinition:
    """begin; (left-1, left-2) alongside (right-1, 300 ms delay, right-2); wait for ``go``; finish."""
    return (
        WorkflowBuilder()
        .start_with(Record(step="begin"))
        .parallel()
        .do(_left)
        .do(_right)
        .join()
        .wait_for(EVENT_NAME, lambda data: data["key"])
        .then(Record(step="finish"))
        .build(DEFINITION_ID, 1)
    )


def new_data() -> dict[str, str]:
    """A workflow's data: the key of the ``go`` event it waits for."""
    return {"key": uuid.uuid4().hex}


def build_host(config: dict[str, Any]) -> WorkflowHost:
    """A host on PostgreSQL (persistence) and Valkey (lock, queue, lifecycle hub), tuned by ``config``."""
    valkey, prefix = config["valkey_url"], config["prefix"]
    host = (
        WorkflowHostBuilder()
        # Small pools: the hosts share the server's connections with every other test running.
        .use_persistence(config["pg_url"], schema=config["schema"], max_pool_size=3)
        .use_lock(valkey, prefix=prefix)
        .use_queue(valkey, prefix=prefix, visibility_timeout=config.get("visibility_timeout", 5.0))
        .use_lifecycle_hub(valkey, prefix=prefix)
        .with_options(
            poll_interval=timedelta(seconds=config.get("poll_interval", 2.0)),
            lock_ttl=timedelta(seconds=config.get("lock_ttl", 3.0)),
            stop_timeout=timedelta(seconds=5),
        )
        .build()
    )
    host.register_workflow(definition())
    return host


def emit(line: dict[str, Any]) -> None:
    print(json.dumps(line), flush=True)


async def serve(config: dict[str, Any]) -> None:
    global recorder
    pool = AsyncConnectionPool(
        config["pg_url"], min_size=1, max_size=2, open=False, kwargs={"autocommit": True}
    )
    await pool.open()
    recorder = Recorder(pool=pool, table=runs_table(config["schema"]), host=config["name"])
    host = build_host(config)
    if config.get("print_events"):

        def show(event: LifecycleEvent) -> None:
            emit({"kind": event.kind, "workflow_id": event.workflow_id})

        host.on_lifecycle_event(show)
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    await host.start()
    try:
        for _ in range(config.get("start", 0)):
            emit({"started": await host.start_workflow(DEFINITION_ID, 1, new_data())})
        emit({"ready": config["name"]})
        await stopping.wait()
    finally:
        await host.stop()
        await pool.close()


if __name__ == "__main__":
    asyncio.run(serve(json.loads(sys.argv[1])))
