"""Steps in sequence: inputs, outputs, inline steps, sync steps, and the data they share."""

from __future__ import annotations

import threading
from typing import Any

from pydantic import BaseModel

from wfe import (
    ErrorBehavior,
    ExecutionResult,
    StepBody,
    StepExecutionContext,
    WorkflowBuilder,
    WorkflowStatus,
)


class Counter(BaseModel):
    message: str = ""
    count: int = 0
    trail: list[str] = []


class Greet(StepBody):
    name: str = ""
    greeting: str = ""

    async def run(self, ctx: StepExecutionContext) -> ExecutionResult:
        self.greeting = f"hello {self.name}"
        return ExecutionResult.next()


class SyncStep(StepBody):
    thread: str = ""

    def run(self, ctx: StepExecutionContext) -> None:
        self.thread = threading.current_thread().name


async def test_inputs_and_outputs_flow_through_model_data(make_host):
    definition = (
        WorkflowBuilder(Counter)
        .start_with(Greet)
        .input("name", lambda data, ctx: data.message)
        .output("message", lambda step: step.greeting)
        .then_fn(lambda ctx: ExecutionResult.next())
        .output("count", lambda step: 7)
        .end_workflow()
        .build("greet", 1)
    )
    host = await make_host(definition)
    wid = await host.start_workflow("greet", 1, Counter(message="world"))
    instance = await host.wait_for_workflow(wid, timeout=10)
    assert instance.status is WorkflowStatus.COMPLETE
    assert instance.data.message == "hello world"
    assert instance.data.count == 7
    assert isinstance(instance.data, Counter)


async def test_dict_data_when_no_type_is_given(make_host):
    definition = (
        WorkflowBuilder()
        .start_with(Greet)
        .input("name", lambda d: d["who"])
        .output("greeting", lambda s: s.greeting)
        .build("dict-data", 1)
    )
    host = await make_host(definition)
    wid = await host.start_workflow("dict-data", data={"who": "dict"})
    instance = await host.wait_for_workflow(wid, timeout=10)
    assert instance.data == {"who": "dict", "greeting": "hello dict"}


async def test_inline_step_returning_none_means_next_and_async_inline_steps_work(make_host):
    seen: list[str] = []

    async def second(ctx: StepExecutionContext) -> None:
        seen.append("async")

    definition = (
        WorkflowBuilder()
        .start_with(Greet)
        .then_fn(lambda ctx: seen.append("sync"))
        .then_fn(second)
        .build("inline", 1)
    )
    host = await make_host(definition)
    wid = await host.start_workflow("inline")
    await host.wait_for_workflow(wid, timeout=10)
    assert seen == ["sync", "async"]


async def test_plain_def_run_executes_in_a_worker_thread(make_host):
    definition = WorkflowBuilder().start_with(SyncStep).output("thread", lambda s: s.thread).build("sync", 1)
    host = await make_host(definition)
    wid = await host.start_workflow("sync")
    instance = await host.wait_for_workflow(wid, timeout=10)
    assert instance.data["thread"] != threading.main_thread().name


async def test_names_count_per_definition_and_verbs_accept_them(make_host):
    definition = WorkflowBuilder().start_with(Greet).build("named", 1)
    host = await make_host(definition)
    first = await host.start_workflow("named")
    second = await host.start_workflow("named")
    await host.wait_for_workflow(second, timeout=10)
    assert (await host.get_workflow(first)).name == "named-1"
    by_name = await host.get_workflow("named-2")
    assert by_name.id == second


async def test_latest_version_is_started_when_none_is_given(make_host):
    v1 = WorkflowBuilder().start_with(Greet).output("v", lambda s: 1).build("versioned", 1)
    v2 = WorkflowBuilder().start_with(Greet).output("v", lambda s: 2).build("versioned", 2)
    host = await make_host(v1, v2)
    wid = await host.start_workflow("versioned")
    instance = await host.wait_for_workflow(wid, timeout=10)
    assert instance.version == 2 and instance.data["v"] == 2
    old = await host.wait_for_workflow(await host.start_workflow("versioned", 1), timeout=10)
    assert old.data["v"] == 1


async def test_idempotency_key_is_stable_per_pointer(make_host):
    keys: list[str] = []

    def record(ctx: StepExecutionContext) -> ExecutionResult | None:
        keys.append(ctx.idempotency_key)
        if len(keys) < 2:
            return ExecutionResult.persist({"again": True})
        return None

    definition = WorkflowBuilder().start_with(Greet).then_fn(record).build("idem", 1)
    host = await make_host(definition)
    await host.wait_for_workflow(await host.start_workflow("idem"), timeout=10)
    assert len(keys) == 2 and keys[0] == keys[1]


class ReturnsText(StepBody):
    async def run(self, ctx: StepExecutionContext) -> ExecutionResult:
        return "done"  # type: ignore[return-value]


class ReturnsAwaitable(StepBody):
    run_in_thread = False

    def run(self, ctx: StepExecutionContext) -> Any:
        async def later() -> ExecutionResult:
            return ExecutionResult.next()

        return later()


class AsyncReturnsAwaitable(StepBody):
    async def run(self, ctx: StepExecutionContext) -> Any:
        async def later() -> ExecutionResult:
            return ExecutionResult.outcome("later")

        return later()


async def test_a_step_returning_something_else_than_a_result_fails_with_what_it_returned(make_host):
    definition = (
        WorkflowBuilder()
        .start_with(ReturnsText)
        .name("texty")
        .on_error(ErrorBehavior.terminate())
        .build("returns-text", 1)
    )
    host = await make_host(definition)
    wid = await host.start_workflow("returns-text")
    instance = await host.wait_for_workflow(wid, timeout=10, statuses=[WorkflowStatus.TERMINATED])
    assert [e.step_name for e in instance.errors] == ["texty"]
    assert "step 'texty' returned str, not ExecutionResult" in instance.errors[0].message


async def test_a_result_returned_as_an_awaitable_is_awaited(make_host):
    seen: list[Any] = []
    definition = (
        WorkflowBuilder()
        .start_with(ReturnsAwaitable)
        .then(AsyncReturnsAwaitable)
        .then_fn(lambda ctx: seen.append(ctx.workflow.pointer(ctx.pointer.predecessor_id or "").outcome))
        .build("returns-awaitable", 1)
    )
    host = await make_host(definition)
    wid = await host.start_workflow("returns-awaitable")
    instance = await host.wait_for_workflow(wid, timeout=10)
    assert instance.status is WorkflowStatus.COMPLETE
    assert seen == ["later"]
