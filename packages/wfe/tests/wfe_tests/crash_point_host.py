"""The host process of the crash-point sweep: runs one scenario, and kills itself right after its Nth commit.

Usage: ``python crash_point_host.py URL SCHEMA LOG KILL_AT``. ``URL`` is the store (``sqlite:///...`` or
``postgresql://...``; ``SCHEMA`` is the PostgreSQL schema, "-" for SQLite). ``KILL_AT`` 0 runs the scenario to
its end; N > 0 sends this process SIGKILL as soon as the Nth write to the store has committed.

The scenario: a parent workflow waits for an event published before it started, then runs two branches in
parallel (one waits for an event the driver publishes only once that wait is stored, the other runs a
sub-workflow that waits for an event published before it existed), then a loop of three waits for "tick"
events all published up front, then a last step. Every process drives it idempotently: it
publishes what is missing and starts the parent if it does not exist, then waits until both instances completed.

The log (O_APPEND lines, whole or absent after SIGKILL): ``START <pointer> <label>`` as a step begins;
``COMMIT <n>`` after each commit, with ``ENDED <pointer>`` for each pointer the commit stored as ended (so a
step started after its end was committed ran again); ``COMPLETED <workflow>`` for each WorkflowCompleted
published; ``KILL`` is written by the test after each kill.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from wfe import StepExecutionContext, WorkflowBuilder, WorkflowCompleted, WorkflowHostBuilder, WorkflowStatus
from wfe_core.models import PointerStatus

PARENT = "sweep-parent"
CHILD = "sweep-child"
KEY = "sweep"
TICKS = 3
SINCE_EVER = datetime(2000, 1, 1, tzinfo=UTC)
"""The waits' as-of time: events published before the instances existed match them."""

WRITES = frozenset(
    {
        "create_workflow",
        "create_workflow_leased",
        "persist_workflow",
        "persist_workflow_released",
        "claim_workflow",
        "create_subscription",
        "terminate_subscription",
        "create_event",
        "mark_event_processed",
        "mark_event_unprocessed",
        "persist_errors",
        "set_subscription_token",
        "clear_subscription_token",
    }
)

_log_fd = -1


def _write(line: str) -> None:
    os.write(_log_fd, (line + "\n").encode())


class KillAfterCommits:
    """The store, with each committed write counted and logged, and this process killed after the Nth."""

    def __init__(self, inner: Any, kill_at: int) -> None:
        self._inner = inner
        self._kill_at = kill_at
        self._commits = 0

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if name not in WRITES:
            return attribute

        async def counted(*args: Any, **kwargs: Any) -> Any:
            result = await attribute(*args, **kwargs)
            self._commits += 1
            lines = [f"COMMIT {self._commits} {name}"]
            if name in ("persist_workflow", "persist_workflow_released"):
                instance = args[0]
                pointers = kwargs.get("pointers")
                written = instance.execution_pointers if pointers is None else pointers
                lines += [f"ENDED {p.id}" for p in written if p.end_time is not None]
            _write("\n".join(lines))
            if self._commits == self._kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return result

        return counted


def _record(label: str) -> Any:
    async def step(ctx: StepExecutionContext) -> None:
        _write(f"START {ctx.pointer.id} {label}")
        await asyncio.sleep(0)

    step.__name__ = label
    return step


def _tick(ctx: StepExecutionContext) -> None:
    _write(f"START {ctx.pointer.id} tick")
    ctx.data["count"] = ctx.data.get("count", 0) + 1


child = (
    WorkflowBuilder()
    .then_fn(_record("child-first"))
    .wait_for("child-go", KEY, SINCE_EVER)
    .then_fn(_record("child-last"))
    .build(CHILD, 1)
)

parent = (
    WorkflowBuilder()
    .then_fn(_record("first"))
    .wait_for("early", KEY, SINCE_EVER)
    .output("early", lambda step: step.event_data)
    .parallel()
    .do(lambda b: b.then_fn(_record("late-branch")).wait_for("late", KEY, SINCE_EVER))
    .do(lambda b: b.then_fn(_record("child-branch")).sub_workflow(CHILD))
    .join()
    .while_do(
        lambda data: data.get("count", 0) < TICKS,
        lambda b: (
            b.wait_for("tick", KEY, SINCE_EVER)
            .output("ticks", lambda step, data: [*data.get("ticks", []), step.event_data])
            .then_fn(_tick)
        ),
    )
    .then_fn(_record("last"))
    .build(PARENT, 1)
)


def _waits_for(instance: Any, name: str) -> bool:
    return any(
        p.status is PointerStatus.WAITING_FOR_EVENT and p.event_name == name
        for p in instance.execution_pointers
    )


async def _publish_missing(host: Any, name: str, payloads: list[Any]) -> None:
    """Publish the events of ``payloads`` not stored yet, in order (a kill may have stopped the last run)."""
    stored = await host.persistence.get_events(name, KEY, SINCE_EVER)
    for payload in payloads[len(stored) :]:
        await host.publish_event(name, KEY, payload)


async def main(url: str, schema: str, log: str, kill_at: int) -> None:
    global _log_fd
    _log_fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    options: dict[str, Any] = {} if schema == "-" else {"schema": schema}
    builder = WorkflowHostBuilder().use_persistence(url, **options)
    host = builder.build()
    # the same providers the URL gives, with the store's writes counted
    host = (
        WorkflowHostBuilder()
        .use_persistence(KillAfterCommits(host.persistence, kill_at))
        .use_lock(host.lock)
        .use_queue(host.queue)
        .with_options(poll_interval=timedelta(milliseconds=300), lock_ttl=timedelta(seconds=2))
        .build()
    )
    host.register_workflow(parent)
    host.register_workflow(child)
    host.on_lifecycle_event(
        lambda event: (
            _write(f"COMPLETED {event.workflow_id}") if isinstance(event, WorkflowCompleted) else None
        )
    )
    async with host:
        persistence = host.persistence
        await _publish_missing(host, "early", ["early"])
        await _publish_missing(host, "child-go", ["child-go"])
        await _publish_missing(host, "tick", list(range(TICKS)))
        if not await persistence.list_workflows(definition_id=PARENT):
            await host.start_workflow(PARENT, 1, {})
        while True:
            parents = await persistence.list_workflows(definition_id=PARENT)
            children = await persistence.list_workflows(definition_id=CHILD)
            if _waits_for(parents[0], "late"):
                await _publish_missing(host, "late", ["late"])
            if children and all(i.status is WorkflowStatus.COMPLETE for i in (*parents, *children)):
                return
            await asyncio.sleep(0.05)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
