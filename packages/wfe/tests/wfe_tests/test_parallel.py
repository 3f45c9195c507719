"""Parallel branches run concurrently; their results are applied in a deterministic order."""

from __future__ import annotations

import asyncio
import time

from wfe import ExecutionResult, StepBody, StepExecutionContext, WorkflowBuilder, WorkflowStatus


class Sleep1s(StepBody):
    async def run(self, ctx: StepExecutionContext) -> ExecutionResult:
        await asyncio.sleep(1.0)
        return ExecutionResult.next()


class BlockingSleep1s(StepBody):
    def run(self, ctx: StepExecutionContext) -> None:
        time.sleep(1.0)


async def test_two_one_second_branches_finish_in_about_one_second(make_host):
    definition = (
        WorkflowBuilder()
        .start_with(lambda: StepBody())
        .parallel()
        .do(lambda b: b.start_with(Sleep1s))
        .do(lambda b: b.start_with(Sleep1s))
        .join()
        .then_fn(lambda ctx: None)
        .build("par", 1)
    )
    host = await make_host(definition)
    started = time.monotonic()
    wid = await host.start_workflow("par")
    instance = await host.wait_for_workflow(wid, timeout=10)
    elapsed = time.monotonic() - started
    assert instance.status is WorkflowStatus.COMPLETE
    assert elapsed < 1.5, f"parallel branches took {elapsed:.2f}s"


async def test_sync_steps_in_parallel_branches_run_in_threads_concurrently(make_host):
    definition = (
        WorkflowBuilder()
        .parallel()
        .do(lambda b: b.start_with(BlockingSleep1s))
        .do(lambda b: b.start_with(BlockingSleep1s))
        .join()
        .build("par-sync", 1)
    )
    host = await make_host(definition)
    started = time.monotonic()
    await host.wait_for_workflow(await host.start_workflow("par-sync"), timeout=10)
    assert time.monotonic() - started < 1.5


async def test_step_after_join_runs_once_after_every_branch(make_host):
    order: list[str] = []

    def mark(label: str):
        def fn(ctx: StepExecutionContext) -> None:
            order.append(label)

        return fn

    definition = (
        WorkflowBuilder()
        .parallel()
        .do(lambda b: b.then_fn(mark("a1")).then_fn(mark("a2")))
        .do(lambda b: b.then_fn(mark("b1")))
        .join()
        .then_fn(mark("after"))
        .build("join", 1)
    )
    host = await make_host(definition)
    await host.wait_for_workflow(await host.start_workflow("join"), timeout=10)
    assert order[-1] == "after" and order.count("after") == 1
    assert sorted(order[:-1]) == ["a1", "a2", "b1"]
    assert order.index("a1") < order.index("a2")


async def test_branch_outputs_are_applied_in_pointer_order(make_host):
    class Put(StepBody):
        value: str = ""

        async def run(self, ctx: StepExecutionContext) -> None:
            await asyncio.sleep(0.2 if self.value == "first" else 0.0)

    definition = (
        WorkflowBuilder()
        .parallel()
        .do(
            lambda b: (
                b.start_with(Put).input("value", lambda d: "first").output("log.first", lambda s: s.value)
            )
        )
        .do(
            lambda b: (
                b.start_with(Put).input("value", lambda d: "second").output("log.second", lambda s: s.value)
            )
        )
        .join()
        .build("ordered", 1)
    )
    host = await make_host(definition)
    instance = await host.wait_for_workflow(await host.start_workflow("ordered"), timeout=10)
    assert list(instance.data["log"]) == ["first", "second"]
