"""Compilation onto the core builder: wiring, hooks, error behaviours, conditions, and real runs on a host."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from wfe import PointerStatus, WorkflowHostBuilder, WorkflowStatus
from wfe_core.models import ErrorKind
from wfe_core.primitives import Sequence, SubWorkflow
from wfe_core.step import StepBody
from wfe_yaml import CompiledWorkflow, load_workflow_from_str, register_step_type, unregister_step_type
from wfe_yaml.compiler import ConditionalStep
from wfe_yaml.shell import ShellStep


def compile_one(steps: str, header: str = "") -> CompiledWorkflow:
    text = f"workflow:\n  id: wf\n  version: 1\n{header}  steps:\n{steps}"
    [compiled] = load_workflow_from_str(text)
    return compiled


def shell(name: str, run: str = "true", indent: int = 4, extra: str = "") -> str:
    pad = " " * indent
    return f"{pad}- name: {name}\n{pad}  type: shell\n{pad}  config: {{run: '{run}'}}\n{extra}"


async def run_workflows(*compiled: CompiledWorkflow, data: dict[str, Any] | None = None) -> Any:
    host = WorkflowHostBuilder().build()
    for workflow in compiled:
        host.register_workflow(workflow)
    async with host:
        workflow_id = await host.start_workflow(compiled[0].id, compiled[0].version, data or {})
        return await host.wait_for_workflow(workflow_id, timeout=timedelta(seconds=60))


def test_sequential_steps_are_chained_in_order() -> None:
    definition = compile_one(shell("a") + shell("b")).definition
    a, b = definition.step_by_external_id("a"), definition.step_by_external_id("b")
    assert a is not None and b is not None
    assert [o.next_step for o in a.outcomes] == [b.id]
    assert definition.steps[0] is a
    assert isinstance(a.create_body(), ShellStep)
    assert a.config == {"run": "true"}


def test_parallel_children_start_together_and_are_not_chained() -> None:
    steps = (
        "    - name: group\n      parallel:\n" + shell("x", indent=8) + shell("y", indent=8) + shell("after")
    )
    definition = compile_one(steps).definition
    group = definition.step_by_external_id("group")
    assert group is not None and group.factory is Sequence
    children = [definition.step(i) for i in group.children]
    assert [c.name for c in children] == ["x", "y"]
    assert all(c.outcomes == [] for c in children)
    after = definition.step_by_external_id("after")
    assert after is not None and [o.next_step for o in group.outcomes] == [after.id]


def test_error_behaviors_map_onto_the_core() -> None:
    steps = (
        shell("a", extra="      error_behavior: {type: retry, interval: 5s, max_retries: 10}\n")
        + shell("b", extra="      error_behavior: {type: retry, interval: '500'}\n")
        + shell("c", extra="      error_behavior: {type: retry, interval: 2m}\n")
        + shell("d", extra="      error_behavior: {type: terminate}\n")
        + shell("e", extra="      error_behavior: {type: compensate}\n")
    )
    definition = compile_one(steps, header="  error_behavior: {type: suspend}\n").definition
    behaviors = {n: definition.step_by_external_id(n).error_behavior for n in "abcde"}  # type: ignore[union-attr]
    assert behaviors["a"] is not None and behaviors["a"].interval == timedelta(seconds=5)
    assert behaviors["a"].max_retries == 10
    assert behaviors["b"] is not None and behaviors["b"].interval == timedelta(milliseconds=500)
    assert behaviors["b"].max_retries == 3
    assert behaviors["c"] is not None and behaviors["c"].interval == timedelta(minutes=2)
    # terminate and compensate: the step fails for good at once (its hooks run, then the run fails)
    assert behaviors["d"] is None and behaviors["e"] is None
    assert definition.default_error_behavior.kind is ErrorKind.TERMINATE
    # a step that says nothing takes the workflow's behaviour, set on the step itself
    steps += shell("f")
    plain = compile_one(steps, header="  error_behavior: {type: suspend}\n").definition.step_by_external_id(
        "f"
    )
    assert plain is not None and plain.error_behavior is not None
    assert plain.error_behavior.kind is ErrorKind.SUSPEND


def test_without_error_behavior_a_failure_fails_the_run_at_once() -> None:
    definition = compile_one(shell("a")).definition
    assert definition.default_error_behavior.kind is ErrorKind.TERMINATE
    step = definition.step_by_external_id("a")
    assert step is not None and step.error_behavior is None


def test_description_and_name_are_kept() -> None:
    compiled = compile_one(shell("a"), header="  name: Nice name\n  description: does things\n")
    assert compiled.definition.description == "does things"
    assert compiled.name == "Nice name"


def test_when_wraps_the_step_in_a_condition() -> None:
    extra = "      when: {field: .outputs.go, equals: true}\n"
    step = compile_one(shell("a", extra=extra)).definition.step_by_external_id("a")
    assert step is not None
    body = step.create_body()
    assert isinstance(body, ConditionalStep) and isinstance(body.inner, ShellStep)


def test_workflow_steps_start_the_child() -> None:
    steps = "    - name: call\n      type: workflow\n      config: {workflow: child, workflow_version: 3}\n"
    step = compile_one(steps).definition.step_by_external_id("call")
    assert step is not None
    body = step.create_body()
    assert isinstance(body, SubWorkflow) and (body.definition_id, body.version) == ("child", 3)


def test_hooks_compile_to_a_group_with_compensation() -> None:
    hook = "      on_failure:\n        name: undo\n        type: shell\n        config: {run: 'true'}\n"
    definition = compile_one(shell("a", extra=hook)).definition
    main = definition.step_by_external_id("a")
    assert main is not None and main.error_behavior is None  # fails through its group's failure path
    group = next(s for s in definition.steps if main.id in s.children)
    assert group.name == "a:body" and group.compensation_step_id is not None
    outer = next(s for s in definition.steps if group.id in s.children)
    assert outer.name == "a:hooks"
    compensation = definition.step(group.compensation_step_id)
    assert compensation.name == "a:failure"
    [branch] = compensation.children
    assert definition.step(branch).name == "undo"
    fail = definition.step(definition.step(branch).outcomes[0].next_step)  # type: ignore[arg-type]
    assert fail.name == "a:fail" and fail.error_behavior is not None
    assert fail.error_behavior.kind is ErrorKind.TERMINATE


async def test_outputs_flow_into_later_steps_as_data() -> None:
    steps = shell("produce", run='echo "##wfe[output count=41]"') + shell(
        "consume", run='echo "##wfe[output next=$((COUNT + 1))]"'
    )
    instance = await run_workflows(compile_one(steps))
    assert instance.status is WorkflowStatus.COMPLETE
    assert instance.data["count"] == 41 and instance.data["next"] == 42
    assert instance.data["produce.stdout"] == "##wfe[output count=41]\n"


async def test_parallel_children_really_run_concurrently(tmp_path: Path) -> None:
    def waiter(me: str, other: str) -> str:
        return (
            f"touch {tmp_path}/{me}; i=0; while [ ! -f {tmp_path}/{other} ]; do i=$((i+1)); "
            f"[ $i -gt 200 ] && exit 1; sleep 0.05; done"
        )

    steps = (
        "    - name: both\n      parallel:\n"
        + shell("x", waiter("x", "y"), 8)
        + shell("y", waiter("y", "x"), 8)
    )
    steps += "      error_behavior: {type: terminate}\n"
    instance = await run_workflows(compile_one(steps))
    assert instance.status is WorkflowStatus.COMPLETE


async def test_false_when_skips_the_step_and_continues() -> None:
    steps = (
        shell("first", run='echo "##wfe[output go=false]"')
        + shell(
            "maybe",
            run='echo "##wfe[output ran=true]"',
            extra="      when: {field: .outputs.go, equals: true}\n",
        )
        + shell("last", run='echo "##wfe[output last=true]"')
    )
    instance = await run_workflows(compile_one(steps))
    assert instance.status is WorkflowStatus.COMPLETE
    assert "ran" not in instance.data and instance.data["last"] is True
    [maybe] = [p for p in instance.execution_pointers if p.step_name == "maybe"]
    assert maybe.status is PointerStatus.SKIPPED
    [first] = [p for p in instance.execution_pointers if p.step_name == "first"]
    assert first.status is PointerStatus.COMPLETE


def hooks(on_success: bool = True, on_failure: bool = True, ensure: bool = True) -> str:
    text = ""
    for key, flag, output in (
        ("on_success", on_success, "ok"),
        ("on_failure", on_failure, "undone"),
        ("ensure", ensure, "cleaned"),
    ):
        if flag:
            text += (
                f"      {key}:\n        name: {key}-hook\n        type: shell\n"
                f"        config: {{run: 'echo \"##wfe[output {output}=true]\"'}}\n"
            )
    return text


async def test_success_runs_on_success_then_ensure_then_the_next_step() -> None:
    steps = shell("work", extra=hooks()) + shell("next", run='echo "##wfe[output next=true]"')
    instance = await run_workflows(compile_one(steps))
    assert instance.status is WorkflowStatus.COMPLETE
    assert {k: instance.data.get(k) for k in ("ok", "undone", "cleaned", "next")} == {
        "ok": True,
        "undone": None,
        "cleaned": True,
        "next": True,
    }


def outputs(instance: Any, *keys: str) -> dict[str, Any]:
    return {k: instance.data.get(k) for k in keys}


def ran(instance: Any, name: str) -> list[Any]:
    return [p for p in instance.execution_pointers if p.step_name == name and p.start_time is not None]


async def test_failure_runs_on_failure_then_ensure_once_then_fails_the_run() -> None:
    steps = shell("work", run="exit 3", extra=hooks()) + shell("next", run='echo "##wfe[output next=true]"')
    instance = await run_workflows(compile_one(steps))
    assert instance.status is WorkflowStatus.TERMINATED
    assert outputs(instance, "ok", "undone", "cleaned", "next") == {
        "ok": None,
        "undone": True,
        "cleaned": True,
        "next": None,
    }
    assert len(ran(instance, "ensure-hook")) == 1
    assert not ran(instance, "next")


@pytest.mark.parametrize(
    ("step_behavior", "workflow_behavior"),
    [
        ("      error_behavior: {type: terminate}\n", ""),
        ("      error_behavior: {type: compensate}\n", ""),
        ("", "  error_behavior: {type: terminate}\n"),
        ("", "  error_behavior: {type: compensate}\n"),
        ("", ""),
    ],
)
async def test_a_step_failing_for_good_runs_on_failure_and_ensure_then_fails_the_run(
    step_behavior: str, workflow_behavior: str
) -> None:
    steps = shell("work", run="exit 3", extra=step_behavior + hooks(on_success=False)) + shell(
        "next", run='echo "##wfe[output next=true]"'
    )
    instance = await run_workflows(compile_one(steps, header=workflow_behavior))
    assert instance.status is WorkflowStatus.TERMINATED
    assert outputs(instance, "undone", "cleaned", "next") == {"undone": True, "cleaned": True, "next": None}
    [work] = ran(instance, "work")
    assert work.retry_count == 0


async def test_continue_on_error_runs_the_hooks_and_goes_on() -> None:
    extra = "      continue_on_error: true\n" + hooks(on_success=False)
    steps = shell("work", run="exit 3", extra=extra) + shell("next", run='echo "##wfe[output next=true]"')
    instance = await run_workflows(compile_one(steps))
    assert instance.status is WorkflowStatus.COMPLETE
    assert outputs(instance, "undone", "cleaned", "next") == {"undone": True, "cleaned": True, "next": True}
    [work] = ran(instance, "work")
    assert work.status is PointerStatus.FAILED
    assert len(ran(instance, "ensure-hook")) == 1


async def test_a_failing_parallel_child_fails_its_parent_through_the_parents_hooks() -> None:
    steps = (
        "    - name: checks\n      parallel:\n"
        + shell("lint", indent=8)
        + shell("tests", run="exit 1", indent=8)
        + hooks(on_success=False)
        + shell("next", run='echo "##wfe[output next=true]"')
    )
    instance = await run_workflows(compile_one(steps))
    assert instance.status is WorkflowStatus.TERMINATED
    assert outputs(instance, "undone", "cleaned", "next") == {"undone": True, "cleaned": True, "next": None}


async def test_a_nested_step_with_hooks_hands_its_failure_to_the_enclosing_step() -> None:
    child = (
        "        - name: inner\n          config: {run: 'exit 1'}\n"
        "          on_failure:\n            name: inner-undo\n"
        "            config: {run: 'echo \"##wfe[output inner_undone=true]\"'}\n"
    )
    steps = "    - name: outer\n      parallel:\n" + child + hooks(on_success=False)
    instance = await run_workflows(compile_one(steps))
    assert instance.status is WorkflowStatus.TERMINATED
    assert outputs(instance, "inner_undone", "undone", "cleaned") == {
        "inner_undone": True,
        "undone": True,
        "cleaned": True,
    }


async def test_retries_come_from_the_file_and_then_the_run_fails() -> None:
    steps = shell("work", run="exit 3", extra=hooks(on_success=False)) + shell("next")
    header = "  error_behavior: {type: retry, interval: 10ms, max_retries: 2}\n"
    instance = await run_workflows(compile_one(steps, header=header))
    assert instance.status is WorkflowStatus.TERMINATED
    [work] = ran(instance, "work")
    assert work.retry_count == 2
    assert outputs(instance, "undone", "cleaned") == {"undone": True, "cleaned": True}


async def test_ensure_alone_runs_after_a_failure_for_good() -> None:
    steps = shell(
        "work",
        run="exit 3",
        extra="      error_behavior: {type: retry, interval: 10ms, max_retries: 1}\n"
        + hooks(on_success=False, on_failure=False),
    )
    instance = await run_workflows(compile_one(steps))
    assert instance.status is WorkflowStatus.TERMINATED
    assert instance.data.get("cleaned") is True
    work = [p for p in instance.execution_pointers if p.step_name == "work"]
    assert work and work[0].retry_count == 1


async def test_nonzero_exit_with_terminate_terminates_the_workflow() -> None:
    steps = shell("fail", run="exit 1", extra="      error_behavior: {type: terminate}\n") + shell("never")
    instance = await run_workflows(compile_one(steps))
    assert instance.status is WorkflowStatus.TERMINATED
    assert not any(p.step_name == "never" for p in instance.execution_pointers)


async def test_sub_workflow_outputs_are_selected_by_the_step_outputs() -> None:
    text = """\
workflows:
  - id: parent
    version: 1
    steps:
      - name: call
        type: workflow
        config: {workflow: child, workflow_version: 1}
        outputs:
          - name: result
      - name: show
        type: shell
        config: {run: 'echo "##wfe[output seen=$RESULT]"'}
  - id: child
    version: 1
    steps:
      - name: compute
        type: shell
        config: {run: 'echo "##wfe[output result=$((BASE * 2))]"; echo "##wfe[output private=1]"'}
"""
    parent, child = load_workflow_from_str(text)
    instance = await run_workflows(parent, child, data={"base": 21})
    assert instance.status is WorkflowStatus.COMPLETE
    assert instance.data["result"] == 42 and instance.data["seen"] == 42
    assert "private" not in instance.data


async def test_a_skipped_step_runs_none_of_its_hooks() -> None:
    when_false = "      when: {field: .outputs.go, equals: true}\n"
    steps = (
        shell("first", run='echo "##wfe[output go=false]"')
        + shell("work", run='echo "##wfe[output worked=true]"', extra=when_false + hooks())
        + shell("next", run='echo "##wfe[output next=true]"')
    )
    instance = await run_workflows(compile_one(steps))
    assert instance.status is WorkflowStatus.COMPLETE
    assert {k: instance.data.get(k) for k in ("worked", "ok", "undone", "cleaned", "next")} == {
        "worked": None,
        "ok": None,
        "undone": None,
        "cleaned": None,
        "next": True,
    }


async def test_a_guarded_step_with_hooks_runs_them_when_the_condition_holds() -> None:
    when_true = "      when: {field: .outputs.go, equals: true}\n"
    steps = shell("first", run='echo "##wfe[output go=true]"') + shell("work", extra=when_true + hooks())
    instance = await run_workflows(compile_one(steps))
    assert instance.status is WorkflowStatus.COMPLETE
    assert instance.data.get("ok") is True and instance.data.get("cleaned") is True


class ThreadRecordingStep(StepBody):
    """A plain (blocking) step body: records the thread it ran on."""

    def __init__(self) -> None:
        self.outputs: dict[str, Any] = {}

    def run(self, ctx: Any) -> None:
        self.outputs = {"thread": threading.get_ident()}


class ThreadRecordingType:
    name = "record-thread"

    def validate(self, config: Mapping[str, Any], *, step_name: str) -> list[str]:
        return []

    def create(self, config: Mapping[str, Any], *, step_name: str, workflow_id: str) -> StepBody:
        return ThreadRecordingStep()


async def test_a_guarded_blocking_plugin_step_runs_in_a_worker_thread() -> None:
    register_step_type("record-thread", ThreadRecordingType())
    try:
        steps = (
            "    - name: rec\n      type: record-thread\n      config: {}\n"
            "      when: {field: .outputs.go, is_null: true}\n"
        )
        instance = await run_workflows(compile_one(steps))
    finally:
        unregister_step_type("record-thread")
    assert instance.status is WorkflowStatus.COMPLETE
    assert instance.data["thread"] != threading.get_ident()
