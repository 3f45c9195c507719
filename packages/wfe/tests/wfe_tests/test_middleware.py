"""Workflow middleware (pre, execute, post) and step middleware (first registered is outermost)."""

from __future__ import annotations

from wfe import StepExecutionContext, WorkflowBuilder, WorkflowStatus


async def test_middleware_phases_and_step_wrapping_order(make_host):
    calls: list[str] = []

    def step(ctx: StepExecutionContext) -> None:
        calls.append("step")

    async def outer(ctx, body, next_):
        calls.append("outer-before")
        result = await next_()
        calls.append("outer-after")
        return result

    async def inner(ctx, body, next_):
        calls.append("inner-before")
        result = await next_()
        calls.append("inner-after")
        return result

    def configure(builder) -> None:
        builder.use_step_middleware(outer).use_step_middleware(inner)
        builder.use_workflow_middleware("pre", lambda i: calls.append("pre"))
        builder.use_workflow_middleware("post", lambda i: calls.append("post"))

    definition = WorkflowBuilder().then_fn(step).build("mw", 1)
    host = await make_host(definition, configure=configure)
    wid = await host.start_workflow("mw")
    done = await host.wait_for_workflow(wid, timeout=5)
    assert done.status is WorkflowStatus.COMPLETE
    assert calls[0] == "pre"
    assert calls[1:6] == ["outer-before", "inner-before", "step", "inner-after", "outer-after"]
    assert calls.count("post") == 1


async def test_pre_workflow_middleware_error_reaches_the_caller(make_host):
    def refuse(instance) -> None:
        raise PermissionError("not allowed")

    definition = WorkflowBuilder().then_fn(lambda ctx: None).build("pre-fail", 1)
    host = await make_host(definition, configure=lambda b: b.use_workflow_middleware("pre", refuse))
    try:
        await host.start_workflow("pre-fail")
        raise AssertionError("expected PermissionError")
    except PermissionError:
        pass
