"""cancel_condition: a step (and its subtree) is cancelled once its condition holds."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel

from wfe import PointerStatus, StepExecutionContext, WorkflowBuilder, WorkflowStatus


class Flag(BaseModel):
    cancel: bool = False
    log: list[str] = []


async def test_waiting_step_is_cancelled_and_the_workflow_moves_on_when_proceed_is_set(make_host):
    definition = (
        WorkflowBuilder(Flag)
        .parallel()
        .do(lambda b: b.wait_for("approve", "k").cancel_condition(lambda d: d.cancel, proceed=True))
        .do(lambda b: b.wait_for("cancel", "k").output("cancel", lambda s: True))
        .join()
        .then_fn(lambda ctx: ctx.data.log.append("after"))
        .build("cancel", 1)
    )
    host = await make_host(definition)
    wid = await host.start_workflow("cancel", 1, Flag())
    await asyncio.sleep(0.2)
    await host.publish_event("cancel", "k")
    done = await host.wait_for_workflow(wid, timeout=5)
    assert done.status is WorkflowStatus.COMPLETE
    assert done.data.log == ["after"]
    cancelled = [p for p in done.execution_pointers if p.status is PointerStatus.CANCELLED]
    assert [p.step_name for p in cancelled] == ["wait_for:approve"]


async def test_cancelling_a_container_cancels_its_subtree_without_proceeding(make_host):
    def loop_body(ctx: StepExecutionContext) -> None:
        ctx.data.log.append("tick")
        if len(ctx.data.log) >= 3:
            ctx.data.cancel = True

    definition = (
        WorkflowBuilder(Flag)
        .while_do(lambda d: True, lambda b: b.then_fn(loop_body))
        .cancel_condition(lambda d: d.cancel)
        .then_fn(lambda ctx: ctx.data.log.append("never"))
        .build("cancel-loop", 1)
    )
    host = await make_host(definition)
    done = await host.wait_for_workflow(await host.start_workflow("cancel-loop", 1, Flag()), timeout=5)
    assert done.status is WorkflowStatus.COMPLETE
    assert done.data.log == ["tick", "tick", "tick"]
