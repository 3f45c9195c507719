"""if_do, while_do and for_each (parallel and sequential)."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel

from wfe import ExecutionResult, StepBody, StepExecutionContext, WorkflowBuilder, WorkflowStatus


class Loop(BaseModel):
    counter: int = 0
    items: list[str] = []
    seen: list[str] = []
    flag: bool = False


class Increment(StepBody):
    async def run(self, ctx: StepExecutionContext) -> ExecutionResult:
        ctx.data.counter += 1
        return ExecutionResult.next()


class Record(StepBody):
    async def run(self, ctx: StepExecutionContext) -> ExecutionResult:
        ctx.data.seen.append(str(ctx.item))
        return ExecutionResult.next()


async def test_if_runs_branch_once_only_when_condition_holds(make_host):
    definition = (
        WorkflowBuilder(Loop)
        .start_with(Increment)
        .if_do(lambda d: d.flag, lambda b: b.start_with(Increment).then(Increment))
        .then(Increment)
        .build("if", 1)
    )
    host = await make_host(definition)
    yes = await host.wait_for_workflow(await host.start_workflow("if", 1, Loop(flag=True)), timeout=10)
    no = await host.wait_for_workflow(await host.start_workflow("if", 1, Loop(flag=False)), timeout=10)
    assert yes.data.counter == 4
    assert no.data.counter == 2


async def test_while_repeats_until_condition_fails_and_rechecks_after_each_iteration(make_host):
    definition = (
        WorkflowBuilder(Loop)
        .while_do(lambda d: d.counter < 5, lambda b: b.start_with(Increment).then(Increment))
        .then_fn(lambda ctx: None)
        .build("while", 1)
    )
    host = await make_host(definition)
    instance = await host.wait_for_workflow(await host.start_workflow("while", 1, Loop()), timeout=10)
    assert instance.status is WorkflowStatus.COMPLETE
    assert instance.data.counter == 6  # 0→2→4→6: checked before each iteration


async def test_foreach_parallel_branches_see_their_item_in_every_step(make_host):
    items_seen: list[tuple[str, str]] = []

    def second(ctx: StepExecutionContext) -> None:
        items_seen.append(("second", str(ctx.item)))

    definition = (
        WorkflowBuilder(Loop)
        .for_each(lambda d: d.items, lambda b: b.start_with(Record).then_fn(second))
        .build("foreach", 1)
    )
    host = await make_host(definition)
    instance = await host.wait_for_workflow(
        await host.start_workflow("foreach", 1, Loop(items=["a", "b", "c"])), timeout=10
    )
    assert sorted(instance.data.seen) == ["a", "b", "c"]
    assert sorted(items_seen) == [("second", "a"), ("second", "b"), ("second", "c")]


async def test_foreach_parallel_runs_items_concurrently(make_host):
    class Slow(StepBody):
        async def run(self, ctx: StepExecutionContext) -> None:
            await asyncio.sleep(0.5)

    definition = (
        WorkflowBuilder().for_each(lambda d: [1, 2, 3, 4], lambda b: b.start_with(Slow)).build("fe-par", 1)
    )
    host = await make_host(definition)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await host.wait_for_workflow(await host.start_workflow("fe-par"), timeout=10)
    assert loop.time() - started < 1.4


async def test_foreach_sequential_runs_one_item_after_another_in_order(make_host):
    log: list[str] = []

    class Step(StepBody):
        async def run(self, ctx: StepExecutionContext) -> None:
            log.append(f"start {ctx.item}")
            await asyncio.sleep(0.05)
            log.append(f"end {ctx.item}")

    definition = (
        WorkflowBuilder()
        .for_each(lambda d: ["x", "y", "z"], lambda b: b.start_with(Step), parallel=False)
        .build("fe-seq", 1)
    )
    host = await make_host(definition)
    await host.wait_for_workflow(await host.start_workflow("fe-seq"), timeout=10)
    assert log == ["start x", "end x", "start y", "end y", "start z", "end z"]


async def test_foreach_over_empty_collection_proceeds(make_host):
    definition = (
        WorkflowBuilder(Loop)
        .for_each(lambda d: [], lambda b: b.start_with(Record))
        .then(Increment)
        .build("fe-0", 1)
    )
    host = await make_host(definition)
    instance = await host.wait_for_workflow(await host.start_workflow("fe-0", 1, Loop()), timeout=10)
    assert instance.data.counter == 1 and instance.data.seen == []


async def test_nested_containers(make_host):
    definition = (
        WorkflowBuilder(Loop)
        .for_each(
            lambda d: ["a", "b"],
            lambda b: b.if_do(lambda d: True, lambda inner: inner.start_with(Record).then(Increment)),
        )
        .then(Increment)
        .build("nested", 1)
    )
    host = await make_host(definition)
    instance = await host.wait_for_workflow(await host.start_workflow("nested", 1, Loop()), timeout=10)
    assert sorted(instance.data.seen) == ["a", "b"]
    assert instance.data.counter == 3
