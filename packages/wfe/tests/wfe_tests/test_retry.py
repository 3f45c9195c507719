"""Bounded retries, backoff, suspend and terminate behaviours, and resuming after a fix."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel

from wfe import ErrorBehavior, PointerStatus, StepExecutionContext, WorkflowBuilder, WorkflowStatus


class State(BaseModel):
    runs: int = 0
    retry_counts: list[int] = []
    fixed: bool = False


FAST = timedelta(milliseconds=20)


def failing(ctx: StepExecutionContext) -> None:
    ctx.data.runs += 1
    ctx.data.retry_counts.append(ctx.pointer.retry_count)
    raise ValueError("down")


async def test_retry_runs_max_retries_plus_one_times_then_suspends(make_host):
    fixed = {"ok": False}

    def step(ctx: StepExecutionContext) -> None:
        ctx.data.runs += 1
        ctx.data.retry_counts.append(ctx.pointer.retry_count)
        if not fixed["ok"]:
            raise ValueError("dependency down")

    definition = (
        WorkflowBuilder(State)
        .then_fn(step)
        .on_error(ErrorBehavior.retry(interval=FAST, max_retries=2))
        .then_fn(lambda ctx: None)
        .build("retry", 1)
    )
    host = await make_host(definition)
    wid = await host.start_workflow("retry", 1, State())
    suspended = await host.wait_for_workflow(wid, timeout=10, statuses=[WorkflowStatus.SUSPENDED])
    assert suspended.data.runs == 3
    assert suspended.data.retry_counts == [0, 1, 2]
    failed = [p for p in suspended.execution_pointers if p.status is PointerStatus.FAILED]
    assert len(failed) == 1
    errors = await host.get_errors(wid)
    assert len(errors) == 3 and "ValueError: dependency down" in errors[0].message

    fixed["ok"] = True
    assert await host.resume_workflow(wid) is True
    done = await host.wait_for_workflow(wid, timeout=10)
    assert done.status is WorkflowStatus.COMPLETE
    assert done.data.runs == 4


async def test_definition_default_error_behavior_applies(make_host):
    definition = (
        WorkflowBuilder(State)
        .then_fn(failing)
        .build("default-eb", 1, default_error_behavior=ErrorBehavior.retry(interval=FAST, max_retries=1))
    )
    host = await make_host(definition)
    wid = await host.start_workflow("default-eb", 1, State())
    instance = await host.wait_for_workflow(wid, timeout=10, statuses=[WorkflowStatus.SUSPENDED])
    assert instance.data.runs == 2


async def test_suspend_behavior_suspends_immediately(make_host):
    definition = (
        WorkflowBuilder(State).then_fn(failing).on_error(ErrorBehavior.suspend()).build("suspend-eb", 1)
    )
    host = await make_host(definition)
    wid = await host.start_workflow("suspend-eb", 1, State())
    instance = await host.wait_for_workflow(wid, timeout=10, statuses=[WorkflowStatus.SUSPENDED])
    assert instance.data.runs == 1


async def test_terminate_behavior_terminates(make_host):
    definition = (
        WorkflowBuilder(State).then_fn(failing).on_error(ErrorBehavior.terminate()).build("term-eb", 1)
    )
    host = await make_host(definition)
    instance = await host.wait_for_workflow(await host.start_workflow("term-eb", 1, State()), timeout=10)
    assert instance.status is WorkflowStatus.TERMINATED
    assert instance.complete_time is not None


async def test_exponential_backoff_grows_the_interval(make_host):
    behavior = ErrorBehavior.retry(
        interval=timedelta(seconds=1), max_retries=5, backoff=2.0, max_interval=timedelta(seconds=3)
    )
    assert [behavior.retry_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [1.0, 2.0, 3.0, 3.0]


async def test_unbounded_retries_keep_going(make_host):
    def flaky(ctx: StepExecutionContext) -> None:
        ctx.data.runs += 1
        if ctx.data.runs < 6:
            raise ValueError("flaky")

    definition = (
        WorkflowBuilder(State)
        .then_fn(flaky)
        .on_error(ErrorBehavior.retry(interval=FAST, max_retries=None))
        .build("unbounded", 1)
    )
    host = await make_host(definition)
    instance = await host.wait_for_workflow(await host.start_workflow("unbounded", 1, State()), timeout=10)
    assert instance.status is WorkflowStatus.COMPLETE and instance.data.runs == 6
