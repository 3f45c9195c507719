"""Lifecycle events: kinds, fields, order within an instance, sync and async subscribers."""

from __future__ import annotations

import asyncio

from wfe import (
    ErrorBehavior,
    StepCompleted,
    StepExecutionContext,
    StepStarted,
    WaitingForEvent,
    WorkflowBuilder,
    WorkflowCompleted,
    WorkflowError,
    WorkflowStarted,
    WorkflowSuspended,
)


async def settle(events: list, kind: type, count: int = 1) -> None:
    for _ in range(250):
        if sum(isinstance(e, kind) for e in events) >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never saw {count} {kind.__name__}")


async def test_events_arrive_in_order_with_their_fields(make_host):
    definition = WorkflowBuilder().then_fn(lambda ctx: None).wait_for("go", "k").build("life", 1)
    host = await make_host(definition)
    sync_seen: list = []
    async_seen: list = []

    async def on_async(event) -> None:
        async_seen.append(event)

    host.on_lifecycle_event(sync_seen.append)
    host.on_lifecycle_event(on_async)
    wid = await host.start_workflow("life", reference="order-7")
    await settle(sync_seen, WaitingForEvent)
    await host.publish_event("go", "k")
    await host.wait_for_workflow(wid, timeout=5)
    await settle(sync_seen, WorkflowCompleted)
    mine = [e for e in sync_seen if e.workflow_id == wid]
    kinds = [type(e).__name__ for e in mine]
    assert kinds == [
        "WorkflowStarted",
        "StepStarted",
        "StepCompleted",
        "StepStarted",
        "WaitingForEvent",
        "StepStarted",
        "StepCompleted",
        "WorkflowCompleted",
    ]
    assert all(e.reference == "order-7" and e.definition_id == "life" and e.version == 1 for e in mine)
    step_events = [e for e in mine if isinstance(e, StepStarted | StepCompleted)]
    assert all(e.pointer_id and e.step_id in (0, 1) for e in step_events)
    assert isinstance(mine[0], WorkflowStarted)
    await settle(async_seen, WorkflowCompleted)
    assert [type(e) for e in async_seen if e.workflow_id == wid] == [type(e) for e in mine]


async def test_step_errors_publish_workflow_error_and_suspended(make_host):
    def fail(ctx: StepExecutionContext) -> None:
        raise KeyError("missing")

    definition = WorkflowBuilder().then_fn(fail).on_error(ErrorBehavior.suspend()).build("errs", 1)
    host = await make_host(definition)
    seen: list = []
    host.on_lifecycle_event(seen.append)
    wid = await host.start_workflow("errs")
    await settle(seen, WorkflowSuspended)
    errors = [e for e in seen if isinstance(e, WorkflowError) and e.workflow_id == wid]
    assert len(errors) == 1 and "KeyError" in errors[0].message and errors[0].step_id == 0


async def test_async_iterator_yields_events(make_host):
    definition = WorkflowBuilder().then_fn(lambda ctx: None).build("iter", 1)
    host = await make_host(definition)
    stream = host.lifecycle_events()
    received: list = []

    async def consume() -> None:
        async for event in stream:
            received.append(event)
            if isinstance(event, WorkflowCompleted):
                return

    task = asyncio.create_task(consume())
    await asyncio.sleep(0)
    await host.start_workflow("iter")
    await asyncio.wait_for(task, 5)
    assert isinstance(received[0], WorkflowStarted)
    assert isinstance(received[-1], WorkflowCompleted)
