"""The builder's ``.config()``, ``ExecutionResult.output_data`` and ``.when(condition)`` on a step."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from wfe import (
    ExecutionResult,
    PointerStatus,
    StepBody,
    StepExecutionContext,
    WorkflowBuilder,
    WorkflowStatus,
)
from wfe_core.errors import DefinitionError
from wfe_core.models import ErrorBehavior


class Greet(StepBody):
    async def run(self, ctx: StepExecutionContext) -> ExecutionResult:
        return ExecutionResult.next({"greeting": f"{ctx.config['word']}, {ctx.config['who']}"})


async def test_config_is_the_steps_static_configuration(make_host):
    definition = (
        WorkflowBuilder()
        .start_with(Greet)
        .config({"word": "hello", "who": "world"})
        .then(Greet)
        .config({"word": "bye", "who": "moon"})
        .output("last", lambda step, data: data["greeting"])
        .build("config", 1)
    )
    host = await make_host(definition)
    done = await host.wait_for_workflow(await host.start_workflow("config", 1, {}), timeout=10)
    assert done.status is WorkflowStatus.COMPLETE
    assert done.data == {"greeting": "bye, moon", "last": "bye, moon"}


def test_config_defaults_to_empty_and_refuses_a_non_mapping():
    builder = WorkflowBuilder().start_with(Greet)
    assert builder.step.config == {}
    with pytest.raises(DefinitionError, match="takes a dict"):
        builder.config(["not", "a", "dict"])  # type: ignore[arg-type]


async def test_output_data_is_shallow_merged_into_dict_data(make_host):
    definition = (
        WorkflowBuilder()
        .then_fn(lambda ctx: ExecutionResult.next({"a": 1, "nested": {"x": 1}}))
        .then_fn(lambda ctx: ExecutionResult.outcome("go", {"nested": {"y": 2}, "b": [ctx.data["a"]]}))
        .build("merge-dict", 1)
    )
    host = await make_host(definition)
    done = await host.wait_for_workflow(
        await host.start_workflow("merge-dict", 1, {"keep": True, "a": 0}), timeout=10
    )
    assert done.data == {"keep": True, "a": 1, "nested": {"y": 2}, "b": [1]}


class Order(BaseModel):
    id: str = ""
    total: int = 0
    tags: list[str] = []


async def test_output_data_sets_and_validates_the_fields_of_model_data(make_host):
    definition = (
        WorkflowBuilder(Order)
        .then_fn(lambda ctx: ExecutionResult.next({"total": "42", "tags": ["paid"]}))
        .then_fn(lambda ctx: ExecutionResult.next({"id": f"order-{ctx.data.total + 1}"}))
        .build("merge-model", 1)
    )
    host = await make_host(definition)
    done = await host.wait_for_workflow(await host.start_workflow("merge-model", 1, Order()), timeout=10)
    assert done.data == Order(id="order-43", total=42, tags=["paid"])


class Loose(BaseModel):
    model_config = ConfigDict(extra="allow")
    known: int = 0


async def test_output_data_may_add_keys_to_a_model_that_allows_extra_fields(make_host):
    definition = (
        WorkflowBuilder(Loose)
        .then_fn(lambda ctx: ExecutionResult.next({"known": 1, "other": "x"}))
        .build("merge-extra", 1)
    )
    host = await make_host(definition)
    done = await host.wait_for_workflow(await host.start_workflow("merge-extra", 1, Loose()), timeout=10)
    assert done.data.known == 1
    assert done.data.model_extra == {"other": "x"}


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ({"nope": 1}, "nope are not fields of Order"),
        ({"total": "many"}, "does not fit Order"),
        (["total", 1], "must be a dict"),
    ],
)
async def test_output_data_the_model_refuses_fails_the_step(make_host, output: Any, message: str):
    definition = (
        WorkflowBuilder(Order)
        .then_fn(lambda ctx: ExecutionResult(proceed=True, output_data=output))
        .on_error(ErrorBehavior.terminate())
        .build("merge-refused", 1)
    )
    host = await make_host(definition)
    wid = await host.start_workflow("merge-refused", 1, Order(total=7))
    done = await host.wait_for_workflow(wid, timeout=10)
    assert done.status is WorkflowStatus.TERMINATED
    assert done.data == Order(total=7)  # nothing merged
    errors = await host.get_errors(wid)
    assert any(message in e.message for e in errors), [e.message for e in errors]


async def test_output_data_of_a_step_that_does_not_proceed_is_not_merged(make_host):
    def sleepy(ctx: StepExecutionContext) -> ExecutionResult:
        if ctx.persistence_data is None:
            result = ExecutionResult.persist({"again": True})
            result.output_data = {"early": True}
            return result
        return ExecutionResult.next({"late": True})

    definition = WorkflowBuilder().then_fn(sleepy).build("merge-later", 1)
    host = await make_host(definition)
    done = await host.wait_for_workflow(await host.start_workflow("merge-later", 1, {}), timeout=10)
    assert done.data == {"late": True}


class Flags(BaseModel):
    run_b: bool = False
    log: list[str] = []


def note(label: str):
    def fn(ctx: StepExecutionContext) -> None:
        ctx.data.log.append(label)

    fn.__name__ = label
    return fn


async def test_when_condition_skips_a_step_and_the_workflow_goes_on(make_host):
    definition = (
        WorkflowBuilder(Flags)
        .then_fn(note("a"))
        .then_fn(note("b"))
        .when(lambda data: data.run_b)
        .output("log", lambda step, data: [*data.log, "b-output"])
        .then_fn(note("c"))
        .build("when-cond", 1)
    )
    host = await make_host(definition)
    skipped_id = await host.start_workflow("when-cond", 1, Flags())
    skipped = await host.wait_for_workflow(skipped_id, timeout=10)
    ran = await host.wait_for_workflow(
        await host.start_workflow("when-cond", 1, Flags(run_b=True)), timeout=10
    )
    assert skipped.status is WorkflowStatus.COMPLETE
    assert skipped.data.log == ["a", "c"]
    assert ran.data.log == ["a", "b", "b-output", "c"]
    b_pointer = next(p for p in skipped.execution_pointers if p.step_name == "b")
    assert b_pointer.status is PointerStatus.SKIPPED


async def test_when_condition_sees_the_data_as_it_is_when_the_step_is_reached(make_host):
    definition = (
        WorkflowBuilder(Flags)
        .then_fn(lambda ctx: ExecutionResult.next({"run_b": True}))
        .then_fn(note("b"))
        .when(lambda data, ctx: data.run_b and ctx.step.name == "b")
        .build("when-late", 1)
    )
    host = await make_host(definition)
    done = await host.wait_for_workflow(await host.start_workflow("when-late", 1, Flags()), timeout=10)
    assert done.data.log == ["b"]


async def test_when_condition_on_a_container_skips_its_branch(make_host):
    definition = (
        WorkflowBuilder(Flags)
        .for_each(lambda data: ["x", "y"], lambda b: b.then_fn(note("item")))
        .when(lambda data: data.run_b)
        .then_fn(note("after"))
        .build("when-container", 1)
    )
    host = await make_host(definition)
    skipped = await host.wait_for_workflow(
        await host.start_workflow("when-container", 1, Flags()), timeout=10
    )
    ran = await host.wait_for_workflow(
        await host.start_workflow("when-container", 1, Flags(run_b=True)), timeout=10
    )
    assert skipped.data.log == ["after"]
    assert ran.data.log == ["item", "item", "after"]


async def test_a_when_condition_that_raises_fails_the_step(make_host):
    definition = (
        WorkflowBuilder(Flags)
        .then_fn(note("b"))
        .when(lambda data: 1 / 0)
        .on_error(ErrorBehavior.terminate())
        .build("when-raises", 1)
    )
    host = await make_host(definition)
    wid = await host.start_workflow("when-raises", 1, Flags())
    done = await host.wait_for_workflow(wid, timeout=10)
    assert done.status is WorkflowStatus.TERMINATED
    assert done.data.log == []
    assert any("division by zero" in e.message for e in await host.get_errors(wid))


def test_when_without_a_branch_needs_a_condition():
    with pytest.raises(DefinitionError, match="takes a condition"):
        WorkflowBuilder().then_fn(note("a")).when("value")


async def test_when_condition_is_not_checked_again_when_the_step_is_retried(make_host):
    runs: list[int] = []

    def flaky(ctx: StepExecutionContext) -> None:
        runs.append(ctx.pointer.retry_count)
        ctx.data.run_b = False  # the condition would now be false
        if len(runs) < 2:
            raise RuntimeError("once")
        ctx.data.log.append("b")

    definition = (
        WorkflowBuilder(Flags)
        .then_fn(flaky)
        .when(lambda data: data.run_b)
        .on_error(ErrorBehavior.retry(timedelta(milliseconds=10), max_retries=2))
        .build("when-retry", 1)
    )
    host = await make_host(definition)
    done = await host.wait_for_workflow(
        await host.start_workflow("when-retry", 1, Flags(run_b=True)), timeout=10
    )
    assert runs == [0, 1]
    assert done.data.log == ["b"]
