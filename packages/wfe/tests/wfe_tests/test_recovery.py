"""Safety nets: the poller finds runnable work whose wake-up was lost; stop() waits for running steps."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from wfe import (
    ExecutionPointer,
    StepExecutionContext,
    StepStarted,
    WorkflowBuilder,
    WorkflowInstance,
    WorkflowStatus,
)


async def test_poller_runs_an_instance_nobody_queued(make_host):
    definition = WorkflowBuilder().then_fn(lambda ctx: None).build("orphan", 1)
    host = await make_host(definition, poll_interval=timedelta(milliseconds=200))
    now = host.clock.now()
    orphan = WorkflowInstance(
        workflow_definition_id="orphan",
        version=1,
        data={},
        next_execution=now,
        create_time=now,
        execution_pointers=[ExecutionPointer(step_id=0)],
    )
    wid = await host.persistence.create_workflow(orphan)  # stored, never queued: like a host that died
    done = await host.wait_for_workflow(wid, timeout=5)
    assert done.status is WorkflowStatus.COMPLETE


async def test_stop_waits_for_running_steps_and_persists_their_results(make_host):
    started = asyncio.Event()
    finished: list[bool] = []

    async def slow(ctx: StepExecutionContext) -> None:
        started.set()
        await asyncio.sleep(0.5)
        finished.append(True)

    definition = WorkflowBuilder().then_fn(slow).delay(timedelta(hours=1)).build("graceful", 1)
    host = await make_host(definition)
    step_starts: list[int] = []
    host.on_lifecycle_event(lambda e: step_starts.append(e.step_id) if isinstance(e, StepStarted) else None)
    wid = await host.start_workflow("graceful")
    await asyncio.wait_for(started.wait(), 5)
    await host.stop()
    assert finished == [True]
    assert step_starts == [0], "no new step starts once stop() has begun"
    await host.start()  # a host can be started again after stop()
    instance = await host.get_workflow(wid)
    first = next(p for p in instance.execution_pointers if p.step_id == 0)
    assert first.end_time is not None, (
        "the step that was running when stop() was called completed and was saved"
    )


async def test_stop_right_after_start_workflow_returns_promptly(make_host):
    definition = WorkflowBuilder().then_fn(lambda ctx: None).delay(timedelta(hours=1)).build("quick-stop", 1)
    for _ in range(3):
        host = await make_host(definition)
        await host.start_workflow("quick-stop")
        await asyncio.wait_for(host.stop(), 15)
