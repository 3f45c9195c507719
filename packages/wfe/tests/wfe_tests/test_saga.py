"""Sagas and compensation: the reference scenarios of workflow-core plus resume behaviour."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel

from wfe import ErrorBehavior, PointerStatus, StepExecutionContext, WorkflowBuilder, WorkflowStatus


class Log(BaseModel):
    events: list[str] = []
    attempts: int = 0


def note(label: str):
    def fn(ctx: StepExecutionContext) -> None:
        ctx.data.events.append(label)

    fn.__name__ = label
    return fn


def boom(label: str):
    def fn(ctx: StepExecutionContext) -> None:
        ctx.data.events.append(label)
        raise RuntimeError(f"{label} failed")

    fn.__name__ = label
    return fn


async def test_saga_second_step_failure_compensates_step_then_first_then_saga_and_continues(make_host):
    definition = (
        WorkflowBuilder(Log)
        .then_fn(note("start"))
        .saga(
            lambda s: (
                s.then_fn(note("s1"))
                .compensate_with(note("undo-s1"))
                .then_fn(boom("s2"))
                .compensate_with(note("undo-s2"))
                .then_fn(note("s3"))
            )
        )
        .compensate_with(note("undo-saga"))
        .then_fn(note("tail"))
        .build("saga", 1)
    )
    host = await make_host(definition)
    instance = await host.wait_for_workflow(await host.start_workflow("saga", 1, Log()), timeout=10)
    assert instance.status is WorkflowStatus.COMPLETE
    assert instance.data.events == ["start", "s1", "s2", "undo-s2", "undo-s1", "undo-saga", "tail"]


async def test_four_step_saga_compensates_in_reverse_completion_order(make_host):
    definition = (
        WorkflowBuilder(Log)
        .saga(
            lambda s: (
                s.then_fn(note("1"))
                .compensate_with(note("c1"))
                .then_fn(note("2"))
                .compensate_with(note("c2"))
                .then_fn(note("3"))
                .compensate_with(note("c3"))
                .then_fn(boom("4"))
                .compensate_with(note("c4"))
            )
        )
        .build("saga4", 1)
    )
    host = await make_host(definition)
    instance = await host.wait_for_workflow(await host.start_workflow("saga4", 1, Log()), timeout=10)
    assert [e for e in instance.data.events if e.startswith("c")] == ["c4", "c3", "c2", "c1"]


async def test_retrying_saga_reruns_from_its_first_step(make_host):
    def flaky(ctx: StepExecutionContext) -> None:
        ctx.data.attempts += 1
        ctx.data.events.append("s2")
        if ctx.data.attempts <= 2:
            raise RuntimeError("not yet")

    definition = (
        WorkflowBuilder(Log)
        .saga(
            lambda s: (
                s.then_fn(note("s1")).compensate_with(note("c1")).then_fn(flaky).compensate_with(note("c2"))
            )
        )
        .on_error(ErrorBehavior.retry(interval=timedelta(milliseconds=50), max_retries=5))
        .then_fn(note("after"))
        .build("saga-retry", 1)
    )
    host = await make_host(definition)
    instance = await host.wait_for_workflow(await host.start_workflow("saga-retry", 1, Log()), timeout=10)
    assert instance.status is WorkflowStatus.COMPLETE
    assert instance.data.events.count("s1") == 3
    assert instance.data.events.count("c1") == 2
    assert instance.data.events.count("c2") == 2
    assert instance.data.events[-1] == "after"


async def test_saga_without_own_compensation_ends_failed_and_skips_following_steps(make_host):
    definition = (
        WorkflowBuilder(Log)
        .saga(lambda s: s.then_fn(note("s1")).compensate_with(note("c1")).then_fn(boom("s2")))
        .then_fn(note("never"))
        .build("saga-fail", 1)
    )
    host = await make_host(definition)
    instance = await host.wait_for_workflow(await host.start_workflow("saga-fail", 1, Log()), timeout=10)
    assert "never" not in instance.data.events
    assert instance.data.events == ["s1", "s2", "c1"]
    saga_pointer = next(p for p in instance.execution_pointers if p.step_name == "saga")
    assert saga_pointer.status is PointerStatus.FAILED


async def test_compensate_with_outside_saga_resumes_after_the_step(make_host):
    definition = (
        WorkflowBuilder(Log)
        .then_fn(boom("charge"))
        .compensate_with(note("refund"))
        .then_fn(note("next"))
        .build("comp", 1)
    )
    host = await make_host(definition)
    instance = await host.wait_for_workflow(await host.start_workflow("comp", 1, Log()), timeout=10)
    assert instance.data.events == ["charge", "refund", "next"]


async def test_compensate_with_sequence_runs_every_step_of_the_sequence(make_host):
    definition = (
        WorkflowBuilder(Log)
        .saga(
            lambda s: (
                s.then_fn(note("s1"))
                .compensate_with_sequence(lambda c: c.then_fn(note("c1a")).then_fn(note("c1b")))
                .then_fn(boom("s2"))
            )
        )
        .compensate_with(note("undo-saga"))
        .build("comp-seq", 1)
    )
    host = await make_host(definition)
    instance = await host.wait_for_workflow(await host.start_workflow("comp-seq", 1, Log()), timeout=10)
    assert instance.data.events == ["s1", "s2", "c1a", "c1b", "undo-saga"]
