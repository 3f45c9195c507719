"""Sub-workflows: the parent waits for the child; its final data is the step result; a failed child fails the
parent's step."""

from __future__ import annotations

from pydantic import BaseModel

from wfe import ErrorBehavior, StepExecutionContext, WorkflowBuilder, WorkflowStatus


class Parent(BaseModel):
    child: dict = {}
    n: int = 0


def child_definition():
    def double(ctx: StepExecutionContext) -> None:
        ctx.data["n"] = ctx.data.get("n", 0) * 2

    return WorkflowBuilder().then_fn(double).build("child", 1)


def failing_child():
    def fail(ctx: StepExecutionContext) -> None:
        raise RuntimeError("child broke")

    return WorkflowBuilder().then_fn(fail).on_error(ErrorBehavior.terminate()).build("bad-child", 1)


async def test_parent_receives_the_childs_final_data(make_host):
    parent = (
        WorkflowBuilder(Parent)
        .sub_workflow("child", data_fn=lambda data, ctx: {"n": data.n})
        .output("child", lambda step: step.result)
        .build("parent", 1)
    )
    host = await make_host(parent, child_definition())
    wid = await host.start_workflow("parent", 1, Parent(n=21))
    done = await host.wait_for_workflow(wid, timeout=10)
    assert done.status is WorkflowStatus.COMPLETE
    assert done.data.child == {"n": 42}
    children = [i for i in await host.persistence.list_workflows(definition_id="child")]
    assert len(children) == 1
    assert children[0].parent_workflow_id == wid and children[0].root_workflow_id == wid


async def test_failed_child_fails_the_parent_step(make_host):
    parent = (
        WorkflowBuilder(Parent)
        .sub_workflow("bad-child")
        .on_error(ErrorBehavior.suspend())
        .build("parent-of-bad", 1)
    )
    host = await make_host(parent, failing_child())
    wid = await host.start_workflow("parent-of-bad", 1, Parent())
    suspended = await host.wait_for_workflow(wid, timeout=10, statuses=[WorkflowStatus.SUSPENDED])
    assert suspended.status is WorkflowStatus.SUSPENDED
    errors = await host.get_errors(wid)
    assert any("ChildWorkflowFailedError" in e.message and "Terminated" in e.message for e in errors)
