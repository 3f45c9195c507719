"""A host process for the kill-and-freeze test, and the workflow it runs.

Run as a script (``python freeze_host.py CONFIG_JSON``), it starts one host on PostgreSQL (persistence, queue and
lock from one URL, with the host's name as ``application_name`` so the database can tell the hosts apart), starts
``config["start"]`` workflows, prints ``{"started": id}`` for each and then ``{"ready": name}`` as JSON lines, and
runs until SIGTERM (a clean stop) or SIGKILL (a crash). Its log goes to ``config["log"]``.

Every step run writes two rows to ``{schema}.step_runs`` keyed by ``ctx.idempotency_key``: ``start`` before the
step's work and ``end`` after it, so the test sees which steps were in flight when a host died or froze. Both
carry ``began``, the ``time.monotonic()`` at which the step's body began, and ``at``, the one at which the row
was sent: Linux's monotonic clock is the machine's, so the test can place a step before or after the moment it
froze the host, even when the frozen host could only send the row after it was thawed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from wfe import (
    ExecutionResult,
    StepBody,
    StepExecutionContext,
    WorkflowBuilder,
    WorkflowHost,
    WorkflowHostBuilder,
)
from wfe_core.builder import BranchBuilder
from wfe_core.definition import WorkflowDefinition

DEFINITION_ID = "kill-and-freeze"
EVENT_NAME = "go"
RECORDED_STEPS = ("begin", "left-1", "left-2", "right-1", "right-2", "finish")
"""The steps that record their runs; each runs once per workflow (the two branches interleave)."""
STEP_SECONDS = 0.25
"""How long a step works: long enough that a host always has steps in flight when it is killed or frozen."""
EVENTS_AS_OF = datetime(2000, 1, 1, tzinfo=UTC)
"""The wait accepts events published at any time, also before the workflow got there."""


@dataclass
class Recorder:
    """Writes the step-run rows; set in the host process only."""

    pool: AsyncConnectionPool
    table: sql.Composable
    host: str

    async def record(self, ctx: StepExecutionContext, step: str, phase: str, began: float) -> None:
        query = sql.SQL(
            "INSERT INTO {} (idempotency_key, workflow_id, step, host, phase, began, at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)"
        ).format(self.table)
        at = time.monotonic()
        async with self.pool.connection() as conn:
            await conn.execute(
                query, (ctx.idempotency_key, ctx.workflow.id, step, self.host, phase, began, at)
            )


recorder: Recorder | None = None


def runs_table(schema: str) -> sql.Composable:
    return sql.Identifier(schema, "step_runs")


def create_runs_table(schema: str) -> sql.Composed:
    """The statement creating the step-run record (the test runs it before any host starts)."""
    return sql.SQL(
        "CREATE TABLE {table} (seq bigserial PRIMARY KEY, idempotency_key text NOT NULL,"
        " workflow_id text NOT NULL, step text NOT NULL, host text NOT NULL, phase text NOT NULL,"
        " began double precision NOT NULL, at double precision NOT NULL)"
    ).format(table=runs_table(schema))


class Work(StepBody):
    """Records its start, works for ``STEP_SECONDS``, records its end, then proceeds."""

    step = ""

    async def run(self, ctx: StepExecutionContext) -> ExecutionResult:
        if recorder is None:
            raise RuntimeError("steps of this workflow run only in a freeze_host.py process")
        began = time.monotonic()
        await recorder.record(ctx, self.step, "start", began)
        await asyncio.sleep(STEP_SECONDS)
        await recorder.record(ctx, self.step, "end", began)
        return ExecutionResult.next()


def _left(branch: BranchBuilder) -> None:
    branch.start_with(Work(step="left-1")).then(Work(step="left-2"))


def _right(branch: BranchBuilder) -> None:
    branch.start_with(Work(step="right-1")).delay(timedelta(milliseconds=300)).then(Work(step="right-2"))


def definition() -> WorkflowDefinition:
    """begin; (left-1, left-2) alongside (right-1, 300 ms delay, right-2); wait for ``go`` keyed by the
    workflow's id; finish."""
    return (
        WorkflowBuilder()
        .start_with(Work(step="begin"))
        .parallel()
        .do(_left)
        .do(_right)
        .join()
        .wait_for(EVENT_NAME, lambda data, ctx: ctx.workflow.id, EVENTS_AS_OF)
        .then(Work(step="finish"))
        .build(DEFINITION_ID, 1)
    )


LOCK_TTL = timedelta(seconds=2)
POLL_INTERVAL = timedelta(seconds=1)
VISIBILITY_TIMEOUT = 3


def with_query(url: str, **params: object) -> str:
    extra = "&".join(f"{k}={v}" for k, v in params.items())
    return f"{url}{'&' if '?' in url else '?'}{extra}"


def build_host(config: dict[str, Any]) -> WorkflowHost:
    """A host on PostgreSQL alone, with a short lease so a frozen host loses it quickly."""
    url = with_query(config["pg_url"], application_name=config["name"], visibility_timeout=VISIBILITY_TIMEOUT)
    host = (
        WorkflowHostBuilder()
        .use_persistence(url, schema=config["schema"])
        .with_options(
            poll_interval=POLL_INTERVAL,
            lock_ttl=LOCK_TTL,
            max_concurrent_workflows=16,
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
    logging.basicConfig(
        filename=config["log"], level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    pool = AsyncConnectionPool(
        with_query(config["pg_url"], application_name=f"{config['name']}_steps"),
        min_size=1,
        max_size=8,
        open=False,
        kwargs={"autocommit": True},
    )
    await pool.open()
    recorder = Recorder(pool=pool, table=runs_table(config["schema"]), host=config["name"])
    host = build_host(config)
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    await host.start()
    try:
        for _ in range(config["start"]):
            emit({"started": await host.start_workflow(DEFINITION_ID, 1, {})})
        emit({"ready": config["name"]})
        await stopping.wait()
    finally:
        await host.stop()
        await pool.close()


if __name__ == "__main__":
    asyncio.run(serve(json.loads(sys.argv[1])))
