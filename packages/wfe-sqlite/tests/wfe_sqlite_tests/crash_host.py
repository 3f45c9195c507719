"""The host process the crash-recovery test kills: runs the test's workflows on a SQLite file until all complete.

Usage: ``python crash_host.py DATABASE LOG``. Every step run appends ``START <workflow> <label>`` to LOG when it
begins and ``DONE <workflow> <label>`` when it ends (O_APPEND writes, so a line is whole or absent after
SIGKILL), and every completion ``COMPLETE <workflow>``.
On each start it creates the workflows that do not exist yet, publishes the "go" event for instances waiting
for it, and exits 0 once all are COMPLETE.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
from datetime import timedelta
from typing import Any

from wfe import (
    ExecutionResult,
    PointerStatus,
    StepBody,
    StepExecutionContext,
    WorkflowBuilder,
    WorkflowHostBuilder,
    WorkflowInstance,
    WorkflowStatus,
)

WORKFLOWS = 50
DEFINITION = "crash-recovery"
LABELS = ("a", "b", "c", "d", "e")
MAX_CONCURRENT_WORKFLOWS = 4

_log_fd = -1


def _write(line: str) -> None:
    os.write(_log_fd, (line + "\n").encode())


class Record(StepBody):
    """Records its start, works a little (so kills land mid-step), then records its end."""

    label = ""

    async def run(self, ctx: StepExecutionContext) -> ExecutionResult:
        _write(f"START {ctx.workflow.id} {self.label}")
        await asyncio.sleep(random.uniform(0.1, 0.5))
        _write(f"DONE {ctx.workflow.id} {self.label}")
        return ExecutionResult.next()


def _label(value: str) -> Any:
    return lambda data, ctx: value


definition = (
    WorkflowBuilder()
    .start_with(Record)
    .input("label", _label("a"))
    .then(Record)
    .input("label", _label("b"))
    .delay(timedelta(seconds=3))
    .then(Record)
    .input("label", _label("c"))
    .wait_for("go", lambda data, ctx: ctx.workflow.id)
    .then(Record)
    .input("label", _label("d"))
    .then(Record)
    .input("label", _label("e"))
    .build(DEFINITION, 1)
)


async def _completed(instance: WorkflowInstance) -> None:
    _write(f"COMPLETE {instance.id}")


def _waits_for_go(instance: WorkflowInstance) -> bool:
    return any(
        p.status is PointerStatus.WAITING_FOR_EVENT and p.event_name == "go"
        for p in instance.execution_pointers
    )


async def main(database: str, log: str) -> None:
    global _log_fd
    _log_fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    host = (
        WorkflowHostBuilder()
        .use_persistence(f"sqlite:///{database}?visibility_timeout=3")
        .with_options(
            poll_interval=timedelta(seconds=1),
            lock_ttl=timedelta(seconds=2),
            max_concurrent_workflows=MAX_CONCURRENT_WORKFLOWS,
        )
        .use_workflow_middleware("post", _completed)
        .build()
    )
    host.register_workflow(definition)
    async with host:
        persistence = host.persistence
        existing = {
            w.reference for w in await persistence.list_workflows(definition_id=DEFINITION, take=1000)
        }
        for number in range(WORKFLOWS):
            if f"wf-{number}" not in existing:
                await host.start_workflow(DEFINITION, 1, {}, reference=f"wf-{number}")
        while True:
            instances = await persistence.list_workflows(definition_id=DEFINITION, take=1000)
            if len(instances) == WORKFLOWS and all(i.status is WorkflowStatus.COMPLETE for i in instances):
                return
            for instance in instances:
                if _waits_for_go(instance) and not await persistence.get_events(
                    "go", instance.id, instance.create_time
                ):
                    await host.publish_event("go", instance.id, {"by": os.getpid()})
            await asyncio.sleep(0.2)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
