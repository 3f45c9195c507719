"""Outcome-based branching: decide/branch, outcome/when, attach (goto) and end_workflow."""

from __future__ import annotations

from pydantic import BaseModel

from wfe import ExecutionResult, StepExecutionContext, WorkflowBuilder, WorkflowCompleted, WorkflowStatus


class Choice(BaseModel):
    value: str = ""
    log: list[str] = []
    loops: int = 0


def note(label: str):
    def fn(ctx: StepExecutionContext) -> None:
        ctx.data.log.append(label)

    fn.__name__ = label
    return fn


async def test_decide_runs_only_the_matching_branch(make_host):
    definition = (
        WorkflowBuilder(Choice)
        .decide(lambda d: d.value)
        .branch("a", lambda b: b.then_fn(note("A")))
        .branch("b", lambda b: b.then_fn(note("B")).then_fn(note("B2")))
        .build("decide", 1)
    )
    host = await make_host(definition)
    a = await host.wait_for_workflow(await host.start_workflow("decide", 1, Choice(value="a")), timeout=10)
    b = await host.wait_for_workflow(await host.start_workflow("decide", 1, Choice(value="b")), timeout=10)
    assert a.data.log == ["A"]
    assert b.data.log == ["B", "B2"]


async def test_when_blocks_share_a_switch_and_then_runs_after_matching_blocks(make_host):
    definition = (
        WorkflowBuilder(Choice)
        .then_fn(lambda ctx: ExecutionResult.outcome(ctx.data.value))
        .when("x", lambda b: b.then_fn(note("X")).then_fn(note("X2")))
        .when("y", lambda b: b.then_fn(note("Y")))
        .then_fn(note("after"))
        .build("when", 1)
    )
    host = await make_host(definition)
    x = await host.wait_for_workflow(await host.start_workflow("when", 1, Choice(value="x")), timeout=10)
    y = await host.wait_for_workflow(await host.start_workflow("when", 1, Choice(value="y")), timeout=10)
    z = await host.wait_for_workflow(await host.start_workflow("when", 1, Choice(value="z")), timeout=10)
    assert x.data.log == ["X", "X2", "after"]
    assert y.data.log == ["Y", "after"]
    assert z.data.log == ["after"]


async def test_attach_jumps_back_to_a_step_by_id(make_host):
    def count(ctx: StepExecutionContext) -> ExecutionResult:
        ctx.data.loops += 1
        return ExecutionResult.outcome("again" if ctx.data.loops < 3 else "done")

    definition = (
        WorkflowBuilder(Choice)
        .then_fn(count)
        .id("top")
        .when("again", lambda b: b.then_fn(note("loop")).attach("top"))
        .build("attach", 1)
    )
    host = await make_host(definition)
    instance = await host.wait_for_workflow(await host.start_workflow("attach", 1, Choice()), timeout=10)
    assert instance.status is WorkflowStatus.COMPLETE
    assert instance.data.loops == 3
    assert instance.data.log == ["loop", "loop"]


async def test_end_workflow_completes_and_publishes_workflow_completed(make_host):
    definition = (
        WorkflowBuilder(Choice).then_fn(note("one")).end_workflow().then_fn(note("never")).build("end", 1)
    )
    host = await make_host(definition)
    completed: list[str] = []
    host.on_lifecycle_event(
        lambda e: completed.append(e.workflow_id) if isinstance(e, WorkflowCompleted) else None
    )
    wid = await host.start_workflow("end", 1, Choice())
    instance = await host.wait_for_workflow(wid, timeout=10)
    assert instance.status is WorkflowStatus.COMPLETE
    assert instance.complete_time is not None
    assert instance.data.log == ["one"]
    for _ in range(50):
        if completed:
            break
        await __import__("asyncio").sleep(0.02)
    assert completed == [wid]
